//! Checksums as the seeds' clients compute them, on the embedded defaults and
//! on PostgreSQL with S3.
//! - Seed 003 (chat): "fileChecksum: Checksum for file integrity". 32 hex
//!   digits are an MD5 and are verified as one; 64 are a SHA-256.
//! - Seed 000 (workspaces): confirm takes the `s3ETag` the upload answered,
//!   which for a single-part S3 upload is the MD5 of the bytes: a client that
//!   computes the MD5 itself is verified on local storage too.
//! - A `PUT` to Clasp's own upload URL whose `Content-Length` is not the
//!   declared size is refused, naming both sizes; "Upload the file with a PUT
//!   or POST to the given URL": a `POST` works as the `PUT` does, and so does
//!   the answer's `post` form on both stores (S3's signed POST policy on S3).

use md5::{Digest, Md5};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::harness::{
    HELPER_TICKET, Server, Workdir, client, post_form_to, put_to, workspace_post,
};
use crate::shared::{fresh_postgres_database, on_postgres_and_s3};

fn md5_hex(data: &[u8]) -> String {
    hex(&Md5::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A chat upload of `data` declaring `checksum`: the new attachment's state.
async fn chat_state(server: &Server, cookie: &str, data: &[u8], checksum: &str) -> String {
    let c = client();
    let file = Part::bytes(data.to_vec())
        .file_name("notes.txt")
        .mime_str("text/plain")
        .unwrap();
    let form = Form::new()
        .text("fileChecksum", checksum.to_owned())
        .part("files", file);
    let res = c
        .post(server.url("/api/v1/messages/3/attachments"))
        .header("Cookie", format!("clasp_session={cookie}"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let made: Value = res.json().await.unwrap();
    let number = made["attachmentIds"][0].as_i64().unwrap();
    let meta: Value = c
        .get(server.url(&format!("/api/v1/attachments/{number}")))
        .header("Cookie", format!("clasp_session={cookie}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    meta["attachmentState"].as_str().unwrap().to_owned()
}

/// The upload-url path of the helper ticket in a workspace.
fn upload_url_path() -> String {
    format!("/tickets/{HELPER_TICKET}/attachments/upload-url")
}

/// Begins a direct upload of `data` in workspace `sums`, PUTs it, and confirms
/// quoting `etag`: the confirm's status and body.
async fn direct(server: &Server, key: &str, data: &[u8], etag: &str) -> (StatusCode, Value) {
    let asked = json!({ "filename": "notes.txt", "contentType": "text/plain", "size": data.len() });
    let (_, begun) = workspace_post(server, key, "sums", &upload_url_path(), asked).await;
    assert!(put_to(&begun, data.to_vec()).await.status().is_success());
    let id = begun["attachmentId"].as_str().unwrap();
    let confirm = format!("/attachments/{id}/confirm");
    let quoted = json!({ "s3ETag": format!("\"{etag}\"") });
    workspace_post(server, key, "sums", &confirm, quoted).await
}

async fn checksums(work: Workdir, on_s3: bool) {
    let key = work.tenant_with_key("sums", "attachments:read,attachments:write");
    let cookie = work.admin(&[
        "admin", "session", "create", "--tenant", "sums", "--user", "u",
    ]);
    let server = Server::start(&work);
    let data = b"minutes of the meeting\n".as_slice();

    // chat: an MD5 (either case) and a SHA-256 are both verified
    let sha256 = hex(&<sha2::Sha256 as sha2::Digest>::digest(data));
    for (what, declared, state) in [
        ("md5", md5_hex(data), "ReadyForDownloadFromServerToClient"),
        (
            "MD5",
            md5_hex(data).to_uppercase(),
            "ReadyForDownloadFromServerToClient",
        ),
        ("sha-256", sha256, "ReadyForDownloadFromServerToClient"),
        (
            "wrong md5",
            md5_hex(b"other"),
            "ChecksumVerificationOnServerSideMismatch",
        ),
    ] {
        assert_eq!(
            chat_state(&server, &cookie, data, &declared).await,
            state,
            "{what}"
        );
    }

    // workspaces: the MD5 a client computed is the entity tag it vouches for
    let (status, confirmed) = direct(&server, &key, data, &md5_hex(data)).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert_eq!(confirmed["status"], "ready");
    let (status, refused) = direct(&server, &key, data, &md5_hex(b"other")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "checksum_mismatch");

    // Clasp's own upload URL names both sizes of a wrong Content-Length
    if !on_s3 {
        let c = client();
        let asked = json!({ "filename": "n.txt", "contentType": "text/plain", "size": 10 });
        let (_, begun) = workspace_post(&server, &key, "sums", &upload_url_path(), asked).await;
        let url = begun["uploadUrl"].as_str().unwrap();
        for (body, status) in [
            (vec![b'a'; 12], StatusCode::PAYLOAD_TOO_LARGE),
            (vec![b'a'; 7], StatusCode::BAD_REQUEST),
        ] {
            let res = c.put(url).body(body.clone()).send().await.unwrap();
            assert_eq!(res.status(), status);
            let text = res.text().await.unwrap();
            let both = text.contains("10") && text.contains(&body.len().to_string());
            assert!(both, "names both sizes: {text}");
        }
        // "Upload the file with a PUT or POST to the given URL"
        let res = c.post(url).body(vec![b'a'; 10]).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers().contains_key("etag"));
        let id = begun["attachmentId"].as_str().unwrap();
        let confirm = format!("/attachments/{id}/confirm");
        let (status, _) = workspace_post(&server, &key, "sums", &confirm, json!({})).await;
        assert_eq!(status, StatusCode::OK, "a POSTed upload confirms");
    }

    // "Upload the file with a PUT or POST to the given URL": the answer's
    // `post` form, on either store (S3's signed POST policy on S3), bound to
    // the declared size and type as the PUT is
    for (what, body, stored) in [
        ("as declared", vec![b'p'; 10], true),
        ("one byte more", vec![b'p'; 11], false),
    ] {
        let asked = json!({ "filename": "p.txt", "contentType": "text/plain", "size": 10 });
        let (_, begun) = workspace_post(&server, &key, "sums", &upload_url_path(), asked).await;
        assert_eq!(
            begun["post"]["fields"].as_object().unwrap().is_empty(),
            !on_s3
        );
        let res = post_form_to(&begun, body, "text/plain").await;
        assert_eq!(
            res.status().is_success(),
            stored,
            "{what}: {}",
            res.status()
        );
        let id = begun["attachmentId"].as_str().unwrap();
        let confirm = format!("/attachments/{id}/confirm");
        let (status, confirmed) = workspace_post(&server, &key, "sums", &confirm, json!({})).await;
        if stored {
            assert_eq!(status, StatusCode::OK, "{what}: {confirmed}");
            assert_eq!(confirmed["status"], "ready", "{what}");
        } else {
            assert_eq!(
                status,
                StatusCode::CONFLICT,
                "{what}: nothing kept: {confirmed}"
            );
        }
    }
}

#[tokio::test]
async fn seed_checksums_are_verified_on_the_embedded_defaults() {
    checksums(Workdir::new(), false).await;
}

#[tokio::test]
async fn seed_checksums_are_verified_on_postgres_and_s3() {
    checksums(on_postgres_and_s3(&fresh_postgres_database()), true).await;
}
