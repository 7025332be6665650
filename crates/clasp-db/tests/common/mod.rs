//! Helpers shared by the test binaries of this crate.

use std::error::Error;

use clasp_db::SqliteStore;
use tempfile::TempDir;

/// A store on a new SQLite file in a temporary directory, which lives as long as
/// the returned guard.
pub async fn sqlite_store() -> Result<(SqliteStore, TempDir), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("clasp.db").display());
    Ok((SqliteStore::open(&url).await?, dir))
}
