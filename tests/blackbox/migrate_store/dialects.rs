//! One upload through each dialect besides `tickets`, and each read back
//! through its own dialect: what a move must keep for every kind of client.

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::harness::{PNG, Server, Workdir, client, put_to};

const CASE: &str = "6f9619ff-8b86-d011-b42d-00c04fc964ff";
const TICKET: &str = "550e8400-e29b-41d4-a716-446655440000";

/// What was uploaded, to be read back after the move.
pub(super) struct Uploaded {
    workspaces: String,
    cases: String,
    chat: i64,
    cookie: String,
    case_bytes: Vec<u8>,
    chat_bytes: Vec<u8>,
}

fn part(name: &str, content_type: &str, data: Vec<u8>) -> Part {
    Part::bytes(data)
        .file_name(name.to_owned())
        .mime_str(content_type)
        .unwrap()
}

/// Uploads through `workspaces` (a direct upload: URL, PUT, confirm; a PNG,
/// which gets a thumbnail), `cases` (save_file) and `chat` (a session of the
/// tenant `slug`, created here).
pub(super) async fn fill(work: &Workdir, server: &Server, key: &str, slug: &str) -> Uploaded {
    let c = client();
    let ws = |path: &str| server.url(&format!("/v1/workspaces/{slug}{path}"));
    let begun: Value = c
        .post(ws(&format!("/tickets/{TICKET}/attachments/upload-url")))
        .bearer_auth(key)
        .header("x-workspace-id", slug)
        .json(&json!({"filename": "w.png", "contentType": "image/png", "size": PNG.len()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(put_to(&begun, PNG.to_vec()).await.status(), StatusCode::OK);
    let workspaces = begun["attachmentId"].as_str().unwrap().to_owned();
    let res = c
        .post(ws(&format!("/attachments/{workspaces}/confirm")))
        .bearer_auth(key)
        .header("x-workspace-id", slug)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let case_bytes = b"%PDF-1.7\n% a case file\n".to_vec();
    let form = Form::new().text("caseId", CASE).part(
        "file",
        part("case.pdf", "application/pdf", case_bytes.clone()),
    );
    let saved: Value = c
        .post(server.url("/api-public/1.0/save_file"))
        .bearer_auth(key)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cases = saved["id"].as_str().unwrap().to_owned();

    let cookie = work.admin(&[
        "admin", "session", "create", "--tenant", slug, "--user", "user-7", "--rooms", "6",
    ]);
    let chat_bytes = b"hello from the chat".to_vec();
    let form = Form::new().part("files", part("notes.txt", "text/plain", chat_bytes.clone()));
    let sent: Value = c
        .post(server.url("/api/v1/messages/1234567/attachments?roomId=6"))
        .header("cookie", format!("clasp_session={cookie}"))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let chat = sent["attachmentIds"][0].as_i64().unwrap();
    Uploaded {
        workspaces,
        cases,
        chat,
        cookie,
        case_bytes,
        chat_bytes,
    }
}

/// Reads each upload back through its own dialect from `server`.
pub(super) async fn read_back(server: &Server, key: &str, slug: &str, up: &Uploaded) {
    let c = client();
    let dl: Value = c
        .get(server.url(&format!(
            "/v1/workspaces/{slug}/attachments/{}/download",
            up.workspaces
        )))
        .bearer_auth(key)
        .header("x-workspace-id", slug)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let got = c.get(dl["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(got.bytes().await.unwrap().as_ref(), PNG, "workspaces");

    let raw = c
        .get(server.url(&format!(
            "/api-public/1.0/attachment/{}/attachment",
            up.cases
        )))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::OK, "cases");
    assert_eq!(
        raw.bytes().await.unwrap().as_ref(),
        up.case_bytes.as_slice()
    );

    let file = c
        .get(server.url(&format!("/api/v1/attachments/{}/notes.txt", up.chat)))
        .header("cookie", format!("clasp_session={}", up.cookie))
        .send()
        .await
        .unwrap();
    assert_eq!(
        file.status(),
        StatusCode::OK,
        "chat, with the moved session"
    );
    assert_eq!(
        file.bytes().await.unwrap().as_ref(),
        up.chat_bytes.as_slice()
    );
}
