//! The `workspaces` dialect end to end: the seed's flow on the embedded
//! defaults (SQLite and a local directory, so the upload URL is Clasp's own)
//! and on PostgreSQL and SeaweedFS (the PUT goes to S3 itself); every refusal
//! leaving nothing downloadable; abandoned uploads swept by `clasp serve` and by
//! `clasp gc`.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::{PNG, Server, Workdir, client, put_to as put};
use crate::shared::{fresh_postgres_database, on_postgres_and_s3, s3_endpoint};

const TICKET: &str = "550e8400-e29b-41d4-a716-446655440000";
const ALL: &str = "attachments:read,attachments:write,attachments:delete";

/// A client of workspace `ws` with `key`, against `server`.
struct Ws<'a> {
    server: &'a Server,
    c: reqwest::Client,
    key: String,
    ws: String,
}

impl<'a> Ws<'a> {
    fn new(server: &'a Server, key: &str, ws: &str) -> Self {
        Self {
            server,
            c: client(),
            key: key.to_owned(),
            ws: ws.to_owned(),
        }
    }

    fn url(&self, path: &str) -> String {
        self.server
            .url(&format!("/v1/workspaces/{}{path}", self.ws))
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.c
            .get(self.url(path))
            .bearer_auth(&self.key)
            .header("x-workspace-id", &self.ws)
    }

    fn post(&self, path: &str, body: Value) -> reqwest::RequestBuilder {
        self.c
            .post(self.url(path))
            .bearer_auth(&self.key)
            .header("x-workspace-id", &self.ws)
            .json(&body)
    }

    async fn upload_url(&self, filename: &str, content_type: &str, size: usize) -> Value {
        let res = self
            .post(
                &format!("/tickets/{TICKET}/attachments/upload-url"),
                json!({"filename": filename, "contentType": content_type, "size": size}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json().await.unwrap()
    }

    async fn confirm(&self, id: &str, body: Value) -> (StatusCode, Value) {
        let res = self
            .post(&format!("/attachments/{id}/confirm"), body)
            .send()
            .await
            .unwrap();
        (res.status(), res.json().await.unwrap())
    }

    /// The status of a JSON download of `id` (200 only for a ready attachment).
    async fn download_status(&self, id: &str) -> StatusCode {
        self.get(&format!("/attachments/{id}/download"))
            .send()
            .await
            .unwrap()
            .status()
    }
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// What the seed's flow left behind, for the checks particular to a storage.
struct Flowed {
    id: String,
    /// The download URL answered as JSON.
    download_url: String,
}

/// The seed's flow, from upload-url to downloads by JSON and by redirect, by
/// a client of workspace `ws-123`; the upload URL must start with `upload_to`.
async fn seed_flow(server: &Server, key: &str, upload_to: &str) -> Flowed {
    let ws = Ws::new(server, key, "ws-123");

    // 1) POST upload-url for the ticket
    let begun = ws
        .upload_url("screenshot.png", "image/png", PNG.len())
        .await;
    let id = begun["attachmentId"].as_str().unwrap().to_owned();
    let url = begun["uploadUrl"].as_str().unwrap();
    assert_eq!(begun["url"], url);
    assert!(url.starts_with(upload_to), "{url}");
    let expires = time::OffsetDateTime::parse(
        begun["expiresAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let ttl = expires - time::OffsetDateTime::now_utc();
    assert!(
        ttl > time::Duration::minutes(14)
            && ttl <= time::Duration::minutes(15) + time::Duration::seconds(1),
        "15 minutes by default: {ttl}"
    );

    // 2) PUT the file to the returned URL, no other credentials
    let res = put(&begun, PNG.to_vec()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();

    // 3) POST confirm (quoting the ETag, as an S3 client would)
    let (status, confirmed) = ws.confirm(&id, json!({ "s3ETag": etag })).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert_eq!(confirmed["status"], "ready");
    assert_eq!(confirmed["size"], PNG.len());
    assert_eq!(confirmed["contentType"], "image/png");
    assert_eq!(confirmed["sha256"], hex(&Sha256::digest(PNG)));
    let (status, again) = ws.confirm(&id, json!({})).await;
    assert_eq!((status, &again), (StatusCode::OK, &confirmed), "idempotent");

    // 4) use the attachmentId in a message on the ticket
    let res = ws
        .post(
            &format!("/tickets/{TICKET}/messages"),
            json!({"body": "Here is the screenshot", "attachmentIds": [id]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let message: Value = res.json().await.unwrap();
    let message_id = message["id"].as_str().unwrap().to_owned();
    assert_eq!(message["attachmentIds"], json!([id]));

    // list by message and by ticket
    for path in [
        format!("/messages/{message_id}/attachments"),
        format!("/tickets/{TICKET}/attachments"),
    ] {
        let listed: Value = ws.get(&path).send().await.unwrap().json().await.unwrap();
        assert_eq!(listed.as_array().unwrap().len(), 1, "{path}: {listed}");
        assert_eq!(listed[0]["id"], id.as_str());
        assert_eq!(listed[0]["messageId"], message_id.as_str());
        assert_eq!(listed[0]["ticketId"], TICKET);
    }

    // download: JSON by default, a 302 with ?redirect=true; identical bytes
    let dl: Value = ws
        .get(&format!("/attachments/{id}/download"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let download_url = dl["url"].as_str().unwrap().to_owned();
    assert!(dl["expiresAt"].as_str().is_some());
    let res = ws
        .get(&format!("/attachments/{id}/download?redirect=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    for url in [&download_url, &location] {
        let file = reqwest::get(url.as_str()).await.unwrap();
        assert_eq!(file.status(), StatusCode::OK);
        assert_eq!(file.headers()["content-type"], "image/png");
        assert_eq!(file.bytes().await.unwrap().as_ref(), PNG, "{url}");
    }
    // a client that follows redirects gets the file in one call
    let followed = reqwest::Client::new()
        .get(ws.url(&format!("/attachments/{id}/download?redirect=true")))
        .bearer_auth(key)
        .header("x-workspace-id", "ws-123")
        .send()
        .await
        .unwrap();
    assert_eq!(followed.bytes().await.unwrap().as_ref(), PNG);
    Flowed { id, download_url }
}

/// DELETE answers 204 and takes the bytes and the URLs with it.
async fn delete_and_check(server: &Server, key: &str, flowed: &Flowed) {
    let res = client()
        .delete(server.url(&format!("/v1/workspaces/ws-123/attachments/{}", flowed.id)))
        .bearer_auth(key)
        .header("x-workspace-id", "ws-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let after = reqwest::get(&flowed.download_url).await.unwrap().status();
    assert!(after.is_client_error(), "{after}");
}

#[tokio::test]
async fn the_seed_flow_end_to_end_on_local_storage() {
    let work = Workdir::new();
    let key = work.tenant_with_key("ws-123", ALL);
    let server = Server::start(&work);
    let flowed = seed_flow(&server, &key, &format!("{}/signed-upload/", server.base)).await;
    assert_eq!(
        work.blob_files().len(),
        1,
        "one verified copy, no upload left"
    );

    // the same attachment is visible through the tickets dialect
    let via_tickets: Value = client()
        .get(server.url(&format!("/v1/tickets/{TICKET}/attachments")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(via_tickets[0]["id"], flowed.id.as_str());

    delete_and_check(&server, &key, &flowed).await;
    assert!(work.blob_files().is_empty(), "{:?}", work.blob_files());
}

#[tokio::test]
async fn the_seed_flow_end_to_end_on_s3() {
    let work = on_postgres_and_s3(&fresh_postgres_database());
    let key = work.tenant_with_key("ws-123", ALL);
    let server = Server::start(&work);
    // the PUT goes to the bucket itself, and so does the download
    let flowed = seed_flow(&server, &key, &s3_endpoint()).await;
    assert!(flowed.download_url.starts_with(&s3_endpoint()));
    delete_and_check(&server, &key, &flowed).await;
}

#[tokio::test]
async fn refusals_on_s3_leave_nothing_downloadable() {
    let work = on_postgres_and_s3(&fresh_postgres_database());
    let key = work.tenant_with_key("ws-123", ALL);
    let server = Server::start(&work);
    let ws = Ws::new(&server, &key, "ws-123");

    // more bytes than declared: the bucket refuses the signature
    let begun = ws.upload_url("notes.txt", "text/plain", 100).await;
    assert_eq!(
        put(&begun, vec![b'a'; 101]).await.status(),
        StatusCode::FORBIDDEN
    );
    let too_big = begun["attachmentId"].as_str().unwrap().to_owned();
    let (status, body) = ws.confirm(&too_big, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "not_uploaded")
    );

    // wrong bytes for the declared type: the bucket takes them, confirm does not
    let html = b"<html><script>alert(1)</script></html>";
    let begun = ws.upload_url("fake.png", "image/png", html.len()).await;
    assert_eq!(put(&begun, html.to_vec()).await.status(), StatusCode::OK);
    let fake = begun["attachmentId"].as_str().unwrap().to_owned();
    let (status, body) = ws.confirm(&fake, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "verification_failed")
    );

    // an ETag that is not the object's
    let begun = ws.upload_url("shot.png", "image/png", PNG.len()).await;
    assert_eq!(put(&begun, PNG.to_vec()).await.status(), StatusCode::OK);
    let tampered = begun["attachmentId"].as_str().unwrap().to_owned();
    let (status, body) = ws
        .confirm(
            &tampered,
            json!({ "s3ETag": "\"0123456789abcdef0123456789abcdef\"" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "checksum_mismatch")
    );

    // confirm before any upload
    let begun = ws.upload_url("early.pdf", "application/pdf", 1024).await;
    let early = begun["attachmentId"].as_str().unwrap().to_owned();
    let (status, body) = ws.confirm(&early, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "not_uploaded")
    );

    for id in [&too_big, &fake, &tampered, &early] {
        assert_eq!(ws.download_status(id).await, StatusCode::NOT_FOUND, "{id}");
    }
    let listed: Value = ws
        .get(&format!("/tickets/{TICKET}/attachments"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([]));
}

#[tokio::test]
async fn every_refusal_leaves_nothing_downloadable() {
    let work = Workdir::new();
    let key = work.tenant_with_key("ws-123", ALL);
    let other_key = work.tenant_with_key("ws-456", ALL);
    let server = Server::start(&work);
    let ws = Ws::new(&server, &key, "ws-123");

    // a PUT larger than declared: refused by its Content-Length…
    let begun = ws.upload_url("notes.txt", "text/plain", 100).await;
    let big = put(&begun, vec![b'a'; 101]).await;
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // …and while streaming when it states none
    let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(vec![b'a'; 16 * 1024]));
    let chunked = client()
        .put(begun["url"].as_str().unwrap())
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await;
    if let Ok(res) = chunked {
        // the server may also just close the connection mid-body
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    let too_big_id = begun["attachmentId"].as_str().unwrap().to_owned();
    let (status, body) = ws.confirm(&too_big_id, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "not_uploaded")
    );

    // wrong bytes for the declared type
    let html = b"<html><script>alert(1)</script></html>";
    let begun = ws.upload_url("fake.png", "image/png", html.len()).await;
    let res = put(&begun, html.to_vec()).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "content_type_mismatch");
    let fake_id = begun["attachmentId"].as_str().unwrap().to_owned();
    let (status, body) = ws.confirm(&fake_id, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "not_uploaded")
    );

    // confirm before any upload
    let begun = ws.upload_url("early.pdf", "application/pdf", 1024).await;
    let early_id = begun["attachmentId"].as_str().unwrap().to_owned();
    let (status, body) = ws.confirm(&early_id, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "not_uploaded")
    );

    // a workspace header that is not the path's
    let begun = ws.upload_url("mine.png", "image/png", PNG.len()).await;
    let mine = begun["attachmentId"].as_str().unwrap().to_owned();
    assert_eq!(put(&begun, PNG.to_vec()).await.status(), StatusCode::OK);
    let mismatched =
        ws.c.post(ws.url(&format!("/attachments/{mine}/confirm")))
            .bearer_auth(&key)
            .header("x-workspace-id", "ws-456")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
    assert_eq!(mismatched.status(), StatusCode::FORBIDDEN);
    let body: Value = mismatched.json().await.unwrap();
    assert_eq!(code(&body), "workspace_mismatch");

    // another tenant's key, on this workspace's paths or its own
    for (path_ws, header_ws) in [("ws-123", "ws-123"), ("ws-456", "ws-456")] {
        let stranger = Ws::new(&server, &other_key, path_ws);
        let res = stranger
            .c
            .post(stranger.url(&format!("/attachments/{mine}/confirm")))
            .bearer_auth(&other_key)
            .header("x-workspace-id", header_ws)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let expected = if path_ws == "ws-123" {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(res.status(), expected, "{path_ws}");
        assert_eq!(stranger.download_status(&mine).await, expected);
    }

    // none of them is downloadable or listed; the last is still pending
    for id in [&too_big_id, &fake_id, &early_id, &mine] {
        assert_eq!(ws.download_status(id).await, StatusCode::NOT_FOUND, "{id}");
    }
    let listed: Value = ws
        .get(&format!("/tickets/{TICKET}/attachments"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([]));
    let stored = work.blob_files();
    assert_eq!(stored.len(), 1, "only the pending upload: {stored:?}");
    let staged = stored[0].to_string_lossy();
    assert!(
        staged.contains("/uploads/") && staged.ends_with(mine.as_str()),
        "{stored:?}"
    );

    // its owner can still confirm it
    let (status, body) = ws.confirm(&mine, json!({})).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );
}

#[tokio::test]
async fn an_expired_upload_url_is_refused() {
    let work = Workdir::new()
        .with_env("CLASP_UPLOAD_URL_TTL_SECS", "1")
        .with_env("CLASP_SWEEP_INTERVAL_SECS", "3600");
    let key = work.tenant_with_key("ws-123", ALL);
    let server = Server::start(&work);
    let ws = Ws::new(&server, &key, "ws-123");
    let begun = ws.upload_url("late.png", "image/png", PNG.len()).await;
    let id = begun["attachmentId"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let res = put(&begun, PNG.to_vec()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_signature");
    let (status, body) = ws.confirm(&id, json!({})).await;
    assert_eq!((status, code(&body)), (StatusCode::GONE, "upload_expired"));
    assert_eq!(ws.download_status(&id).await, StatusCode::NOT_FOUND);
    assert!(work.blob_files().is_empty());
}

/// Waits until `done` holds, for at most `within`.
async fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    done()
}

#[tokio::test]
async fn the_sweeper_of_serve_removes_abandoned_uploads() {
    let work = Workdir::new()
        .with_env("CLASP_UPLOAD_URL_TTL_SECS", "2")
        .with_env("CLASP_SWEEP_INTERVAL_SECS", "1");
    let key = work.tenant_with_key("ws-123", ALL);
    let server = Server::start(&work);
    let ws = Ws::new(&server, &key, "ws-123");
    let begun = ws.upload_url("abandoned.png", "image/png", PNG.len()).await;
    let id = begun["attachmentId"].as_str().unwrap().to_owned();
    assert_eq!(put(&begun, PNG.to_vec()).await.status(), StatusCode::OK);
    assert_eq!(work.blob_files().len(), 1);

    assert!(
        eventually(Duration::from_secs(15), || work.blob_files().is_empty()).await,
        "the sweeper deleted the bytes: {:?}",
        work.blob_files()
    );
    // and the attachment itself: confirm no longer finds it (the row goes a
    // moment after the bytes, which the sweep deletes first)
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, body) = ws.confirm(&id, json!({})).await;
        if (status, code(&body)) == (StatusCode::NOT_FOUND, "not_found") {
            break;
        }
        assert!(Instant::now() < deadline, "still there: {status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn clasp_gc_removes_abandoned_uploads_once() {
    let work = Workdir::new()
        .with_env("CLASP_UPLOAD_URL_TTL_SECS", "5")
        .with_env("CLASP_SWEEP_INTERVAL_SECS", "3600");
    let key = work.tenant_with_key("ws-123", ALL);
    let server = Server::start(&work);
    let ws = Ws::new(&server, &key, "ws-123");
    let abandoned = ws.upload_url("abandoned.png", "image/png", PNG.len()).await;
    assert_eq!(put(&abandoned, PNG.to_vec()).await.status(), StatusCode::OK);
    let never_sent = ws.upload_url("never.png", "image/png", PNG.len()).await;
    let kept = ws.upload_url("kept.png", "image/png", PNG.len()).await;
    assert_eq!(put(&kept, PNG.to_vec()).await.status(), StatusCode::OK);
    let kept_id = kept["attachmentId"].as_str().unwrap().to_owned();
    assert_eq!(ws.confirm(&kept_id, json!({})).await.0, StatusCode::OK);

    assert_eq!(work.admin(&["gc"]), "0", "nothing has expired yet");
    let expiry = time::OffsetDateTime::parse(
        never_sent["expiresAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let wait = expiry - time::OffsetDateTime::now_utc() + time::Duration::milliseconds(300);
    tokio::time::sleep(Duration::try_from(wait).unwrap_or_default()).await;
    assert_eq!(work.admin(&["gc"]), "2");
    assert_eq!(work.admin(&["gc"]), "0");
    assert_eq!(
        work.blob_files().len(),
        1,
        "only the confirmed file remains"
    );
    for gone in [&abandoned, &never_sent] {
        let id = gone["attachmentId"].as_str().unwrap();
        assert_eq!(ws.confirm(id, json!({})).await.0, StatusCode::NOT_FOUND);
    }
    assert_eq!(ws.download_status(&kept_id).await, StatusCode::OK);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
