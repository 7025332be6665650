//! What the PostgreSQL store promises beyond the port contracts: migrations that
//! run once however many instances start, the statement timeout on every pooled
//! connection, quick and clear failures, microsecond timestamps, and runtimes.
//!
//! Each test gets a new database on the server of `CLASP_TEST_POSTGRES_URL`
//! (`./scripts/test.sh` starts one); without it they fail.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is how a test fails"
)]

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use clasp_db::{DbError, PgSettings, PgStore, migrate};
use clasp_domain::SubjectRef;
use clasp_domain::credentials::Session;
use clasp_domain::ports::{AttachmentRepository, IdentityStore, RepoError};
use common::{TestDb, key, ready_attachment, tenant, with_database};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

/// One text value computed by `sql` (a parenthesised scalar subquery).
async fn text(conn: &mut AsyncPgConnection, sql: &str) -> Option<String> {
    diesel::select(diesel::dsl::sql::<Nullable<Text>>(sql))
        .get_result(conn)
        .await
        .unwrap()
}

/// One integer computed by `sql` (a parenthesised scalar subquery).
async fn integer(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    diesel::select(diesel::dsl::sql::<BigInt>(sql))
        .get_result(conn)
        .await
        .unwrap()
}

/// Every column, index and constraint of the public schema, as one text.
async fn schema_of(conn: &mut AsyncPgConnection) -> String {
    text(
        conn,
        "(SELECT string_agg(item, E'\\n' ORDER BY item) FROM (
            SELECT format('%s.%s %s %s %s', table_name, column_name, data_type,
                          is_nullable, column_default) AS item
              FROM information_schema.columns WHERE table_schema = 'public'
            UNION ALL
            SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'
            UNION ALL
            SELECT format('%s %s', conname, pg_get_constraintdef(oid))
              FROM pg_constraint WHERE connamespace = 'public'::regnamespace
        ) AS schema)",
    )
    .await
    .unwrap_or_default()
}

/// Rows of diesel's record of applied migrations.
async fn applied_migrations(conn: &mut AsyncPgConnection) -> i64 {
    integer(conn, "(SELECT count(*) FROM __diesel_schema_migrations)").await
}

#[tokio::test(flavor = "multi_thread")]
async fn migrating_twice_changes_nothing() {
    let db = TestDb::create().await.unwrap();
    let mut raw = db.connect().await.unwrap();
    assert!(
        migrate(&db.url).await.unwrap() >= 1,
        "a new database gets the schema"
    );
    let schema = schema_of(&mut raw).await;
    assert!(
        schema.contains("attachments.created_at timestamp with time zone NO"),
        "native types: {schema}"
    );
    assert!(schema.contains("attachments.id uuid NO"), "{schema}");
    assert!(schema.contains("attachments.tags ARRAY NO"), "{schema}");
    let migrations = applied_migrations(&mut raw).await;

    assert_eq!(
        migrate(&db.url).await.unwrap(),
        0,
        "then nothing is pending"
    );
    assert_eq!(schema_of(&mut raw).await, schema);
    assert_eq!(applied_migrations(&mut raw).await, migrations);

    let store = PgStore::open(&db.url, &PgSettings::default())
        .await
        .unwrap();
    let t = tenant("kept");
    store.create_tenant(&t).await.unwrap();
    let mut a = ready_attachment(t.id, "T1", t.created_at);
    a.number = store.insert(&a).await.unwrap();
    drop(store);

    // the other scheme names the same database
    let again_url = db.url.replacen("postgres://", "postgresql://", 1);
    assert_ne!(again_url, db.url);
    let again = PgStore::open(&again_url, &PgSettings::default())
        .await
        .unwrap();
    assert_eq!(schema_of(&mut raw).await, schema);
    assert_eq!(applied_migrations(&mut raw).await, migrations);
    assert_eq!(again.tenant_by_slug("kept").await.unwrap(), Some(t.clone()));
    assert_eq!(again.get(t.id, a.id).await.unwrap(), Some(a.clone()));
    let next = ready_attachment(t.id, "T1", t.created_at);
    assert!(
        again.insert(&next).await.unwrap() > a.number,
        "numbers go on increasing"
    );
}

/// Without the advisory lock, instances racing to create the same tables fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_opens_of_a_fresh_database_all_succeed() {
    const INSTANCES: usize = 8;
    let db = TestDb::create().await.unwrap();
    let mut settings = PgSettings::default();
    settings.pool_size = 2;
    let opens: Vec<_> = (0..INSTANCES)
        .map(|_| {
            let (url, settings) = (db.url.clone(), settings.clone());
            tokio::spawn(async move { PgStore::open(&url, &settings).await })
        })
        .collect();
    let mut stores = Vec::new();
    for open in opens {
        stores.push(open.await.unwrap().unwrap());
    }

    let mut raw = db.connect().await.unwrap();
    let tables = integer(
        &mut raw,
        "(SELECT count(*) FROM pg_tables WHERE schemaname = 'public')",
    )
    .await;
    assert_eq!(tables, 10, "nine tables and diesel's record of migrations");
    assert_eq!(
        migrate(&db.url).await.unwrap(),
        0,
        "every migration applied once"
    );

    for (i, store) in stores.iter().enumerate() {
        store
            .create_tenant(&tenant(&format!("i-{i}")))
            .await
            .unwrap();
    }
    for store in &stores {
        for i in 0..INSTANCES {
            assert!(
                store
                    .tenant_by_slug(&format!("i-{i}"))
                    .await
                    .unwrap()
                    .is_some()
            );
        }
    }
}

/// Statements stuck behind a lock, one on each pooled connection at once, are
/// all cancelled after the statement timeout, and the connections stay usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_pooled_connection_has_the_statement_timeout() {
    const CONNECTIONS: i64 = 4;
    let db = TestDb::create().await.unwrap();
    let mut settings = PgSettings::default();
    settings.pool_size = 4;
    settings.statement_timeout = Duration::from_secs(1);
    let store = PgStore::open(&db.url, &settings).await.unwrap();
    let mut blocker = db.connect().await.unwrap();
    blocker
        .batch_execute("BEGIN; LOCK TABLE tenants IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();

    let started = Instant::now();
    let waits: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.tenant_by_slug("anyone").await })
        })
        .collect();
    // all of them wait at the same time, each on a connection of its own
    let waiting = "(SELECT count(*) FROM pg_locks
                     WHERE NOT granted AND relation = 'tenants'::regclass)";
    while integer(&mut blocker, waiting).await < CONNECTIONS {
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "the statements did not all wait before the timeout"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let named = integer(
        &mut blocker,
        "(SELECT count(*) FROM pg_stat_activity
           WHERE datname = current_database() AND application_name = 'clasp')",
    )
    .await;
    assert_eq!(named, CONNECTIONS, "the pool's sessions are named clasp");

    for wait in waits {
        match wait.await.unwrap() {
            Err(RepoError::Backend(message)) => assert!(
                message.contains("statement timeout"),
                "cancelled by the statement timeout: {message}"
            ),
            other => panic!("expected a cancelled statement, got {other:?}"),
        }
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "cancelled after {took:?}"
    );

    blocker.batch_execute("COMMIT").await.unwrap();
    let after: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.tenant_by_slug("anyone").await })
        })
        .collect();
    for done in after {
        assert_eq!(done.await.unwrap().unwrap(), None);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_urls_and_settings_fail_at_once_with_a_clear_error() {
    let started = Instant::now();
    for url in [
        "",
        "mysql://clasp@127.0.0.1/clasp",
        "postgres:clasp",
        "postgres:///clasp",
        "postgres://clasp:s3cret@127.0.0.1:port/clasp",
        "postgres://clasp:s3cret@127.0.0.1/clasp?sslmode=sometimes",
    ] {
        let error = PgStore::open(url, &PgSettings::default())
            .await
            .unwrap_err();
        assert!(
            matches!(error, DbError::InvalidPgUrl { .. }),
            "{url:?}: {error:?}"
        );
        let message = error.to_string();
        assert!(
            message.starts_with("invalid PostgreSQL URL"),
            "{url:?}: {message}"
        );
        assert!(
            !message.contains("s3cret"),
            "the password is hidden: {message}"
        );
        if url.contains(":port/") {
            assert!(
                message.contains("option `port`"),
                "the reason is told: {message}"
            );
        }
    }
    assert!(matches!(
        migrate("postgresql:oops").await,
        Err(DbError::InvalidPgUrl { .. })
    ));
    let mut no_pool = PgSettings::default();
    no_pool.pool_size = 0;
    assert!(matches!(
        PgStore::open("postgres://clasp@127.0.0.1/clasp", &no_pool).await,
        Err(DbError::InvalidPgSettings(_))
    ));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_or_silent_server_fails_within_the_connect_timeout() {
    let mut settings = PgSettings::default();
    settings.connect_timeout = Duration::from_millis(500);

    // nothing listens: refused at once
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://clasp:s3cret@127.0.0.1:{closed_port}/clasp");
    let started = Instant::now();
    let error = PgStore::open(&url, &settings).await.unwrap_err();
    assert!(matches!(error, DbError::PgConnect { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "cannot connect to PostgreSQL at postgres://clasp:***@127.0.0.1:{closed_port}/clasp"
        )),
        "{message}"
    );
    assert!(message.contains("refused"), "the cause is told: {message}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // a listener that never answers: given up after the connect timeout
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "postgres://clasp@127.0.0.1:{}/clasp",
        silent.local_addr().unwrap().port()
    );
    let started = Instant::now();
    let error = PgStore::open(&url, &settings).await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(error, DbError::PgConnect { .. }), "{error:?}");
    assert!(error.to_string().contains("connect timeout"), "{error}");
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "{took:?}"
    );
    drop(silent);

    // the server answers, but there is no such database
    let missing = with_database(&common::pg_server_url(), "no_such_database");
    let error = PgStore::open(&missing, &settings).await.unwrap_err();
    assert!(matches!(error, DbError::PgConnect { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("database \"no_such_database\" does not exist"),
        "the server's reason is told: {error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn timestamps_keep_microseconds() {
    let (store, _db) = common::pg_store().await.unwrap();
    let instants = [
        datetime!(2026-11-22 10:11:12.123456 UTC),
        datetime!(1970-01-01 00:00:00.000001 UTC),
        datetime!(1969-12-31 23:59:59.999999 UTC),
        datetime!(1999-12-31 23:59:59.999999 UTC),
        datetime!(2000-01-01 00:00:00.000001 UTC),
        datetime!(1900-06-30 12:00:00.5 UTC),
        datetime!(9999-12-31 23:59:59.999999 UTC),
        // another offset: the same instant comes back, in UTC
        datetime!(2026-11-22 12:11:12.654321 +02:00),
    ];
    for (i, at) in instants.into_iter().enumerate() {
        let mut t = tenant(&format!("time-{i}"));
        t.created_at = at;
        store.create_tenant(&t).await.unwrap();
        assert_eq!(store.tenant_by_id(t.id).await.unwrap(), Some(t.clone()));

        let mut a = ready_attachment(t.id, "T", at - Duration::from_micros(1));
        a.updated_at = at;
        a.number = store.insert(&a).await.unwrap();
        assert_eq!(store.get(t.id, a.id).await.unwrap(), Some(a.clone()));

        let k = key(t.id, &format!("ixk_time{i}"));
        store.create_api_key(&k).await.unwrap();
        assert!(store.revoke_api_key(k.id, at).await.unwrap());
        let revoked = store.api_key_by_hash(&k.hash).await.unwrap().unwrap();
        assert_eq!(revoked.revoked_at, Some(at));

        let s = Session {
            id: Uuid::now_v7(),
            tenant_id: t.id,
            user_id: "u".into(),
            hash: Uuid::now_v7().simple().to_string(),
            created_at: at - Duration::from_micros(3_600_000_001),
            expires_at: at,
            revoked_at: Some(at - Duration::from_micros(1)),
            reach: clasp_domain::Reach::Own,
        };
        store.create_session(&s).await.unwrap();
        assert_eq!(store.session_by_hash(&s.hash).await.unwrap(), Some(s));
    }
}

/// actix-web runs each worker on a current-thread runtime, where diesel-async's
/// own migration harness would panic.
#[tokio::test(flavor = "current_thread")]
async fn opens_and_serves_on_a_current_thread_runtime() {
    let db = TestDb::create().await.unwrap();
    let store = PgStore::open(&db.url, &PgSettings::default())
        .await
        .unwrap();
    let t = tenant("single-threaded");
    store.create_tenant(&t).await.unwrap();
    let a = ready_attachment(t.id, "T", t.created_at);
    store.insert(&a).await.unwrap();
    let listed = store
        .list_ready(t.id, &SubjectRef::Ticket("T".into()), usize::MAX)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(migrate(&db.url).await.unwrap(), 0);
}

/// Connections the server closed (a restart, a failover, an administrator) are
/// noticed and replaced, not handed out again.
#[tokio::test(flavor = "multi_thread")]
async fn connections_the_server_closed_are_replaced() {
    let (store, db) = common::pg_store().await.unwrap();
    let t = tenant("survivor");
    store.create_tenant(&t).await.unwrap();
    let mut admin = db.connect().await.unwrap();
    let others = "(SELECT count(*) FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid())";
    assert!(integer(&mut admin, others).await >= 1);
    admin
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while integer(&mut admin, others).await > 0 {
        assert!(Instant::now() < deadline, "the sessions did not end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // the client learns of the closed socket asynchronously
    tokio::time::sleep(Duration::from_millis(200)).await;

    assert_eq!(store.tenant_by_slug("survivor").await.unwrap(), Some(t));
}

/// Rows written before the listing migration are listed by kind, file format
/// and tag once it ran: its backfill agrees with the domain's definitions.
#[tokio::test(flavor = "multi_thread")]
async fn the_listing_migration_backfills_existing_rows() {
    use diesel::Connection;
    use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
    use diesel_migrations::{EmbeddedMigrations, embed_migrations};
    const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

    let db = TestDb::create().await.unwrap();
    let store = PgStore::open(&db.url, &PgSettings::default())
        .await
        .unwrap();
    let t = tenant("old-rows");
    let ids = common::insert_old_rows(
        &store,
        &ready_attachment(t.id, "T1", OffsetDateTime::UNIX_EPOCH),
    )
    .await;
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn: AsyncConnectionWrapper<AsyncPgConnection> =
            AsyncConnectionWrapper::establish(&url).unwrap();
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
    use diesel::Connection;
    use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
    use diesel_migrations::{EmbeddedMigrations, embed_migrations};
    const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

    let db = TestDb::create().await.unwrap();
    let store = PgStore::open(&db.url, &PgSettings::default())
        .await
        .unwrap();
    let (a, b) = (tenant("numbered-a"), tenant("numbered-b"));
    let rows = common::insert_in_turn(&store, a.id, b.id).await;
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn: AsyncConnectionWrapper<AsyncPgConnection> =
            AsyncConnectionWrapper::establish(&url).unwrap();
        common::reapply_migration(&mut conn, || MIGRATIONS, common::NUMBERING_MIGRATION);
    })
    .await
    .unwrap();
    common::assert_numbers_kept(&store, &rows).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_only_while_every_migration_is_applied() {
    let db = TestDb::create().await.unwrap();
    let store = PgStore::open(&db.url, &PgSettings::default())
        .await
        .unwrap();
    store.check_ready().await.unwrap();

    // an older schema than this binary's is not ready
    let mut raw = db.connect().await.unwrap();
    raw.batch_execute(
        "DELETE FROM __diesel_schema_migrations
          WHERE version = (SELECT max(version) FROM __diesel_schema_migrations)",
    )
    .await
    .unwrap();
    let Err(RepoError::Backend(why)) = store.check_ready().await else {
        panic!("a missing migration is not ready");
    };
    assert!(why.contains("migrations not current"), "{why}");
}
