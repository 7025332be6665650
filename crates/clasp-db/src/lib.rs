//! # clasp-db
//!
//! Adapters of Clasp's metadata ports (`AttachmentRepository`, `IdentityStore`)
//! over diesel and diesel-async. [`SqliteStore`] keeps everything in one SQLite
//! file (bundled libsqlite3, WAL), the embedded default of `clasp serve`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), clasp_db::DbError> {
//! let store = clasp_db::SqliteStore::open("sqlite://data/clasp.db").await?;
//! # drop(store);
//! # Ok(())
//! # }
//! ```
//!
//! The schema lives in `migrations/sqlite` at the workspace root and is compiled
//! into this crate; [`SqliteStore::open`] and [`migrate`] apply it.

mod attachments;
mod blocking;
mod connection;
mod error;
mod identities;
mod models;
mod schema;
mod sqlite;

pub use error::DbError;
pub use sqlite::{SqliteStore, migrate};
