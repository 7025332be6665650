//! Helpers shared by the test binaries of this crate.

#![allow(dead_code, reason = "each test binary uses some of these helpers")]

use std::error::Error;

use clasp_db::{PgSettings, PgStore, SqliteStore};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use tempfile::TempDir;
use uuid::Uuid;

/// A store on a new SQLite file in a temporary directory, which lives as long as
/// the returned guard.
pub async fn sqlite_store() -> Result<(SqliteStore, TempDir), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("clasp.db").display());
    Ok((SqliteStore::open(&url).await?, dir))
}

/// Where the test PostgreSQL server is: `CLASP_TEST_POSTGRES_URL`, naming a
/// database of a superuser (e.g. `postgres://clasp@127.0.0.1:PORT/clasp`).
/// Without it the PostgreSQL tests fail rather than pass vacuously.
pub fn pg_server_url() -> String {
    match std::env::var("CLASP_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "CLASP_TEST_POSTGRES_URL is not set: the PostgreSQL tests need a server. \
             Run the suite with ./scripts/test.sh, which starts PostgreSQL and sets it."
        ),
    }
}

/// `server_url` with its database replaced by `database`.
pub fn with_database(server_url: &str, database: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (server_url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{server}/{database}{query}")
}

/// A new, empty database on the test server, dropped when the guard is.
pub struct TestDb {
    /// The database's name.
    pub name: String,
    /// A URL naming it.
    pub url: String,
}

impl TestDb {
    /// Creates `t_<random>` on the server of `CLASP_TEST_POSTGRES_URL`.
    pub async fn create() -> Result<TestDb, Box<dyn Error>> {
        let server = pg_server_url();
        let name = format!("t_{}", Uuid::new_v4().simple());
        let mut admin = AsyncPgConnection::establish(&server).await?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        let url = with_database(&server, &name);
        Ok(TestDb { name, url })
    }

    /// A connection of its own to the database, outside any store.
    pub async fn connect(&self) -> Result<AsyncPgConnection, Box<dyn Error>> {
        Ok(AsyncPgConnection::establish(&self.url).await?)
    }
}

impl Drop for TestDb {
    /// Drops the database, closing the sessions still on it, on a thread of its
    /// own (a destructor cannot await). Best effort: the server is thrown away
    /// after the run anyway.
    fn drop(&mut self) {
        let server = pg_server_url();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropping = std::thread::spawn(move || -> Result<(), Box<dyn Error + Send + Sync>> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut admin = AsyncPgConnection::establish(&server).await?;
                admin.batch_execute(&sql).await?;
                Ok(())
            })
        });
        let _best_effort = dropping.join();
    }
}

/// A store on a new database with small timeouts and the default pool, and the
/// guard that drops the database.
pub async fn pg_store() -> Result<(PgStore, TestDb), Box<dyn Error>> {
    let db = TestDb::create().await?;
    let store = PgStore::open(&db.url, &PgSettings::default()).await?;
    Ok((store, db))
}
