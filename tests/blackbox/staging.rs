//! Staged uploads on PostgreSQL and S3: a presigned upload URL replayed after
//! its upload was confirmed, or deleted, writes the staged object again,
//! straight to the bucket; once the URL has expired the sweeper deletes it a
//! last time, so no bytes are left that nothing counts.

use std::time::Duration;

use clasp_domain::ports::BlobStore;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{HELPER_TICKET, Server, client, required};
use crate::shared::{fresh_postgres_database, on_postgres_and_s3, psql, test_bucket};

const SLUG: &str = "ws-staged";

/// What the client did with its direct upload before replaying the `PUT`.
#[derive(PartialEq)]
enum Then {
    Confirmed,
    Deleted,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_presigned_put_replayed_after_the_confirm_is_swept_once_the_url_expired() {
    replay_after(Then::Confirmed).await;
}

/// The deleted attachment's tombstone waits, hidden and costing nothing, for
/// the URL to expire, and goes with the replayed bytes.
#[tokio::test(flavor = "multi_thread")]
async fn a_presigned_put_replayed_after_the_delete_is_swept_once_the_url_expired() {
    replay_after(Then::Deleted).await;
}

async fn replay_after(then: Then) {
    let database = fresh_postgres_database();
    let work = on_postgres_and_s3(&database).with_env("CLASP_UPLOAD_URL_TTL_SECS", "3");
    let key = work.tenant_with_key(
        SLUG,
        "attachments:read,attachments:write,attachments:delete",
    );
    let server = Server::start(&work);
    let c = client();
    let base = server.url(&format!("/v1/workspaces/{SLUG}"));
    let post = |path: String, body: Value| {
        c.post(format!("{base}{path}"))
            .bearer_auth(&key)
            .header("x-workspace-id", SLUG)
            .json(&body)
            .send()
    };
    let begun: Value = post(
        format!("/tickets/{HELPER_TICKET}/attachments/upload-url"),
        json!({"filename": "a.txt", "contentType": "text/plain", "size": 5}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let url = begun["url"].as_str().unwrap().to_owned();
    let id = begun["attachmentId"].as_str().unwrap().to_owned();
    let put = |body: &'static [u8]| {
        c.put(&url)
            .header("Content-Type", "text/plain")
            .body(body)
            .send()
    };
    assert!(put(b"hello").await.unwrap().status().is_success());
    let confirmed = post(format!("/attachments/{id}/confirm"), json!({}))
        .await
        .unwrap();
    assert_eq!(confirmed.status(), StatusCode::OK);
    let attachment = format!("{base}/attachments/{id}");
    if then == Then::Deleted {
        let deleted = c
            .delete(&attachment)
            .bearer_auth(&key)
            .header("x-workspace-id", SLUG)
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        let usage = work.admin(&["admin", "quota", "show", "--tenant", SLUG]);
        let usage: Value = serde_json::from_str(&usage).unwrap();
        assert_eq!(
            (&usage["used_bytes"], &usage["used_attachments"]),
            (&json!(0), &json!(0)),
            "a delete gives the quota back at once"
        );
    }

    // the URL still works: a replay lands in the bucket, under the staged key
    assert!(put(b"again").await.unwrap().status().is_success());
    let parsed = reqwest::Url::parse(&url).unwrap();
    let prefix = format!("/{}/", required("CLASP_TEST_S3_BUCKET"));
    let staged = parsed.path().strip_prefix(&prefix).unwrap().to_owned();
    assert!(staged.starts_with("uploads/"), "{staged}");
    let store = test_bucket();
    assert_eq!(store.head(&staged).await.unwrap(), Some(5), "replayed");

    // once the URL has expired, a sweep deletes it; the attachment stays
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(put(b"late!").await.unwrap().status(), StatusCode::FORBIDDEN);
    work.admin(&["gc"]);
    assert_eq!(store.head(&staged).await.unwrap(), None, "swept");
    let download = c
        .get(format!("{attachment}/download"))
        .bearer_auth(&key)
        .header("x-workspace-id", SLUG)
        .send()
        .await
        .unwrap();
    let rows = psql(&database, "SELECT count(*) FROM attachments");
    match then {
        Then::Confirmed => assert_eq!((download.status(), rows), (StatusCode::OK, "1".into())),
        Then::Deleted => assert_eq!(
            (download.status(), rows),
            (StatusCode::NOT_FOUND, "0".into())
        ),
    }
}
