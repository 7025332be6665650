//! The sweeper of `clasp serve` against what can go wrong around it: an upload
//! whose request outlives its deadline (the sweep claims it while the bytes
//! still arrive, so the commit loses and nothing stays), and a client delete
//! whose object delete fails (a tombstone stays hidden, and a later sweep
//! removes the bytes once the store is back), and a tenant's purge cut off by
//! a crash (the sweeper of the next instance finishes it). On the embedded
//! defaults and on PostgreSQL + S3, where the store matters.

use std::io::Write;
use std::time::{Duration, Instant};

use clasp_domain::ports::BlobStore;
use reqwest::StatusCode;
use serde_json::Value;

use crate::admin::admin;
use crate::harness::{PNG, Server, Workdir, answer, client, connect, form, upload_to_ticket};
use crate::relay::Relay;
use crate::shared::{fresh_postgres_database, on_postgres_and_s3, psql, s3_endpoint, test_bucket};

const TICKET: &str = "550e8400-e29b-41d4-a716-446655440000";
const SCOPES: &str = "attachments:read,attachments:write,attachments:delete";

/// A streamed upload's deadline (the upload-URL lifetime) and the sweep
/// interval, short enough for a test.
fn swept_quickly(work: Workdir) -> Workdir {
    work.with_env("CLASP_UPLOAD_URL_TTL_SECS", "2")
        .with_env("CLASP_SWEEP_INTERVAL_SECS", "1")
}

/// Creates a tenant and a key; returns the tenant's id and the key.
fn tenant_and_key(work: &Workdir, slug: &str) -> (String, String) {
    let tenant: Value =
        serde_json::from_str(&work.admin(&["admin", "tenant", "create", "--slug", slug])).unwrap();
    let key = work.admin(&[
        "admin", "key", "create", "--tenant", slug, "--scopes", SCOPES,
    ]);
    (tenant["id"].as_str().unwrap().to_owned(), key)
}

/// Sends a tickets upload of `PNG` in two halves, calling `meanwhile` between
/// them; answers the start of the server's answer.
fn upload_in_two_halves(server: &Server, key: &str, meanwhile: impl FnOnce()) -> String {
    let part = "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"late.png\"\r\n\
                Content-Type: image/png\r\n\r\n";
    let body = [part.as_bytes(), PNG, b"\r\n--B--\r\n"].concat();
    let addr = server.base.trim_start_matches("http://");
    let head = format!(
        "POST /v1/tickets/{TICKET}/attachments HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: multipart/form-data; boundary=B\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut stream = connect(server);
    let (first, rest) = body.split_at(part.len() + PNG.len() / 2);
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(first).unwrap();
    meanwhile();
    stream.write_all(rest).unwrap();
    answer(&mut stream)
}

/// The tenant's ready attachments on the test ticket, as a client lists them.
async fn listed(server: &Server, key: &str) -> Vec<Value> {
    let url = server.url(&format!("/v1/tickets/{TICKET}/attachments"));
    let res = client().get(url).bearer_auth(key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let listed: Value = res.json().await.unwrap();
    listed.as_array().cloned().unwrap_or_default()
}

/// The upload's row is past its deadline while its body still arrives: the
/// sweeper deletes it, the commit at the end of the body then finds nothing to
/// commit, and the client hears 404; no row and no byte stay.
#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_racing_a_commit_leaves_nothing_on_the_embedded_defaults() {
    let work = swept_quickly(Workdir::new());
    let (_, key) = tenant_and_key(&work, "racing");
    let server = Server::start(&work);
    let answered = upload_in_two_halves(&server, &key, || {
        std::thread::sleep(Duration::from_secs(4));
    });
    assert!(answered.starts_with("HTTP/1.1 404"), "{answered}");
    assert!(listed(&server, &key).await.is_empty());
    assert_eq!(work.blob_files(), Vec::<std::path::PathBuf>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_racing_a_commit_leaves_nothing_on_postgres_and_s3() {
    let database = fresh_postgres_database();
    let work = swept_quickly(on_postgres_and_s3(&database));
    let (tenant, key) = tenant_and_key(&work, "racing");
    let server = Server::start(&work);
    let mut id = String::new();
    let answered = upload_in_two_halves(&server, &key, || {
        std::thread::sleep(Duration::from_millis(500));
        id = psql(
            &database,
            "SELECT id FROM attachments WHERE state = 'uploading'",
        );
        std::thread::sleep(Duration::from_millis(3500));
        assert_eq!(
            psql(&database, "SELECT count(*) FROM attachments"),
            "0",
            "the sweeper claimed the row while its body still arrived"
        );
    });
    assert!(!id.is_empty(), "the upload had a row before its deadline");
    assert!(answered.starts_with("HTTP/1.1 404"), "{answered}");
    assert!(listed(&server, &key).await.is_empty());
    assert_eq!(psql(&database, "SELECT count(*) FROM attachments"), "0");
    let bucket = test_bucket();
    assert_eq!(bucket.head(&format!("{tenant}/{id}")).await.unwrap(), None);
}

/// S3 goes away between an upload and its delete: the client's delete still
/// answers 204 and the attachment is gone for every reader at once, while its
/// bytes stay in the bucket under a tombstone; the sweeper retries, and once S3
/// is back the bytes and the tombstone go.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_object_delete_leaves_a_tombstone_a_later_sweep_clears() {
    let relay = Relay::start(s3_endpoint().trim_start_matches("http://")).await;
    let database = fresh_postgres_database();
    let work = on_postgres_and_s3(&database)
        .with_env("CLASP_S3_ENDPOINT", &format!("http://{}", relay.addr))
        .with_env("CLASP_SWEEP_INTERVAL_SECS", "1");
    let (tenant, key) = tenant_and_key(&work, "tombstones");
    let server = Server::start(&work);
    let c = client();
    let id = upload_to_ticket(
        &c,
        &server,
        &key,
        TICKET,
        form("file", "a.png", "image/png", PNG.to_vec()),
    )
    .await;
    let object = format!("{tenant}/{id}");
    let bucket = test_bucket();
    assert_eq!(bucket.head(&object).await.unwrap(), Some(PNG.len() as u64));

    relay.set_up(false);
    let url = server.url(&format!("/v1/tickets/{TICKET}/attachments/{id}"));
    let res = c.delete(&url).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = c.get(&url).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "hidden at once");
    assert!(listed(&server, &key).await.is_empty());
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        bucket.head(&object).await.unwrap(),
        Some(PNG.len() as u64),
        "S3 is down: the bytes are still there"
    );
    assert_eq!(
        psql(&database, "SELECT state FROM attachments"),
        "deleted",
        "a tombstone waits for the sweeper"
    );
    assert_eq!(
        server.metric("clasp_sweeper_backlog").await,
        1.0,
        "the metrics show what the sweeps leave"
    );

    relay.set_up(true);
    let deadline = Instant::now() + Duration::from_secs(30);
    while bucket.head(&object).await.unwrap().is_some() {
        assert!(
            Instant::now() < deadline,
            "the sweeper never removed the bytes"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while psql(&database, "SELECT count(*) FROM attachments") != "0" {
        assert!(Instant::now() < deadline, "the tombstone stayed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    while server.metric("clasp_sweeper_backlog").await != 0.0 {
        assert!(Instant::now() < deadline, "the backlog stayed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A tenant's purge cut off by a crash is resumed. S3 goes away while the host
/// deletes a tenant: its key is revoked at once, but the purge cannot delete
/// the bytes and stops, the tenant marked. `clasp serve` is then killed
/// (SIGKILL). Once S3 and the server are back, the sweeper finishes the purge:
/// no object, row or key of the tenant is left, and its slug is free again.
#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_purge_cut_off_by_a_crash_is_resumed_by_the_sweeper() {
    let relay = Relay::start(s3_endpoint().trim_start_matches("http://")).await;
    let database = fresh_postgres_database();
    let work = on_postgres_and_s3(&database)
        .with_env("CLASP_S3_ENDPOINT", &format!("http://{}", relay.addr))
        .with_env("CLASP_SWEEP_INTERVAL_SECS", "1");
    let (tenant, key) = tenant_and_key(&work, "purged");
    let server = Server::start(&work);
    let c = client();
    let mut objects = Vec::new();
    for name in ["a.png", "b.png", "c.png"] {
        let made = form("file", name, "image/png", PNG.to_vec());
        let id = upload_to_ticket(&c, &server, &key, TICKET, made).await;
        objects.push(format!("{tenant}/{id}"));
    }

    relay.set_up(false);
    let (status, body) = admin(&server, "DELETE", "/tenants/purged", None).await;
    assert!(status.is_server_error(), "S3 is down: {status} {body}");
    let url = server.url(&format!("/v1/tickets/{TICKET}/attachments"));
    let res = c.get(&url).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "revoked at once");
    drop(server); // SIGKILL
    assert_eq!(psql(&database, "SELECT count(*) FROM attachments"), "3");
    let marked = "SELECT count(*) FROM tenants WHERE deleting_since IS NOT NULL";
    assert_eq!(psql(&database, marked), "1");

    relay.set_up(true);
    let server = Server::start(&work);
    let bucket = test_bucket();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut left = 0;
        for object in &objects {
            left += usize::from(bucket.head(object).await.unwrap().is_some());
        }
        let rows = psql(&database, "SELECT count(*) FROM attachments");
        let tenants = psql(
            &database,
            "SELECT count(*) FROM tenants WHERE slug = 'purged'",
        );
        let keys = psql(&database, "SELECT count(*) FROM api_keys");
        if (left, rows.as_str(), tenants.as_str(), keys.as_str()) == (0, "0", "0", "0") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the purge was not resumed: {left} objects, {rows} rows, {tenants} tenants, {keys} keys"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let again = serde_json::json!({ "slug": "purged" });
    let (status, _) = admin(&server, "POST", "/tenants", Some(again)).await;
    assert_eq!(status, StatusCode::CREATED, "the slug is free again");
}
