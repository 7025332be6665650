//! The embedded migrations of `migrations/postgres`, applied by one instance at a
//! time.
//!
//! Several instances started together (a rolling deploy, a scaled-out service)
//! would otherwise race to create the same tables and the migrations table, and
//! all but one fail. Each takes a session-level advisory lock first, on a
//! dedicated connection, and whoever comes second finds nothing left to do. If
//! the process holding the lock dies, its session ends and the lock with it.

use std::time::Duration;

use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::connection::connect;
use super::url::PgUrl;
use crate::error::DbError;

/// The migrations of `migrations/postgres`, compiled into the binary.
pub(super) const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// The advisory lock key held while migrating: "clasp_mg" in ASCII, unlikely to
/// collide with another application's keys in a shared database. Advisory locks
/// are per database, so Clasp databases on one server do not wait for each other.
const MIGRATION_LOCK: i64 = 0x636c_6173_705f_6d67;

/// Applies the pending migrations under the migration lock; returns how many ran.
///
/// The session has no statement timeout: a migration's duration grows with the
/// data, and waiting for the lock lasts exactly as long as another instance's
/// migration, which has to finish before this instance can use the schema anyway.
pub(crate) async fn run(url: &PgUrl, connect_timeout: Duration) -> Result<usize, DbError> {
    let mut conn = connect(url, connect_timeout)
        .await
        .map_err(|e| DbError::PgConnect {
            url: url.shown.clone(),
            message: e.to_string(),
        })?;
    let failed = |message: String| DbError::PgMigrate {
        url: url.shown.clone(),
        message,
    };
    conn.batch_execute(&format!(
        "SET statement_timeout = 0; SELECT pg_advisory_lock({MIGRATION_LOCK})"
    ))
    .await
    .map_err(|e| failed(format!("cannot take the migration lock: {e}")))?;

    let (mut conn, applied) = tokio::task::spawn_blocking(move || apply(conn))
        .await
        .map_err(|e| failed(format!("the migration task failed: {e}")))?;

    // Ending the session would release the lock too; unlocking says so plainly
    // and costs one round trip.
    let unlocked = conn
        .batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
        .await;
    let applied = applied.map_err(failed)?;
    unlocked.map_err(|e| failed(format!("cannot release the migration lock: {e}")))?;
    Ok(applied)
}

/// Runs diesel's (synchronous) migration harness on `conn`, on a blocking thread.
///
/// The wrapper drives each query through the current runtime's handle, which
/// works on a blocking-pool thread of any runtime flavour; diesel-async's own
/// harness uses `block_in_place` and panics on a current-thread runtime, which
/// is what each actix-web worker runs. Every migration runs in its own
/// transaction. The connection comes back, to release the lock on it.
fn apply(conn: AsyncPgConnection) -> (AsyncPgConnection, Result<usize, String>) {
    let mut sync: AsyncConnectionWrapper<AsyncPgConnection> = conn.into();
    let applied = sync
        .run_pending_migrations(MIGRATIONS)
        .map(|versions| versions.len())
        .map_err(|e| e.to_string());
    (sync.into_inner(), applied)
}
