//! Helpers shared by the test binaries of this crate.

#![allow(dead_code, reason = "each test binary uses some of these helpers")]

use std::error::Error;

use clasp_db::{PgSettings, PgStore, SqliteStore};
use clasp_domain::credentials::{ApiKey, Scopes};
use clasp_domain::{Attachment, AttachmentState, Subject, Tenant, TenantId};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use tempfile::TempDir;
use time::OffsetDateTime;
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

/// The version of the migration that adds the listing's columns and indexes.
pub const LISTING_MIGRATION: &str = "20261213000000";

/// Attachments of `tenant` written before the listing migration: (filename,
/// type, expected kind, expected file format); each gets the tag `tag-{i}`.
pub const OLD_ROWS: [(&str, &str, &str, &str); 4] = [
    ("Archive.TAR.GZ", "application/gzip", "application", "gz"),
    ("noext", "text/plain", "text", ""),
    (".hidden", "text/plain", "text", "hidden"),
    ("résumé.PDF", "application/pdf", "application", "pdf"),
];

/// Stores [`OLD_ROWS`], ready, each a copy of `base` with its name, type and
/// tag, and returns their ids.
pub async fn insert_old_rows(
    repo: &dyn clasp_domain::ports::AttachmentRepository,
    base: &clasp_domain::Attachment,
) -> Vec<clasp_domain::AttachmentId> {
    let mut ids = Vec::new();
    for (i, (name, content_type, _, _)) in OLD_ROWS.iter().enumerate() {
        let a = clasp_domain::Attachment {
            id: clasp_domain::AttachmentId::new(),
            filename: (*name).to_owned(),
            content_type: (*content_type).to_owned(),
            state: clasp_domain::AttachmentState::Ready,
            tags: vec![format!("tag-{i}")],
            ..base.clone()
        };
        repo.insert(&a).await.unwrap();
        ids.push(a.id);
    }
    ids
}

/// The version of the migration that numbers attachments per tenant.
pub const NUMBERING_MIGRATION: &str = "20270131000000";

/// Reverts the migrations down to and including `version`, then applies them
/// again: what a database written before that migration goes through.
/// `migrations` yields the backend's embedded migrations.
pub fn reapply_migration<DB: diesel::backend::Backend>(
    conn: &mut impl diesel_migrations::MigrationHarness<DB>,
    migrations: impl Fn() -> diesel_migrations::EmbeddedMigrations,
    version: &str,
) {
    while conn
        .revert_last_migration(migrations())
        .unwrap()
        .to_string()
        != version
    {}
    conn.run_pending_migrations(migrations()).unwrap();
}

/// Five attachments, of tenants `a` and `b` in turn (a, b, a, b, a), as the
/// store numbers them: (tenant, id).
pub async fn insert_in_turn(
    repo: &dyn clasp_domain::ports::AttachmentRepository,
    a: TenantId,
    b: TenantId,
) -> Vec<(TenantId, clasp_domain::AttachmentId)> {
    let mut rows = Vec::new();
    for (i, t) in [a, b, a, b, a].into_iter().enumerate() {
        let row = ready_attachment(t, &format!("T{i}"), micros(i as i64));
        repo.insert(&row).await.unwrap();
        rows.push((t, row.id));
    }
    rows
}

/// Rows numbered before the per-tenant numbering keep their numbers (then
/// global: 1 to 5 in turn), found by them in their tenant; each tenant counts
/// on from its highest.
pub async fn assert_numbers_kept(
    repo: &dyn clasp_domain::ports::AttachmentRepository,
    rows: &[(TenantId, clasp_domain::AttachmentId)],
) {
    for (i, (t, id)) in rows.iter().enumerate() {
        let number = i as i64 + 1;
        let found = repo.get_by_number(*t, number).await.unwrap();
        assert_eq!(found.map(|a| a.id), Some(*id), "number {number}");
    }
    let (a, b) = (rows[0].0, rows[1].0);
    let next_a = ready_attachment(a, "T-next", micros(9));
    assert_eq!(repo.insert(&next_a).await.unwrap(), 6, "after a's 5");
    let next_b = ready_attachment(b, "T-next", micros(9));
    assert_eq!(repo.insert(&next_b).await.unwrap(), 5, "after b's 4");
}

/// Each of [`OLD_ROWS`] is found by its kind, file format and tag together,
/// alone: what the migration's backfill of existing rows must achieve.
pub async fn assert_old_rows_listed(
    repo: &dyn clasp_domain::ports::AttachmentRepository,
    tenant: clasp_domain::TenantId,
    ids: &[clasp_domain::AttachmentId],
) {
    use clasp_domain::ListRequest;
    use clasp_domain::listing::{Filter, FilterField};
    for (i, (name, _, kind, format)) in OLD_ROWS.iter().enumerate() {
        let filter = |field, value: &str| Filter {
            field,
            value: value.to_owned(),
        };
        let query = ListRequest {
            filters: vec![
                filter(FilterField::Kind, kind),
                filter(FilterField::FileFormat, format),
                filter(FilterField::Tag, &format!("tag-{i}")),
            ],
            ..ListRequest::default()
        }
        .validate()
        .unwrap();
        let found: Vec<_> = repo
            .list_page(tenant, &query)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(found, vec![ids[i]], "{name}");
    }
}

/// A tenant named `slug`, created at the epoch.
pub fn tenant(slug: &str) -> Tenant {
    Tenant {
        deleting_since: None,
        policy: Default::default(),
        id: TenantId(Uuid::now_v7()),
        slug: slug.to_owned(),
        created_at: OffsetDateTime::UNIX_EPOCH,
    }
}

/// `n` microseconds after the epoch.
pub fn micros(n: i64) -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + time::Duration::microseconds(n)
}

/// A ready text attachment of `tenant` on `ticket`, made at `at` (its file name
/// names the moment, so each is distinct).
pub fn ready_attachment(tenant: TenantId, ticket: &str, at: OffsetDateTime) -> Attachment {
    let seq = (at - OffsetDateTime::UNIX_EPOCH).whole_microseconds();
    let subject = Subject::ticket(ticket);
    let named = (format!("file-{seq}.txt"), "text/plain".into());
    Attachment {
        size_bytes: 3,
        state: AttachmentState::Ready,
        ..Attachment::pending(tenant, subject, named, "user-1".into(), at)
    }
}

/// A full-scope API key of `tenant` whose prefix is `prefix`.
pub fn key(tenant: TenantId, prefix: &str) -> ApiKey {
    ApiKey {
        id: Uuid::now_v7(),
        tenant_id: tenant,
        prefix: prefix.to_owned(),
        hash: Uuid::now_v7().simple().to_string(),
        scopes: Scopes::ALL,
        created_at: OffsetDateTime::UNIX_EPOCH,
        revoked_at: None,
    }
}
