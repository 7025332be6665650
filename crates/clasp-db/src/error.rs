//! Errors: [`DbError`] for opening and migrating, and the mapping of diesel and
//! pool failures onto the domain's [`RepoError`].

use std::path::PathBuf;

use clasp_domain::ports::RepoError;
use diesel::result::{DatabaseErrorKind, Error as QueryError};

/// Why a database could not be opened or migrated. Operators see it (`clasp
/// serve`, `clasp migrate`), so each variant names the file and the cause.
#[derive(Debug, thiserror::Error)]
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
}

/// A failed query, as the ports report it: unique violations are conflicts,
/// anything else is the backend's failure.
pub(crate) fn query_error(error: QueryError) -> RepoError {
    match error {
        QueryError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            RepoError::Conflict(info.message().to_owned())
        }
        other => RepoError::Backend(other.to_string()),
    }
}

/// A pool that could not hand out a connection.
pub(crate) fn pool_error(error: impl std::fmt::Display) -> RepoError {
    RepoError::Backend(format!("no database connection: {error}"))
}

/// A stored value the domain cannot accept (a corrupt or foreign row).
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> RepoError {
    RepoError::Backend(format!("stored {what} is invalid: {detail}"))
}
