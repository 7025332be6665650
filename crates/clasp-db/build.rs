//! `embed_migrations!` reads `../../migrations` at compile time but cargo does not
//! know it: without this, a new migration folder would not trigger a rebuild.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
