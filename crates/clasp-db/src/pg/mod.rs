//! [`PgStore`]: the metadata store of instances that share one PostgreSQL
//! database, over diesel-async's `AsyncPgConnection` (tokio-postgres, no libpq)
//! and a deadpool pool.
//!
//! The columns have native types (`uuid`, `timestamptz`, `text[]`) where
//! SQLite's hold text and integers; `crate::sql` converts, so the rows and
//! queries are the ones both backends share, and `queries` holds what
//! PostgreSQL asks its own way.

mod connection;
mod migrations;
mod queries;
mod tls;
mod url;

use std::fmt;
use std::time::Duration;

use clasp_domain::ports::{RepoError, Stored};
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::deadpool::Object;

use crate::error::DbError;
use crate::pools::PoolUse;
use connection::{ConnPool, build_pool, checkout};
use url::PgUrl;
pub(crate) use url::is_postgres_url;

/// How a [`PgStore`] uses its server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PgSettings {
    /// Connections the store keeps at most; each instance of a scaled-out
    /// service has its own, so the server must allow their sum. At least 1.
    pub pool_size: usize,
    /// How long to wait for a connection: to open one (an unreachable or silent
    /// server fails after this), and for a free one when all are busy. Positive.
    pub connect_timeout: Duration,
    /// Longest a single statement may run before the server cancels it (set as
    /// `statement_timeout` on every pooled connection); zero means no limit.
    /// Rounded up to whole milliseconds.
    pub statement_timeout: Duration,
}

impl Default for PgSettings {
    /// 16 connections, 5 s to connect, 30 s per statement.
    fn default() -> Self {
        Self {
            pool_size: 16,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
        }
    }
}

impl PgSettings {
    /// Refuses settings that could only fail later, and more obscurely.
    fn check(&self) -> Result<(), DbError> {
        if self.pool_size == 0 {
            return Err(DbError::InvalidPgSettings("pool_size must be at least 1"));
        }
        if self.connect_timeout.is_zero() {
            return Err(DbError::InvalidPgSettings(
                "connect_timeout must be positive",
            ));
        }
        Ok(())
    }
}

/// Attachment metadata, tenants, API keys and sessions in a PostgreSQL database.
///
/// Implements [`AttachmentRepository`](clasp_domain::ports::AttachmentRepository)
/// and [`IdentityStore`](clasp_domain::ports::IdentityStore). Any number of
/// stores, in one process or many, may share the database. Every operation is
/// one statement on a pooled connection. Cloning is cheap and shares the pool.
#[derive(Clone)]
pub struct PgStore {
    url: String,
    pool: ConnPool,
    checkout_timeout: Duration,
}

impl PgStore {
    /// Connects to the database named by `url` (`postgres://…` or
    /// `postgresql://…`, e.g. `postgres://clasp:secret@db:5432/clasp`, with
    /// libpq's `sslmode` and `sslrootcert` for TLS over rustls), applies
    /// pending migrations under an advisory lock (so instances starting together
    /// take turns), and returns the store.
    ///
    /// Fails with a [`DbError`] on a malformed URL or invalid settings (at once),
    /// and on a server that cannot be reached within `settings.connect_timeout`.
    /// The database itself must exist.
    pub async fn open(url: &str, settings: &PgSettings) -> Result<PgStore, DbError> {
        settings.check()?;
        let url = PgUrl::parse(url)?;
        migrations::run(&url, settings.connect_timeout).await?;
        let pool = build_pool(&url, settings)?;
        // Connect once now, so that a server refusing the session settings fails
        // here rather than on a request; the connection stays in the pool.
        drop(
            checkout(&pool, settings.connect_timeout)
                .await
                .map_err(|message| DbError::PgConnect {
                    url: url.shown.clone(),
                    message,
                })?,
        );
        Ok(PgStore {
            url: url.shown,
            pool,
            checkout_timeout: settings.connect_timeout,
        })
    }

    /// How full the connection pool is (the saturation metrics).
    pub fn pools(&self) -> [PoolUse; 1] {
        [PoolUse::of("postgres", self.pool.status())]
    }

    /// A pooled connection for one query.
    pub(crate) async fn conn(&self) -> Stored<Object<AsyncPgConnection>> {
        checkout(&self.pool, self.checkout_timeout)
            .await
            .map_err(|message| RepoError::Backend(format!("no database connection: {message}")))
    }
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Applies pending migrations to the PostgreSQL database named by `url`, under
/// the migration lock: [`crate::migrate`] for PostgreSQL URLs.
pub(crate) async fn migrate(url: &str, settings: &PgSettings) -> Result<usize, DbError> {
    settings.check()?;
    migrations::run(&PgUrl::parse(url)?, settings.connect_timeout).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_16_connections_5s_to_connect_and_30s_per_statement() {
        let defaults = PgSettings::default();
        assert_eq!(defaults.pool_size, 16);
        assert_eq!(defaults.connect_timeout, Duration::from_secs(5));
        assert_eq!(defaults.statement_timeout, Duration::from_secs(30));
        assert!(defaults.check().is_ok());
    }

    #[test]
    fn settings_that_cannot_work_are_refused() {
        let empty_pool = PgSettings {
            pool_size: 0,
            ..PgSettings::default()
        };
        let no_time = PgSettings {
            connect_timeout: Duration::ZERO,
            ..PgSettings::default()
        };
        for settings in [empty_pool, no_time] {
            assert!(matches!(
                settings.check(),
                Err(DbError::InvalidPgSettings(_))
            ));
        }
    }
}
