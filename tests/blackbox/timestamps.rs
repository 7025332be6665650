//! Timestamps in the seeds' shape, on the embedded defaults and on PostgreSQL
//! with S3. Seed 001 shows `"created_at": "2025-01-16T12:00:00Z"` and
//! `"expires_at": "2025-01-16T13:00:00Z"`: whole seconds, so a client parsing
//! `%Y-%m-%dT%H:%M:%SZ` reads every one (tickets and workspaces). A cases
//! `createdDate` is also a cursor (`before`/`after`), so it keeps microseconds,
//! always six digits.

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use time::PrimitiveDateTime;
use time::macros::format_description;

use crate::harness::{HELPER_TICKET, PNG, Server, Workdir, client, form, workspace_post};
use crate::shared::{fresh_postgres_database, on_postgres_and_s3};

/// Whether `value` reads as `%Y-%m-%dT%H:%M:%SZ`.
fn whole_seconds(value: &Value) -> bool {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    value
        .as_str()
        .is_some_and(|v| PrimitiveDateTime::parse(v, format).is_ok())
}

/// Whether `value` reads as `%Y-%m-%dT%H:%M:%S.%6fZ`.
fn six_digits(value: &Value) -> bool {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    value
        .as_str()
        .is_some_and(|v| PrimitiveDateTime::parse(v, format).is_ok())
}

async fn json(req: reqwest::RequestBuilder, expected: StatusCode) -> Value {
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), expected);
    res.json().await.unwrap()
}

async fn shapes(work: Workdir) {
    let key = work.tenant_with_key("ws-ts", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let c = client();

    let tickets = server.url(&format!("/v1/tickets/{HELPER_TICKET}/attachments"));
    let made = form("file", "a.png", "image/png", PNG.to_vec());
    let created = json(
        c.post(&tickets).bearer_auth(&key).multipart(made),
        StatusCode::CREATED,
    )
    .await;
    assert!(whole_seconds(&created["created_at"]), "{created}");
    let id = created["id"].as_str().unwrap();
    let listed = json(c.get(&tickets).bearer_auth(&key), StatusCode::OK).await;
    assert!(whole_seconds(&listed[0]["created_at"]), "{listed}");
    let download = format!("{tickets}/{id}/download");
    let signed = json(c.get(&download).bearer_auth(&key), StatusCode::OK).await;
    assert!(whole_seconds(&signed["expires_at"]), "{signed}");

    let asked = json!({ "filename": "b.png", "contentType": "image/png", "size": PNG.len() });
    let url = format!("/tickets/{HELPER_TICKET}/attachments/upload-url");
    let (status, begun) = workspace_post(&server, &key, "ws-ts", &url, asked).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(whole_seconds(&begun["expiresAt"]), "{begun}");
    let listing = server.url(&format!(
        "/v1/workspaces/ws-ts/tickets/{HELPER_TICKET}/attachments"
    ));
    let got = c
        .get(&listing)
        .bearer_auth(&key)
        .header("x-workspace-id", "ws-ts");
    let got = json(got, StatusCode::OK).await;
    let first = got.get("attachments").unwrap_or(&got);
    assert!(whole_seconds(&first[0]["createdAt"]), "{got}");

    let case = uuid::Uuid::new_v4().to_string();
    let file = Part::bytes(PNG.to_vec())
        .file_name("c.png")
        .mime_str("image/png")
        .unwrap();
    let saved = Form::new().text("caseId", case).part("file", file);
    let save = c
        .post(server.url("/api-public/1.0/save_file"))
        .bearer_auth(&key);
    let saved = json(save.multipart(saved), StatusCode::OK).await;
    assert!(six_digits(&saved["createdDate"]), "{saved}");
}

#[tokio::test]
async fn timestamps_have_the_seeds_shape_on_the_embedded_defaults() {
    shapes(Workdir::new()).await;
}

#[tokio::test]
async fn timestamps_have_the_seeds_shape_on_postgres_and_s3() {
    shapes(on_postgres_and_s3(&fresh_postgres_database())).await;
}
