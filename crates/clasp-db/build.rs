//! `embed_migrations!` reads `../../migrations/{sqlite,postgres}` at compile time
//! but cargo does not know it: without this, a new migration folder would not
//! trigger a rebuild. (Cargo scans a watched directory recursively.)

fn main() {
    println!("cargo:rerun-if-changed=../../migrations/sqlite");
    println!("cargo:rerun-if-changed=../../migrations/postgres");
}
