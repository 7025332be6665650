//! Staged uploads on PostgreSQL and S3: a presigned upload URL replayed after
//! its upload was confirmed writes the staged object again, straight to the
//! bucket; once the URL has expired the sweeper deletes it a last time, so no
//! bytes are left that nothing counts.

use std::time::Duration;

use clasp_domain::ports::BlobStore;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{HELPER_TICKET, Server, client, required};
use crate::shared::{fresh_postgres_database, on_postgres_and_s3, test_bucket};

const SLUG: &str = "ws-staged";

#[tokio::test(flavor = "multi_thread")]
async fn a_presigned_put_replayed_after_the_confirm_is_swept_once_the_url_expired() {
    let work =
        on_postgres_and_s3(&fresh_postgres_database()).with_env("CLASP_UPLOAD_URL_TTL_SECS", "3");
    let key = work.tenant_with_key(SLUG, "attachments:read,attachments:write");
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
        .get(format!("{base}/attachments/{id}/download"))
        .bearer_auth(&key)
        .header("x-workspace-id", SLUG)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
}
