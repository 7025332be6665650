//! The `redirect` dialect end to end: 307 to a URL that works without
//! credentials (Clasp-signed on local storage, presigned by S3 on S3), its
//! errors, and the path it shares with the `chat` dialect.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{self, Server, Workdir, client, form, upload_to_ticket};
use crate::shared;

const TICKET: &str = "550e8400-e29b-41d4-a716-446655440000";
const ALL: &str = "attachments:read,attachments:write,attachments:delete";

/// Uploads `data` through the tickets dialect; returns the attachment's UUID.
async fn upload(c: &reqwest::Client, server: &Server, key: &str, data: &[u8]) -> String {
    let text = form("file", "report.txt", "text/plain", data.to_vec());
    upload_to_ticket(c, server, key, TICKET, text).await
}

/// `GET …/download` with `key`: the status and the `Location` or error body.
async fn download(
    c: &reqwest::Client,
    server: &Server,
    key: &str,
    id: &str,
) -> (StatusCode, Option<String>, Value) {
    let res = c
        .get(server.url(&format!("/api/v1/attachments/{id}/download")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let body = res.json().await.unwrap_or(Value::Null);
    (status, location, body)
}

async fn fetch(url: &str) -> (StatusCode, Vec<u8>) {
    harness::fetch(&client(), url).await
}

/// Seed 004's error bodies, word for word: `{"error": "Unauthorized",
/// "message": "Authentication required. Please provide a valid API token",
/// "code": 401}`, and likewise `"Forbidden"`, `"Not Found"` and `"Service
/// Unavailable"`; the problem code the seed names ("Problem code unauthorized",
/// "insufficient_scope") travels in `problem`.
pub(crate) fn assert_error(status: StatusCode, body: &Value, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{body}");
    let message = match want.as_u16() {
        401 => "Authentication required. Please provide a valid API token",
        403 => "You don't have permission to access this resource",
        404 => "The requested resource was not found",
        503 => "The service is temporarily unavailable. Please try again later",
        other => panic!("seed 004 shows no body for {other}"),
    };
    let seed = serde_json::json!({
        "error": want.canonical_reason().unwrap(),
        "message": message,
        "code": want.as_u16(),
        "problem": code,
    });
    assert_eq!(body, &seed);
}

/// The integer query parameter `name` of `url`.
fn query_int(url: &str, name: &str) -> i64 {
    url.split(['?', '&'])
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .unwrap()
        .parse()
        .unwrap()
}

/// Changes a character of the signature in the query.
fn tampered(url: &str) -> String {
    let at = url.find("ignature=").unwrap() + "ignature=".len();
    let mut chars: Vec<char> = url.chars().collect();
    let i = at + 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

#[tokio::test]
async fn bearer_downloads_redirect_to_a_url_that_needs_no_credentials() {
    let work = Workdir::new().with_env("CLASP_CREDENTIAL_CACHE_SECS", "1");
    let key = work.tenant_with_key("rd-1", ALL);
    let reader = work.admin(&[
        "admin",
        "key",
        "create",
        "--tenant",
        "rd-1",
        "--scopes",
        "attachments:read",
    ]);
    let foreign = work.tenant_with_key("rd-2", ALL);
    let server = Server::start(&work);
    let c = client();
    let data = "the exact bytes ✓\r\n".as_bytes().to_vec();
    let id = upload(&c, &server, &key, &data).await;

    let (status, location, body) = download(&c, &server, &reader, &id).await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        body,
        serde_json::json!({}),
        "the seed shows the 307's body: {{}}"
    );
    let url = location.unwrap();
    let expires = query_int(&url, "expires");
    let ttl = expires - time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((890..=901).contains(&ttl), "15 minutes: {ttl}");
    assert_eq!(fetch(&url).await, (StatusCode::OK, data.clone()));
    assert_eq!(fetch(&tampered(&url)).await.0, StatusCode::FORBIDDEN);
    let later = url.replace(
        &format!("expires={expires}"),
        &format!("expires={}", expires + 60),
    );
    assert_eq!(fetch(&later).await.0, StatusCode::FORBIDDEN);

    // unknown, another tenant's, not a UUID: all the same 404
    for (k, target) in [
        (&key, uuid::Uuid::now_v7().to_string()),
        (&foreign, id.clone()),
        (&key, "42".to_owned()),
    ] {
        let (status, _, body) = download(&c, &server, k, &target).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }

    // missing, invalid and revoked keys
    let (status, _, body) = download(&c, &server, "ixk_not-a-key", &id).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    let res = c
        .get(server.url(&format!("/api/v1/attachments/{id}/download")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: Value = res.json().await.unwrap();
    assert_error(
        StatusCode::UNAUTHORIZED,
        &body,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let doomed = work.admin(&["admin", "key", "create", "--tenant", "rd-1"]);
    assert_eq!(
        download(&c, &server, &doomed, &id).await.0,
        StatusCode::TEMPORARY_REDIRECT
    );
    // revoked by another process: seen within `credential_cache_secs`
    work.admin(&["admin", "key", "revoke", &doomed[..12]]);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, _, body) = download(&c, &server, &doomed, &id).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");

    // a read-only key may not write anything of the family
    let writes = [
        (reqwest::Method::DELETE, format!("/api/v1/attachments/{id}")),
        (reqwest::Method::PATCH, format!("/api/v1/attachments/{id}")),
        (
            reqwest::Method::POST,
            "/api/v1/messages/1/attachments".to_owned(),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/attachments/{id}/download"),
        ),
    ];
    for (method, path) in writes {
        let res = c
            .request(method.clone(), server.url(&path))
            .bearer_auth(&reader)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_error(status, &body, StatusCode::FORBIDDEN, "insufficient_scope");
    }
    assert_eq!(fetch(&url).await.0, StatusCode::OK, "nothing was deleted");

    // a key with the delete scope deletes; the URL handed out dies with it
    let res = c
        .delete(server.url(&format!("/api/v1/attachments/{id}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        download(&c, &server, &key, &id).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(fetch(&url).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_expired_redirect_url_is_refused() {
    let work = Workdir::new().with_env("CLASP_REDIRECT_URL_TTL_SECS", "1");
    let key = work.tenant_with_key("rd-3", ALL);
    let server = Server::start(&work);
    let c = client();
    let id = upload(&c, &server, &key, b"short-lived").await;
    let (_, location, _) = download(&c, &server, &key, &id).await;
    let url = location.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(fetch(&url).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn one_path_answers_a_key_with_a_redirect_and_a_session_with_a_file() {
    let work = Workdir::new();
    let key = work.tenant_with_key("rd-4", ALL);
    let session = work.admin(&[
        "admin", "session", "create", "--tenant", "rd-4", "--user", "u1",
    ]);
    let server = Server::start(&work);
    let c = client();
    let id = upload(&c, &server, &key, b"for the key").await;
    let res = c
        .post(server.url("/api/v1/messages/8/attachments"))
        .header("cookie", format!("clasp_session={session}"))
        .multipart(form(
            "files",
            "download",
            "text/plain",
            b"for the session".to_vec(),
        ))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    let number = body["attachmentIds"][0].as_i64().unwrap();

    let (status, location, _) = download(&c, &server, &key, &id).await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(fetch(&location.unwrap()).await.1, b"for the key");
    let res = c
        .get(server.url(&format!("/api/v1/attachments/{number}/download")))
        .header("cookie", format!("clasp_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"for the session");
    assert_eq!(
        download(&c, &server, &key, &number.to_string()).await.0,
        StatusCode::NOT_FOUND,
        "a key names attachments by UUID"
    );
}

#[tokio::test]
async fn unreachable_object_storage_is_503() {
    let work = Workdir::new();
    let key = work.tenant_with_key("rd-5", ALL);
    let id = {
        let server = Server::start(&work);
        upload(&client(), &server, &key, b"stored locally").await
    };
    // The same metadata, with a bucket nobody serves.
    let dead = crate::harness::free_port();
    let broken = Workdir {
        dir: work.dir,
        env: vec![
            ("CLASP_STORAGE_URL".into(), "s3://clasp".into()),
            (
                "CLASP_S3_ENDPOINT".into(),
                format!("http://127.0.0.1:{dead}"),
            ),
            ("CLASP_S3_ACCESS_KEY_ID".into(), "k".into()),
            ("CLASP_S3_SECRET_ACCESS_KEY".into(), "s".into()),
            ("CLASP_SIGNING_SECRET".into(), shared::SECRET.into()),
        ],
    };
    let server = Server::start(&broken);
    let (status, _, body) = download(&client(), &server, &key, &id).await;
    assert_error(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    );
}

#[tokio::test]
async fn on_s3_the_redirect_is_a_presigned_url_of_the_bucket() {
    let database = shared::fresh_postgres_database();
    let work = shared::on_postgres_and_s3(&database);
    let key = work.tenant_with_key("rd-6", ALL);
    let server = Server::start(&work);
    let c = client();
    let data = b"straight from the bucket".to_vec();
    let id = upload(&c, &server, &key, &data).await;
    let (status, location, _) = download(&c, &server, &key, &id).await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    let url = location.unwrap();
    assert!(url.starts_with(&shared::s3_endpoint()), "{url}");
    let expires = query_int(&url, "X-Amz-Expires");
    assert!((890..=900).contains(&expires), "15 minutes: {url}");
    assert_eq!(fetch(&url).await, (StatusCode::OK, data));
    assert_eq!(fetch(&tampered(&url)).await.0, StatusCode::FORBIDDEN);
}
