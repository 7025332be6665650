//! A consistent copy of a live SQLite database, for `clasp backup`.

use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;

use super::SqliteStore;
use crate::error::DbError;

impl SqliteStore {
    /// Writes the whole database, as of one moment, to the new file `dest`
    /// (SQLite's `VACUUM INTO`), while other connections keep reading and
    /// writing: the copy is one read transaction's view, compacted.
    pub async fn snapshot_into(&self, dest: &str) -> Result<(), DbError> {
        let failed = |message: String| DbError::Open {
            path: dest.to_owned(),
            message,
        };
        let mut conn = self.conn().await.map_err(|e| failed(e.to_string()))?;
        diesel::sql_query("VACUUM INTO ?")
            .bind::<Text, _>(dest)
            .execute(&mut *conn)
            .await
            .map_err(|e| failed(e.to_string()))?;
        Ok(())
    }
}
