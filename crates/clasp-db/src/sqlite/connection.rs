//! Opening SQLite: where the file is, the settings every connection gets, the
//! pool, and the embedded migrations.

use std::path::Path;

use diesel::connection::SimpleConnection;
use diesel::sql_types::BigInt;
use diesel::{Connection, ConnectionError, ConnectionResult, RunQueryDsl, SqliteConnection};
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::{SpawnBlocking, SyncConnectionWrapper};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::blocking::{CurrentRuntime, Inline, Runner};
use crate::error::DbError;

/// The migrations of `migrations/sqlite`, compiled into the binary.
pub(super) const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Connections a store keeps for queries on the blocking pool. SQLite in WAL
/// mode reads concurrently but writes one at a time, so a few connections serve
/// many requests.
const POOL_SIZE: usize = 8;

/// Connections a store keeps for reads by key, run inline ([`Inline`]): each is
/// held only while its statement runs, without yielding, so about one per
/// worker thread is ever in use.
const READ_POOL_SIZE: usize = 4;

/// How long a statement waits for another connection's (or process's) write lock
/// before failing with "database is locked".
const BUSY_TIMEOUT_MS: u32 = 5_000;

/// An async SQLite connection whose blocking calls run on the current runtime.
pub(crate) type Conn = SyncConnectionWrapper<SqliteConnection, CurrentRuntime>;

/// The pool of a store.
pub(crate) type ConnPool = Pool<Conn>;

/// A connection for single-row reads by key, run on the calling thread.
pub(crate) type ReadConn = SyncConnectionWrapper<SqliteConnection, Inline>;

/// The pool of [`ReadConn`]s.
pub(crate) type ReadPool = Pool<ReadConn>;

/// The database file named by `url`: `sqlite://PATH`, `sqlite:PATH` or `PATH`.
pub(crate) fn database_path(url: &str) -> Result<String, DbError> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let invalid = |reason| DbError::InvalidUrl {
        url: url.to_owned(),
        reason,
    };
    if path.is_empty() {
        return Err(invalid("no file path"));
    }
    if path == ":memory:" || path.starts_with("file:") {
        // each pooled connection would open a database of its own
        return Err(invalid(
            "expected a file path (an in-memory database cannot be shared by a pool)",
        ));
    }
    Ok(path.to_owned())
}

/// Creates the directory that will hold `path`: SQLite creates the file, not its
/// parents.
pub(crate) async fn create_parent_dir(path: &str) -> Result<(), DbError> {
    match Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|source| DbError::CreateDir {
                    path: dir.to_owned(),
                    source,
                })
        }
        _ => Ok(()),
    }
}

/// Opens `path` with the settings concurrent use needs. The busy timeout comes
/// first so that switching to WAL also waits for other connections. With
/// `fsync`, every commit is synced to disk before it returns (`synchronous =
/// FULL`), so it survives a power cut; without, WAL's `NORMAL` keeps it safe
/// from a crash of the process only.
fn establish(path: &str, foreign_keys: bool, fsync: bool) -> ConnectionResult<SqliteConnection> {
    let mut conn = SqliteConnection::establish(path)?;
    let settings = format!(
        "PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = {};
         PRAGMA foreign_keys = {};",
        if fsync { "FULL" } else { "NORMAL" },
        if foreign_keys { "ON" } else { "OFF" }
    );
    conn.batch_execute(&settings)
        .map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

/// The pool of a store: every new connection is set up by [`establish`],
/// syncing each commit to disk if `fsync`.
pub(crate) fn build_pool(path: &str, fsync: bool) -> Result<ConnPool, DbError> {
    pool_of(path, POOL_SIZE, fsync)
}

/// The pool of a store's reads by key.
pub(crate) fn build_read_pool(path: &str, fsync: bool) -> Result<ReadPool, DbError> {
    pool_of(path, READ_POOL_SIZE, fsync)
}

/// A pool of `size` connections to `path`, each set up by [`establish`] on the
/// blocking pool and running its statements where `S` says.
fn pool_of<S>(
    path: &str,
    size: usize,
    fsync: bool,
) -> Result<Pool<SyncConnectionWrapper<SqliteConnection, S>>, DbError>
where
    S: SpawnBlocking + Send + Sync + 'static,
{
    let mut config = ManagerConfig::<SyncConnectionWrapper<SqliteConnection, S>>::default();
    // Only a connection left inside a transaction is discarded; a ping per checkout
    // would cost a blocking round trip and tell nothing a query would not.
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(move |path| {
        let path = path.to_owned();
        Box::pin(async move {
            let conn = Runner::<false>
                .spawn_blocking(move || establish(&path, true, fsync))
                .await
                .map_err(|e| ConnectionError::BadConnection(e.to_string()))??;
            Ok(SyncConnectionWrapper::with_runtime(conn, S::get_runtime()))
        })
    });
    let manager = AsyncDieselConnectionManager::new_with_config(path, config);
    Pool::builder(manager)
        .max_size(size)
        .build()
        .map_err(|e| DbError::Open {
            path: path.to_owned(),
            message: e.to_string(),
        })
}

/// Applies the pending migrations to `path`; returns how many ran.
///
/// diesel's harness is synchronous, so it runs inside `spawn_blocking` (which
/// works on any runtime flavour, unlike diesel-async's `block_in_place`-based
/// harness) on a plain `SqliteConnection`: an `AsyncConnectionWrapper` would only
/// drive that same connection through two more layers, and could not open an
/// immediate transaction. All migrations run in one
/// `BEGIN IMMEDIATE` transaction, so two processes starting together on a new file
/// take turns instead of both creating the tables. Foreign keys are off while
/// migrating, as SQLite's procedure for rebuilding a table requires (a `DROP
/// TABLE` would otherwise cascade), and are checked once all migrations ran.
pub(crate) async fn run_migrations(path: &str) -> Result<usize, DbError> {
    let owned = path.to_owned();
    tokio::task::spawn_blocking(move || migrate_blocking(&owned))
        .await
        .map_err(|e| DbError::Migrate {
            path: path.to_owned(),
            message: e.to_string(),
        })?
}

/// The body of [`run_migrations`], on a blocking thread.
fn migrate_blocking(path: &str) -> Result<usize, DbError> {
    let mut conn = establish(path, false, true).map_err(|e| DbError::Open {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    conn.immediate_transaction(|conn| {
        let applied = conn.run_pending_migrations(MIGRATIONS)?.len();
        let broken: i64 = diesel::select(diesel::dsl::sql::<BigInt>(
            "(SELECT count(*) FROM pragma_foreign_key_check)",
        ))
        .get_result(conn)?;
        if broken > 0 {
            return Err(format!("{broken} rows break foreign keys").into());
        }
        Ok(applied)
    })
    .map_err(
        |e: Box<dyn std::error::Error + Send + Sync>| DbError::Migrate {
            path: path.to_owned(),
            message: e.to_string(),
        },
    )
}
