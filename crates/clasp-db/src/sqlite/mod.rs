//! [`SqliteStore`]: the embedded default metadata store, one SQLite file.
//!
//! Ids are stored as UUID text and timestamps as integer microseconds, since
//! SQLite has neither type (`crate::sql` converts); the queries are the ones
//! both backends share, and `queries` holds what SQLite asks its own way.

mod blocking;
mod connection;
mod linking;
mod queries;
mod snapshot;

use std::fmt;

use clasp_domain::ports::Stored;
use diesel::SqliteConnection;
use diesel::query_dsl::LoadQuery;
use diesel::result::Error as QueryError;
use diesel_async::pooled_connection::deadpool::Object;

use crate::error::{DbError, pool_error};
use crate::pools::PoolUse;
use connection::{
    Conn, ConnPool, ReadConn, ReadPool, build_pool, build_read_pool, create_parent_dir,
    database_path, run_migrations,
};

/// Attachment metadata, tenants, API keys and sessions in one SQLite file.
///
/// Implements [`AttachmentRepository`](clasp_domain::ports::AttachmentRepository)
/// and [`IdentityStore`](clasp_domain::ports::IdentityStore). Several stores, in
/// one process or several (`clasp serve` next to `clasp admin …`), may share a
/// file: connections use WAL and wait for each other's writes, and every write is
/// a single short statement. Cloning is cheap and shares the connection pool.
#[derive(Clone)]
pub struct SqliteStore {
    path: String,
    pool: ConnPool,
    reads: ReadPool,
}

impl SqliteStore {
    /// Opens the database named by `url` (`sqlite://PATH`, `sqlite:PATH` or a plain
    /// path), creating its directory and file if missing and applying pending
    /// migrations, so a fresh machine needs no set-up step. Every commit is
    /// synced to disk before it returns.
    pub async fn open(url: &str) -> Result<SqliteStore, DbError> {
        Self::open_with(url, true).await
    }

    /// The same, syncing each commit to disk only if `fsync`: without, a
    /// commit survives a crash of the process but not a power cut, and costs
    /// less (docs/performance.md).
    pub async fn open_with(url: &str, fsync: bool) -> Result<SqliteStore, DbError> {
        let path = prepare(url).await?;
        run_migrations(&path).await?;
        let pool = build_pool(&path, fsync)?;
        // Connect once now, so a bad file fails here rather than on a request.
        drop(pool.get().await.map_err(|e| DbError::Open {
            path: path.clone(),
            message: e.to_string(),
        })?);
        let reads = build_read_pool(&path, fsync)?;
        Ok(SqliteStore { path, pool, reads })
    }

    /// How full the write pool and the read pool are (the saturation metrics).
    pub fn pools(&self) -> [PoolUse; 2] {
        [
            PoolUse::of("sqlite_writes", self.pool.status()),
            PoolUse::of("sqlite_reads", self.reads.status()),
        ]
    }

    /// A pooled connection for one query.
    pub(crate) async fn conn(&self) -> Stored<Object<Conn>> {
        self.pool.get().await.map_err(pool_error)
    }

    /// A pooled connection for one single-row read by key, which runs on the
    /// calling thread (see [`ReadConn`]).
    pub(crate) async fn read_conn(&self) -> Stored<Object<ReadConn>> {
        self.reads.get().await.map_err(pool_error)
    }

    /// The one row `query` selects, read by key on the calling thread through
    /// diesel's own connection. diesel-async's `get_result` renders the
    /// query's SQL text and copies the row into owned values on every call (a
    /// few percent of a metadata GET's CPU, docs/performance.md); diesel's own
    /// finds the prepared statement by the query's type and decodes the row
    /// where it lies.
    pub(crate) async fn read_row<Q, R>(&self, query: Q) -> Stored<Result<R, QueryError>>
    where
        Q: LoadQuery<'static, SqliteConnection, R> + Send + 'static,
        R: Send + 'static,
    {
        let mut conn = self.read_conn().await?;
        Ok(conn
            .spawn_blocking(move |conn| diesel::RunQueryDsl::get_result(query, conn))
            .await)
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Applies pending migrations to the SQLite file named by `url` (creating it if
/// missing) and returns how many ran: [`crate::migrate`] for SQLite URLs.
pub(crate) async fn migrate(url: &str) -> Result<usize, DbError> {
    let path = prepare(url).await?;
    run_migrations(&path).await
}

/// The file path of `url`, with its directory created.
async fn prepare(url: &str) -> Result<String, DbError> {
    let path = database_path(url)?;
    create_parent_dir(&path).await?;
    Ok(path)
}
