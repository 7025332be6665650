//! What the SQLite store promises beyond the port contracts: the file and its
//! directory, migrations, several stores on one file, and runtimes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is how a test fails"
)]

mod common;

use common::{key, micros, ready_attachment, tenant};

use std::collections::HashSet;
use std::error::Error;
use std::path::Path;
use std::sync::mpsc::{self, Sender};
use std::time::Duration;

use clasp_db::{DbError, SqliteStore, migrate};
use clasp_domain::ports::{AttachmentRepository, IdentityStore, RepoError};
use clasp_domain::{AttachmentId, SubjectRef, TenantId};
use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread")]
async fn every_url_form_names_the_file_and_missing_directories_are_created() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a/b/c/clasp.db");
    let path = file.display().to_string();
    let store = SqliteStore::open(&format!("sqlite://{path}"))
        .await
        .unwrap();
    assert!(
        file.is_file(),
        "the database file and its directories exist"
    );
    store.create_tenant(&tenant("acme")).await.unwrap();

    for url in [format!("sqlite:{path}"), path.clone()] {
        let same = SqliteStore::open(&url).await.unwrap();
        assert!(
            same.tenant_by_slug("acme").await.unwrap().is_some(),
            "{url}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn urls_without_a_file_are_refused() {
    for url in ["", "sqlite://", "sqlite::memory:", ":memory:"] {
        assert!(
            matches!(
                SqliteStore::open(url).await,
                Err(DbError::InvalidUrl { .. })
            ),
            "{url:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reopening_keeps_the_data_and_migrating_again_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("data/clasp.db").display());
    assert!(
        migrate(&url).await.unwrap() >= 1,
        "a new file gets the schema"
    );
    assert_eq!(
        migrate(&url).await.unwrap(),
        0,
        "and then nothing is pending"
    );

    let store = SqliteStore::open(&url).await.unwrap();
    let t = tenant("kept");
    store.create_tenant(&t).await.unwrap();
    let mut a = ready_attachment(t.id, "T1", micros(1));
    a.number = store.insert(&a).await.unwrap();
    drop(store);

    assert_eq!(migrate(&url).await.unwrap(), 0);
    let again = SqliteStore::open(&url).await.unwrap();
    assert_eq!(again.tenant_by_slug("kept").await.unwrap(), Some(t.clone()));
    assert_eq!(again.get(t.id, a.id).await.unwrap(), Some(a.clone()));
    let next = ready_attachment(t.id, "T1", micros(2));
    assert!(
        again.insert(&next).await.unwrap() > a.number,
        "numbers go on increasing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_write_concurrently() {
    let (first, dir) = common::sqlite_store().await.unwrap();
    let url = dir.path().join("clasp.db").display().to_string();
    let second = SqliteStore::open(&url).await.unwrap();
    let tenant = TenantId(Uuid::now_v7());

    let writer = |store: SqliteStore, offset: i64| {
        tokio::spawn(async move {
            let mut numbers = Vec::new();
            for i in 0..50 {
                let a = ready_attachment(tenant, "busy", micros(offset + i));
                numbers.push(store.insert(&a).await?);
                // a read between writes, as a request would do
                store.get(tenant, a.id).await?;
            }
            Ok::<_, RepoError>(numbers)
        })
    };
    let (a, b) = tokio::join!(writer(first.clone(), 0), writer(second.clone(), 1_000));
    let numbers: HashSet<i64> = a
        .unwrap()
        .unwrap()
        .into_iter()
        .chain(b.unwrap().unwrap())
        .collect();
    assert_eq!(numbers.len(), 100, "every insert got its own number");

    let listed = first
        .list_ready(tenant, &SubjectRef::Ticket("busy".into()), usize::MAX)
        .await
        .unwrap();
    assert_eq!(listed.len(), 100);
    assert_eq!(
        second
            .list_ready(tenant, &SubjectRef::Ticket("busy".into()), usize::MAX)
            .await
            .unwrap(),
        listed
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_enforce_foreign_keys_and_use_wal() {
    let (store, dir) = common::sqlite_store().await.unwrap();
    let orphan = key(TenantId(Uuid::now_v7()), "ixk_orphan00");
    assert!(
        matches!(
            store.create_api_key(&orphan).await,
            Err(RepoError::Backend(_))
        ),
        "a key of an unknown tenant is refused"
    );
    let mut raw =
        SqliteConnection::establish(&dir.path().join("clasp.db").display().to_string()).unwrap();
    let mode: String = diesel::RunQueryDsl::get_result(
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
            "(SELECT journal_mode FROM pragma_journal_mode)",
        )),
        &mut raw,
    )
    .unwrap();
    assert_eq!(mode, "wal");
    assert!(store.syncs_commits().await.unwrap(), "synced by default");
    let url = format!("sqlite://{}", dir.path().join("fast.db").display());
    let fast = SqliteStore::open_with(&url, false).await.unwrap();
    assert!(!fast.syncs_commits().await.unwrap(), "durability = fast");
}

/// actix-web runs handlers on current-thread runtimes. A query abandoned there
/// (the client went away while SQLite waited for a lock) must neither panic nor
/// spoil the pooled connection; the abandoned write still lands.
#[tokio::test(flavor = "current_thread")]
async fn an_abandoned_query_on_a_current_thread_runtime_is_harmless() {
    let (store, dir) = common::sqlite_store().await.unwrap();
    let path = dir.path().join("clasp.db");
    let (locked_tx, locked_rx) = mpsc::channel();
    let blocker = std::thread::spawn(move || hold_write_lock(&path, locked_tx));
    locked_rx.recv().unwrap();

    let late = tenant("late");
    let attempt = tokio::time::timeout(Duration::from_millis(100), store.create_tenant(&late));
    assert!(
        attempt.await.is_err(),
        "the write waits for the lock and is abandoned"
    );
    blocker.join().unwrap().unwrap();

    assert_eq!(store.tenant_by_slug("late").await.unwrap(), Some(late));
    store.create_tenant(&tenant("after")).await.unwrap();
}

/// Holds SQLite's write lock on `path` for a moment, from another connection.
fn hold_write_lock(path: &Path, locked: Sender<()>) -> Result<(), Box<dyn Error + Send + Sync>> {
    let mut conn = SqliteConnection::establish(&path.display().to_string())?;
    conn.batch_execute("BEGIN IMMEDIATE")?;
    locked.send(())?;
    std::thread::sleep(Duration::from_millis(500));
    conn.batch_execute("COMMIT")?;
    Ok(())
}

/// Every listing but a tag filter is one seek on one of the migration's indexes,
/// already in the listing's order (no sort step), whatever the sort, order,
/// filter and bounds; a tag filter starts from the tag table.
#[tokio::test(flavor = "multi_thread")]
async fn every_listing_is_an_index_seek() {
    use clasp_domain::ListRequest;
    use clasp_domain::listing::{Filter, FilterField, SortField, SortOrder};

    let (store, _dir) = common::sqlite_store().await.unwrap();
    let t = tenant("plans");
    let cursor = format!("1,{}", AttachmentId::new());
    let filters = [
        None,
        Some(FilterField::CaseId),
        Some(FilterField::ContentType),
        Some(FilterField::Kind),
        Some(FilterField::FileFormat),
        Some(FilterField::Filename),
        Some(FilterField::Tag),
    ];
    for (sort, value) in [
        (SortField::CreatedAt, "2026-01-01T00:00:00Z"),
        (SortField::Filename, "a.pdf"),
        (SortField::Size, "1"),
    ] {
        let after = cursor.replacen('1', value, 1);
        for order in [SortOrder::Asc, SortOrder::Desc] {
            for filter in filters {
                let query = ListRequest {
                    sort,
                    order,
                    after: Some(&after),
                    before: Some(value),
                    filters: filter
                        .map(|field| Filter {
                            field,
                            value: "x".into(),
                        })
                        .into_iter()
                        .collect(),
                    ..ListRequest::default()
                }
                .validate()
                .unwrap();
                let plan = store.explain_list_page(t.id, &query).await.unwrap();
                let text = plan.join(" | ");
                if filter == Some(FilterField::Tag) {
                    assert!(text.contains("attachment_tags"), "{query:?}: {text}");
                    continue;
                }
                assert!(
                    text.starts_with("SEARCH attachments USING INDEX")
                        && !text.contains("TEMP B-TREE"),
                    "{query:?}: {text}"
                );
            }
        }
    }
}

/// Rows written before the listing migration are listed by kind, file format
/// and tag once it ran: its backfill agrees with the domain's definitions.
#[tokio::test(flavor = "multi_thread")]
async fn the_listing_migration_backfills_existing_rows() {
    use diesel_migrations::{EmbeddedMigrations, embed_migrations};
    const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

    let (store, dir) = common::sqlite_store().await.unwrap();
    let t = tenant("old-rows");
    let ids = common::insert_old_rows(&store, &ready_attachment(t.id, "T1", micros(1))).await;
    let path = dir.path().join("clasp.db");
    tokio::task::spawn_blocking(move || {
        let mut conn = SqliteConnection::establish(&path.display().to_string()).unwrap();
        common::reapply_migration(&mut conn, || MIGRATIONS, common::LISTING_MIGRATION);
    })
    .await
    .unwrap();
    common::assert_old_rows_listed(&store, t.id, &ids).await;
}

/// Numbers given before attachments were numbered per tenant (from one
/// sequence) stay valid after the migration.
#[tokio::test(flavor = "multi_thread")]
async fn the_numbering_migration_keeps_the_numbers_given() {
    use diesel_migrations::{EmbeddedMigrations, embed_migrations};
    const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

    let (store, dir) = common::sqlite_store().await.unwrap();
    let (a, b) = (tenant("numbered-a"), tenant("numbered-b"));
    let rows = common::insert_in_turn(&store, a.id, b.id).await;
    let path = dir.path().join("clasp.db");
    tokio::task::spawn_blocking(move || {
        let mut conn = SqliteConnection::establish(&path.display().to_string()).unwrap();
        common::reapply_migration(&mut conn, || MIGRATIONS, common::NUMBERING_MIGRATION);
    })
    .await
    .unwrap();
    common::assert_numbers_kept(&store, &rows).await;
}

#[tokio::test]
async fn ready_only_while_every_migration_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clasp.db").display().to_string();
    let store = SqliteStore::open(&path).await.unwrap();
    store.check_ready().await.unwrap();

    // an older schema than this binary's is not ready
    SqliteConnection::establish(&path)
        .unwrap()
        .batch_execute(
            "DELETE FROM __diesel_schema_migrations
              WHERE version = (SELECT max(version) FROM __diesel_schema_migrations)",
        )
        .unwrap();
    let Err(RepoError::Backend(why)) = store.check_ready().await else {
        panic!("a missing migration is not ready");
    };
    assert!(why.contains("migrations not current"), "{why}");
}
