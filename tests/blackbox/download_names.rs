//! Chat downloads by name, on the embedded defaults and on PostgreSQL with S3.
//! Seed 003 names the path's last segment "The original filename": it matches
//! the stored name after percent-decoding (`%2B`, `%25` and spaces included),
//! and also the name as the client gave it before Clasp sanitised it; a file
//! literally named `thumbnail` still downloads.

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::harness::{Server, Workdir, client};
use crate::shared::{fresh_postgres_database, on_postgres_and_s3};

/// Uploads `bytes` as `name` with the session `cookie`: its number.
async fn upload(server: &Server, cookie: &str, name: &str, bytes: &[u8]) -> i64 {
    let file = Part::bytes(bytes.to_vec())
        .file_name(name.to_owned())
        .mime_str("text/plain")
        .unwrap();
    let res = client()
        .post(server.url("/api/v1/messages/4/attachments"))
        .header("Cookie", format!("clasp_session={cookie}"))
        .multipart(Form::new().part("files", file))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let made: Value = res.json().await.unwrap();
    made["attachmentIds"][0].as_i64().unwrap()
}

/// `GET /api/v1/attachments/{number}/{path_name}` (written into the URL as
/// given): the status and the body.
async fn download(
    server: &Server,
    cookie: &str,
    number: i64,
    path_name: &str,
) -> (StatusCode, Vec<u8>) {
    let res = client()
        .get(server.url(&format!("/api/v1/attachments/{number}/{path_name}")))
        .header("Cookie", format!("clasp_session={cookie}"))
        .send()
        .await
        .unwrap();
    (res.status(), res.bytes().await.unwrap().to_vec())
}

async fn names(work: Workdir) {
    work.tenant_with_key("names", "attachments:read");
    let cookie = work.admin(&[
        "admin", "session", "create", "--tenant", "names", "--user", "u",
    ]);
    let server = Server::start(&work);

    let plus = upload(&server, &cookie, "a+b 100%.txt", b"plus").await;
    for path in ["a%2Bb%20100%25.txt", "a+b%20100%25.txt"] {
        assert_eq!(
            download(&server, &cookie, plus, path).await,
            (StatusCode::OK, b"plus".to_vec()),
            "{path}"
        );
    }
    // the name as given, before sanitising dropped its zero-width space
    let given = "re\u{200B}port.txt";
    let sanitised = upload(&server, &cookie, given, b"report").await;
    for path in ["report.txt", "re%E2%80%8Bport.txt"] {
        assert_eq!(
            download(&server, &cookie, sanitised, path).await.0,
            StatusCode::OK,
            "{path}"
        );
    }
    assert_eq!(
        download(&server, &cookie, sanitised, "other.txt").await.0,
        StatusCode::NOT_FOUND
    );
    // a file named thumbnail is that file, not a thumbnail
    let thumbnail = upload(&server, &cookie, "thumbnail", b"not an image").await;
    assert_eq!(
        download(&server, &cookie, thumbnail, "thumbnail").await,
        (StatusCode::OK, b"not an image".to_vec())
    );
}

#[tokio::test]
async fn chat_downloads_match_the_original_filename_on_the_embedded_defaults() {
    names(Workdir::new()).await;
}

#[tokio::test]
async fn chat_downloads_match_the_original_filename_on_postgres_and_s3() {
    names(on_postgres_and_s3(&fresh_postgres_database())).await;
}
