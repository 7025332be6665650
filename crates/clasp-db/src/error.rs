//! Errors: [`DbError`] for opening and migrating, and the mapping of diesel and
//! pool failures onto the domain's [`RepoError`].

use std::path::PathBuf;

use clasp_domain::ports::{RepoError, Stored};
use diesel::OptionalExtension;
use diesel::result::{DatabaseErrorKind, Error as QueryError};

/// Why a database could not be opened or migrated. Operators see it (`clasp
/// serve`, `clasp migrate`), so each variant names the database and the cause.
/// PostgreSQL URLs appear with their password replaced by `***`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The URL names no usable database file.
    #[error("invalid SQLite database URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The directory that should hold the database could not be created.
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// SQLite refused to open the file or to accept its settings.
    #[error("cannot open the SQLite database {path}: {message}")]
    Open {
        /// The database file.
        path: String,
        /// SQLite's or the pool's explanation.
        message: String,
    },
    /// A migration failed; the transaction wrapping all of them was rolled back.
    #[error("cannot migrate the SQLite database {path}: {message}")]
    Migrate {
        /// The database file.
        path: String,
        /// The failing migration's error.
        message: String,
    },
    /// The PostgreSQL URL cannot be used (wrong scheme, unparsable, no host).
    #[error("invalid PostgreSQL URL {url:?}: {reason}")]
    InvalidPgUrl {
        /// The URL as given, password hidden.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A [`PgSettings`](crate::PgSettings) value that cannot work.
    #[error("invalid PostgreSQL settings: {0}")]
    InvalidPgSettings(&'static str),
    /// No usable connection: the server is unreachable, did not answer within
    /// the connect timeout, refused the login, or rejected the session settings.
    #[error("cannot connect to PostgreSQL at {url}: {message}")]
    PgConnect {
        /// The URL, password hidden.
        url: String,
        /// The client's or server's explanation.
        message: String,
    },
    /// Taking the migration lock or applying a migration failed; the failing
    /// migration's own transaction was rolled back.
    #[error("cannot migrate the PostgreSQL database {url}: {message}")]
    PgMigrate {
        /// The URL, password hidden.
        url: String,
        /// The server's explanation.
        message: String,
    },
}

/// What the quota triggers of both migrations (`2026-12-20-000000_quotas`)
/// raise when an insert would pass a tenant's limit.
const QUOTA_EXCEEDED: &str = "clasp_quota_exceeded";

/// The domain value of the one row a lookup by key found, if any. Such lookups
/// take their row with `get_result`, not `first`: `first` binds its `LIMIT`, and
/// SQLite (3.53, as bundled) recompiles a statement whose bound `LIMIT` changed —
/// on every call, since diesel binds each time — which cost more than the query
/// in profiles of the metadata benchmark (docs/performance.md).
pub(crate) fn found<R, T>(
    row: Result<R, QueryError>,
    into_domain: impl FnOnce(R) -> Stored<T>,
) -> Stored<Option<T>> {
    row.optional()
        .map_err(query_error)?
        .map(into_domain)
        .transpose()
}

/// A failed query, as the ports report it: unique violations are conflicts,
/// the quota triggers' refusal is [`RepoError::QuotaExceeded`], anything else
/// is the backend's failure.
pub(crate) fn query_error(error: QueryError) -> RepoError {
    match error {
        QueryError::DatabaseError(_, info) if info.message().contains(QUOTA_EXCEEDED) => {
            RepoError::QuotaExceeded
        }
        QueryError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            RepoError::Conflict(info.message().to_owned())
        }
        other => RepoError::Backend(other.to_string()),
    }
}

/// The row `$query` finds by key, as a `$row` turned into the domain's record,
/// on a connection of `$store` for single-row reads; `None` when there is none.
macro_rules! find_one {
    // SQLite reads its row through diesel's own connection (see
    // `SqliteStore::read_row`), whose future is `Send` whatever the query.
    (Sqlite, $store:expr, $query:expr, $row:ty) => {{
        let query =
            diesel::QueryDsl::select($query, <$row as diesel::SelectableHelper<_>>::as_select());
        $crate::error::found($store.read_row(query).await?, <$row>::into_domain)
    }};
    ($backend:ident, $store:expr, $query:expr, $row:ty) => {
        $crate::error::find_one!($store, $query, $row)
    };
    ($store:expr, $query:expr, $row:ty) => {{
        let mut conn = $store.read_conn().await?;
        let query =
            diesel::QueryDsl::select($query, <$row as diesel::SelectableHelper<_>>::as_select());
        $crate::error::found(
            diesel_async::RunQueryDsl::get_result(query, &mut *conn).await,
            <$row>::into_domain,
        )
    }};
}
pub(crate) use find_one;

/// Every row `$query` selects, as `$row`s turned into the domain's records, on
/// a connection of `$store`.
macro_rules! find_all {
    ($store:expr, $query:expr, $row:ty) => {{
        let mut conn = $store.conn().await?;
        let query =
            diesel::QueryDsl::select($query, <$row as diesel::SelectableHelper<_>>::as_select());
        diesel_async::RunQueryDsl::load(query, &mut *conn)
            .await
            .map_err($crate::error::query_error)?
            .into_iter()
            .map(<$row>::into_domain)
            .collect()
    }};
}
pub(crate) use find_all;

/// Runs the update or delete `$statement` on a connection of `$store`: whether
/// it changed a row.
macro_rules! changed_any {
    ($store:expr, $statement:expr) => {{
        let mut conn = $store.conn().await?;
        let changed = diesel_async::RunQueryDsl::execute($statement, &mut *conn)
            .await
            .map_err($crate::error::query_error)?;
        Ok(changed > 0)
    }};
}
pub(crate) use changed_any;

/// A pool that could not hand out a connection.
pub(crate) fn pool_error(error: impl std::fmt::Display) -> RepoError {
    RepoError::Backend(format!("no database connection: {error}"))
}

/// A stored value the domain cannot accept (a corrupt or foreign row).
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> RepoError {
    RepoError::Backend(format!("stored {what} is invalid: {detail}"))
}
