//! Readiness of a metadata store: it answers, and every migration this binary
//! embeds has been applied. A newer instance may have migrated further during a
//! rolling deploy, which is fine; an older schema is not.

use clasp_domain::ports::{RepoError, Stored};
use diesel::QueryableByName;
use diesel::backend::Backend;
use diesel::migration::MigrationSource;
use diesel::sql_types::{Nullable, Text};

/// The newest migration applied to a database.
#[derive(QueryableByName)]
pub(crate) struct NewestApplied {
    #[diesel(sql_type = Nullable<Text>)]
    pub(crate) version: Option<String>,
}

/// Reads [`NewestApplied`] from diesel's bookkeeping table (the same on every backend).
pub(crate) const NEWEST_APPLIED: &str =
    "SELECT MAX(version) AS version FROM __diesel_schema_migrations";

/// Refuses a database that lacks the newest migration of `source`. Versions are
/// fixed-width timestamps, so they order as strings.
pub(crate) fn require_current<DB: Backend>(
    source: &impl MigrationSource<DB>,
    applied: Option<String>,
) -> Stored<()> {
    let newest = source
        .migrations()
        .map_err(|e| RepoError::Backend(format!("cannot read the embedded migrations: {e}")))?
        .iter()
        .map(|m| m.name().version().to_string())
        .max();
    match (newest, applied) {
        (None, _) => Ok(()),
        (Some(want), Some(have)) if have >= want => Ok(()),
        (Some(want), have) => Err(RepoError::Backend(format!(
            "migrations not current: the database is at {}, this binary needs {want}",
            have.as_deref().unwrap_or("none")
        ))),
    }
}
