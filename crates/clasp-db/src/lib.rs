//! # clasp-db
//!
//! Adapters of Clasp's metadata ports (`AttachmentRepository`, `IdentityStore`)
//! over diesel and diesel-async:
//!
//! - [`SqliteStore`] keeps everything in one SQLite file (bundled libsqlite3, WAL),
//!   the embedded default of `clasp serve`;
//! - [`PgStore`] uses a PostgreSQL server (tokio-postgres, no libpq) through a
//!   pool, for several instances sharing one database.
//!
//! ```no_run
//! # async fn demo() -> Result<(), clasp_db::DbError> {
//! let embedded = clasp_db::SqliteStore::open("sqlite://data/clasp.db").await?;
//! let shared = clasp_db::PgStore::open(
//!     "postgres://clasp@db.internal/clasp",
//!     &clasp_db::PgSettings::default(),
//! )
//! .await?;
//! # drop((embedded, shared));
//! # Ok(())
//! # }
//! ```
//!
//! Each backend's schema lives at the workspace root (`migrations/sqlite`,
//! `migrations/postgres`) and is compiled into this crate; opening a store and
//! [`migrate`] apply it.
//!
//! The bundled SQLite is built by libsqlite3-sys, whose flags come from the
//! final workspace: Clasp's sets `LIBSQLITE3_FLAGS = "-DSQLITE_DEFAULT_MEMSTATUS=0
//! -USQLITE_THREADSAFE -DSQLITE_THREADSAFE=2"` (its `.cargo/config.toml`), so
//! that concurrent reads do not queue on SQLite's global allocation mutex nor
//! lock each connection on every call. A workspace embedding this crate sets
//! the same for the same speed, if nothing else in its process shares one
//! SQLite connection between threads at once (multi-thread mode applies to
//! the whole library); without it the stores behave the same.

mod attachments;
mod error;
mod identities;
mod listing;
mod models;
mod moving;
mod outbox;
mod pg;
mod pools;
mod quota;
mod readiness;
mod resumable;
mod schema;
mod sql;
mod sqlite;

pub use error::DbError;
pub use moving::{Exporter, RowPage, Table};
pub use pg::{PgSettings, PgStore};
pub use pools::PoolUse;
pub use sqlite::SqliteStore;

/// Applies pending migrations to the database named by `url` and returns how
/// many ran; running it again is harmless (it then returns 0).
///
/// `postgres://…` and `postgresql://…` name a PostgreSQL database, migrated
/// under an advisory lock with [`PgSettings::default`] (use [`PgStore::open`]
/// for other settings: it migrates too). Anything else names a SQLite file
/// (`sqlite://PATH`, `sqlite:PATH` or `PATH`), created if missing.
pub async fn migrate(url: &str) -> Result<usize, DbError> {
    if pg::is_postgres_url(url) {
        pg::migrate(url, &PgSettings::default()).await
    } else {
        sqlite::migrate(url).await
    }
}
