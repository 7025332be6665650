//! Virus scanning end to end: `clasp serve` pointed at the real clamd that
//! `scripts/clamav.sh` starts (its database holds one signature, for the EICAR
//! test string). The EICAR file, uploaded through every dialect that takes
//! uploads — `tickets`, `cases`, `chat` and the direct upload of `workspaces`,
//! on the embedded defaults and on PostgreSQL + S3 — never becomes ready or
//! downloadable and leaves no bytes; the refusal is the dialect's own, and
//! `chat` metadata shows the reason. A clean file still becomes ready. With
//! clamd unreachable, uploads are refused (503) and nothing is kept, but a
//! tus upload keeps what it received, for tus-js-client's retry to finish.

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::harness::{Server, Workdir, client, required};
use crate::shared::{fresh_postgres_database, on_postgres_and_s3};

/// The EICAR anti-virus test file: harmless, detected by every scanner.
const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
/// What `scripts/clamav.sh` names the EICAR signature it writes.
const SIGNATURE: &str = "Clasp.Test.EICAR.UNOFFICIAL";
const TICKET: &str = "550e8400-e29b-41d4-a716-446655440000";
const CASE: &str = "0b5c8f5e-9a43-4a8a-9f1d-3f7d7e1c2b3a";
const ALL: &str = "attachments:read,attachments:write,attachments:delete";

fn part(name: &str, data: &[u8]) -> Part {
    Part::bytes(data.to_vec())
        .file_name(name.to_owned())
        .mime_str("text/plain")
        .unwrap()
}

async fn json(res: reqwest::Response) -> (StatusCode, Value) {
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Uploads `data` through `tickets`; the status and body.
async fn tickets_upload(server: &Server, key: &str, data: &[u8]) -> (StatusCode, Value) {
    let form = Form::new().part("file", part("eicar.txt", data));
    json(
        client()
            .post(server.url(&format!("/v1/tickets/{TICKET}/attachments")))
            .bearer_auth(key)
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// How many attachments `tickets` lists on the ticket.
async fn tickets_listed(server: &Server, key: &str) -> usize {
    let (status, body) = json(
        client()
            .get(server.url(&format!("/v1/tickets/{TICKET}/attachments")))
            .bearer_auth(key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    body.as_array().unwrap().len()
}

/// Uploads `data` through `cases`; the status and body.
async fn cases_upload(server: &Server, key: &str, data: &[u8]) -> (StatusCode, Value) {
    let form = Form::new()
        .text("caseId", CASE)
        .part("file", part("eicar.txt", data));
    json(
        client()
            .post(server.url("/api-public/1.0/save_file"))
            .bearer_auth(key)
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Uploads `files` to chat message 7; the status and body.
async fn chat_upload(
    server: &Server,
    session: &str,
    files: &[(&str, &[u8])],
) -> (StatusCode, Value) {
    let mut form = Form::new();
    for (name, data) in files {
        form = form.part("files", part(name, data));
    }
    json(
        client()
            .post(server.url("/api/v1/messages/7/attachments"))
            .header("cookie", format!("clasp_session={session}"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn chat_get(server: &Server, session: &str, path: &str) -> (StatusCode, Value) {
    json(
        client()
            .get(server.url(path))
            .header("cookie", format!("clasp_session={session}"))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The workspaces direct upload of `data`: upload-url, PUT, confirm. The
/// attachment id and the confirm's status and body.
async fn workspaces_upload(server: &Server, key: &str, data: &[u8]) -> (String, StatusCode, Value) {
    let c = client();
    let base = server.url("/v1/workspaces/ws-123");
    let (status, begun) = json(
        c.post(format!("{base}/tickets/{TICKET}/attachments/upload-url"))
            .bearer_auth(key)
            .header("x-workspace-id", "ws-123")
            .json(
                &json!({"filename": "eicar.txt", "contentType": "text/plain", "size": data.len()}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{begun}");
    let mut put = c.put(begun["url"].as_str().unwrap());
    for (name, value) in begun["headers"].as_object().unwrap() {
        if !name.eq_ignore_ascii_case("content-length") {
            put = put.header(name, value.as_str().unwrap());
        }
    }
    let stored = put.body(data.to_vec()).send().await.unwrap();
    assert!(stored.status().is_success(), "{}", stored.status());
    let id = begun["attachmentId"].as_str().unwrap().to_owned();
    let (status, body) = json(
        c.post(format!("{base}/attachments/{id}/confirm"))
            .bearer_auth(key)
            .header("x-workspace-id", "ws-123")
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    (id, status, body)
}

async fn workspaces_download_status(server: &Server, key: &str, id: &str) -> StatusCode {
    client()
        .get(server.url(&format!("/v1/workspaces/ws-123/attachments/{id}/download")))
        .bearer_auth(key)
        .header("x-workspace-id", "ws-123")
        .send()
        .await
        .unwrap()
        .status()
}

/// Tenants `ws-123` (a key) and `chat` (a session) in `work`.
fn credentials(work: &Workdir) -> (String, String) {
    let key = work.tenant_with_key("ws-123", ALL);
    work.admin(&["admin", "tenant", "create", "--slug", "chat"]);
    let session = work.admin(&[
        "admin", "session", "create", "--tenant", "chat", "--user", "u1",
    ]);
    (key, session)
}

/// Every dialect refuses EICAR with its own error and keeps nothing of it;
/// clean files still become ready.
async fn eicar_is_refused_everywhere(server: &Server, key: &str, session: &str) {
    // tickets: 422 infected_file, never listed
    let (status, body) = tickets_upload(server, key, EICAR).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "infected_file", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains(SIGNATURE),
        "{body}"
    );
    assert_eq!(tickets_listed(server, key).await, 0);
    let (status, body) = tickets_upload(server, key, b"a clean note\n").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(tickets_listed(server, key).await, 1);

    // cases: 422 infectedFile blaming `file`
    let (status, body) = cases_upload(server, key, EICAR).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["status"], 422, "{body}");
    assert_eq!(body["code"], "infectedFile", "{body}");
    assert_eq!(body["parameter"], "file", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains(SIGNATURE),
        "{body}"
    );
    let (status, body) = cases_upload(server, key, b"a clean note\n").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, listed) = json(
        client()
            .get(server.url(&format!("/api-public/1.0/attachments?caseId={CASE}")))
            .bearer_auth(key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed["count"], 1, "only the clean file: {listed}");

    // chat: one infected file refuses the whole message; its metadata says why
    let (status, body) = chat_upload(
        server,
        session,
        &[("ok.txt", b"fine"), ("eicar.txt", EICAR)],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["httpStatusCode"], 422, "{body}");
    let text = body["errorText"].as_str().unwrap();
    assert!(text.contains(SIGNATURE), "{text}");
    let number: i64 = text
        .rsplit_once("attachment ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no attachment number in {text:?}"));
    let (status, meta) = chat_get(server, session, &format!("/api/v1/attachments/{number}")).await;
    assert_eq!(status, StatusCode::OK, "{meta}");
    assert_eq!(
        meta["attachmentState"],
        "ChecksumVerificationOnServerSideFailed"
    );
    assert_eq!(meta["failureReason"], format!("infected: {SIGNATURE}"));
    let (status, _) = chat_get(
        server,
        session,
        &format!("/api/v1/attachments/{number}/eicar.txt"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = chat_upload(server, session, &[("ok.txt", b"fine")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["attachments"][0]["attachmentState"],
        "ReadyForDownloadFromServerToClient"
    );
    assert!(
        body["attachments"][0].get("failureReason").is_none(),
        "{body}"
    );

    // workspaces: confirm answers 422 infected_file; nothing downloadable
    let (id, status, body) = workspaces_upload(server, key, EICAR).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "infected_file", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(SIGNATURE),
        "{body}"
    );
    assert_eq!(
        workspaces_download_status(server, key, &id).await,
        StatusCode::NOT_FOUND
    );
    let (id, status, body) = workspaces_upload(server, key, b"a clean note\n").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(
        workspaces_download_status(server, key, &id).await,
        StatusCode::OK
    );
}

/// `/readyz`'s status and text.
async fn readiness(server: &Server) -> (StatusCode, String) {
    let res = client()
        .get(server.admin_url("/readyz"))
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

#[tokio::test]
async fn eicar_never_becomes_ready_on_the_embedded_defaults_over_tcp() {
    let work = Workdir::new().with_env("CLASP_CLAMAV_ADDRESS", &required("CLASP_TEST_CLAMAV_TCP"));
    let (key, session) = credentials(&work);
    let server = Server::start(&work);
    assert_eq!(
        readiness(&server).await,
        (StatusCode::OK, "ready".to_owned())
    );
    eicar_is_refused_everywhere(&server, &key, &session).await;
    // every scan is counted by verdict and timed, and the refusals by reason
    for verdict in ["clean", "infected"] {
        let scans = format!("clasp_scan_duration_seconds_count{{verdict=\"{verdict}\"}}");
        assert!(server.metric(&scans).await >= 4.0, "{scans}");
    }
    let infected = "clasp_changes_total{change=\"attachment.upload\",outcome=\"infected\"}";
    assert!(server.metric(infected).await >= 3.0);
    for dialect in ["tickets", "cases", "chat"] {
        let infected = format!("clasp_uploads_total{{dialect=\"{dialect}\",outcome=\"infected\"}}");
        assert!(server.metric(&infected).await >= 1.0, "{infected}");
    }
    // the clean tickets, cases, chat and workspaces files: no byte of EICAR kept
    let blobs = work.blob_files();
    assert_eq!(blobs.len(), 4, "{blobs:?}");
    for blob in blobs {
        assert_ne!(std::fs::read(&blob).unwrap(), EICAR, "{blob:?}");
    }
}

#[tokio::test]
async fn eicar_never_becomes_ready_on_postgres_and_s3_over_the_unix_socket() {
    let work = on_postgres_and_s3(&fresh_postgres_database()).with_env(
        "CLASP_CLAMAV_ADDRESS",
        &required("CLASP_TEST_CLAMAV_SOCKET"),
    );
    let (key, session) = credentials(&work);
    let server = Server::start(&work);
    eicar_is_refused_everywhere(&server, &key, &session).await;
}

#[tokio::test]
async fn with_clamd_unreachable_uploads_are_refused_and_nothing_is_kept() {
    let port = crate::harness::free_port();
    let work = Workdir::new()
        .with_env("CLASP_CLAMAV_ADDRESS", &format!("tcp://127.0.0.1:{port}"))
        .with_env("CLASP_SCAN_TIMEOUT_SECS", "2");
    let (key, session) = credentials(&work);
    let server = Server::start(&work);
    let (status, text) = readiness(&server).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    // what failed is logged; the answer names no scanner address
    assert_eq!(text, "not ready");

    let (status, body) = tickets_upload(&server, &key, b"a clean note\n").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "scanner_unavailable", "{body}");
    let (status, body) = cases_upload(&server, &key, b"a clean note\n").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "scannerUnavailable", "{body}");
    let (status, body) = chat_upload(&server, &session, &[("ok.txt", b"fine")]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["httpStatusCode"], 503, "{body}");
    let (id, status, body) = workspaces_upload(&server, &key, b"a clean note\n").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "scanner_unavailable", "{body}");
    assert_eq!(
        workspaces_download_status(&server, &key, &id).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(tickets_listed(&server, &key).await, 0);
    let blobs = work.blob_files();
    assert_eq!(
        blobs.len(),
        1,
        "only the workspaces upload, still pending: {blobs:?}"
    );
    assert!(
        blobs[0].to_string_lossy().contains("/uploads/"),
        "{blobs:?}"
    );
}

/// tus-js-client, retrying as it does by default, finishes a 12 MiB upload
/// whose last part came while clamd was unreachable: the answer was a 503,
/// the upload was kept, and once clamd is back the client's retry (a `HEAD`,
/// then the last part again) finishes it with every byte.
#[tokio::test(flavor = "multi_thread")]
async fn a_tus_upload_outlives_clamd_being_unreachable_at_its_last_part() {
    use crate::tus::{line_starting, lines_of, part_files, pdf, ticket_bytes, tus_js_command};

    let clamd = required("CLASP_TEST_CLAMAV_TCP");
    let relay = crate::relay::Relay::start(clamd.trim_start_matches("tcp://")).await;
    relay.set_up(false);
    let work = Workdir::new()
        .with_env("CLASP_CLAMAV_ADDRESS", &format!("tcp://{}", relay.addr))
        .with_env("CLASP_SCAN_TIMEOUT_SECS", "2");
    let (key, _) = credentials(&work);
    let server = Server::start(&work);
    let dir = tempfile::tempdir().unwrap();
    let data = pdf(12 * 1024 * 1024, 3);
    let file = dir.path().join("video.pdf");
    std::fs::write(&file, &data).unwrap();

    let mut client = tus_js_command(&server.url("/tus/"), &file, &key)
        .env("RETRY_DELAYS", "[1000, 1000, 1000, 1000, 1000, 1000]")
        .spawn()
        .unwrap();
    let mut lines = lines_of(&mut client);
    let url = line_starting(&mut lines, "url ");
    assert_eq!(line_starting(&mut lines, "failed "), "PATCH 503");
    relay.set_up(true);
    let rest: Vec<String> = lines.collect();
    assert!(client.wait().unwrap().success(), "{rest:?}");
    assert!(
        rest.iter()
            .filter_map(|l| l.strip_prefix("url "))
            .all(|again| again == url),
        "the upload was kept, not begun again: {rest:?}"
    );
    let id = line_starting(&mut rest.into_iter(), "done ");
    assert!(url.ends_with(&id), "{url} is not attachment {id}");
    assert_eq!(ticket_bytes(&server, &key, &id).await, data);
    assert!(part_files(&work).is_empty(), "{:?}", part_files(&work));
}
