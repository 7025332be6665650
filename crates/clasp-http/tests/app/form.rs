//! Bodies that end inside a part, through each dialect's multipart handler,
//! behind the same body idle timeout and upload cap as the server.

use std::time::Duration;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::test;
use clasp_domain::memory::MemoryPorts;
use clasp_domain::{Scopes, UploadPolicy};
use clasp_http::limits::Admission;
use clasp_http::{FrontDoor, Services};
use serde_json::Value;

use crate::common::{PNG, memory_services};
const TICKET: &str = "550e8400-e29b-41d4-a716-446655440000";
const CASE: &str = "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f";
const BOUNDARY: &str = "XclaspCutX";

/// How long a request may take before the test calls it hung: far above what
/// an in-memory upload needs, far below forever.
const HANG: Duration = Duration::from_secs(5);

/// The ways a body can end inside its file part: inside the part's headers,
/// inside its bytes, and right after its bytes' line break (the fuzzer's first
/// finding), none with the closing delimiter.
fn cut_bodies(leading: &[(&str, &str)], file_field: &str) -> Vec<(&'static str, Vec<u8>)> {
    let mut head = Vec::new();
    for (name, value) in leading {
        head.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    head.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"cut.png\"\r\n")
            .as_bytes(),
    );
    let headers_cut = head.clone();
    head.extend_from_slice(b"Content-Type: image/png\r\n\r\n");
    let bytes_cut = [head.as_slice(), &PNG[..10]].concat();
    let after_line = [head.as_slice(), PNG, b"\r\n"].concat();
    vec![
        ("inside the part headers", headers_cut),
        ("inside the file bytes", bytes_cut),
        ("after the file's line break", after_line),
    ]
}

/// The same form, whole.
fn whole_body(leading: &[(&str, &str)], file_field: &str) -> Vec<u8> {
    let (_, mut body) = cut_bodies(leading, file_field).pop().unwrap_or_default();
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// A multipart `POST` of `body` to `uri`.
fn post(uri: &str, credential: (&str, String), body: Vec<u8>) -> test::TestRequest {
    test::TestRequest::post()
        .uri(uri)
        .insert_header(credential)
        .insert_header((
            "Content-Type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        ))
        .set_payload(body)
}

/// Sends `req`, failing the test if no answer comes within [`HANG`].
async fn send<S, R, B>(app: &S, req: R) -> (StatusCode, Value)
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let res = tokio::time::timeout(HANG, test::call_service(app, req))
        .await
        .unwrap_or_else(|_| panic!("no answer within {HANG:?}: the request hangs"));
    let status = res.status();
    let body = test::read_body(res).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// Credentials of one tenant over fresh in-memory adapters.
struct World {
    services: Services,
    mem: MemoryPorts,
    key: String,
    session: String,
}

impl World {
    fn bearer(&self) -> (&'static str, String) {
        ("Authorization", format!("Bearer {}", self.key))
    }

    fn cookie(&self) -> (&'static str, String) {
        ("Cookie", format!("clasp_session={}", self.session))
    }
}

async fn world() -> World {
    let (services, mem) = memory_services(UploadPolicy::default());
    let ids = &services.identities;
    ids.create_tenant("acme").await.unwrap();
    let (_, key) = ids.create_api_key("acme", Scopes::ALL).await.unwrap();
    let hour = time::Duration::hours(1);
    let (_, session) = ids
        .create_session("acme", "u-1", hour, clasp_domain::Reach::AllRooms)
        .await
        .unwrap();
    World {
        services,
        mem,
        key,
        session,
    }
}

/// The app as the server wraps it, with ONE upload slot: a request that kept
/// its slot would have the next upload refused with 503.
macro_rules! app {
    ($w:expr) => {
        test::init_service(
            FrontDoor::new($w.services.clone())
                .unwrap()
                .with_admission(Admission::new(1, 0, 0))
                .with_body_idle_timeout(Duration::from_secs(60))
                .app(),
        )
        .await
    };
}

#[actix_web::test]
async fn tickets_answer_a_body_ending_inside_a_part_with_400_and_store_nothing() {
    let w = world().await;
    let app = app!(w);
    let tickets = format!("/v1/tickets/{TICKET}/attachments");
    for (cut, body) in cut_bodies(&[("note", "hello")], "file") {
        let (status, error) = send(&app, post(&tickets, w.bearer(), body).to_request()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{cut}: {error}");
        let code = error["error"].as_str().unwrap_or_default();
        assert!(
            ["invalid_request", "upload_interrupted"].contains(&code),
            "{cut}: {error}"
        );
        assert!(error["message"].is_string(), "{cut}: {error}");
    }
    assert!(w.mem.blobs.is_empty(), "no byte of a cut body is kept");
    let listed: Value = test::call_and_read_body_json(
        &app,
        test::TestRequest::get()
            .uri(&tickets)
            .insert_header(w.bearer())
            .to_request(),
    )
    .await;
    assert_eq!(listed, Value::Array(Vec::new()), "nothing is listed");

    let whole = post(&tickets, w.bearer(), whole_body(&[], "file"));
    let (status, created) = send(&app, whole.to_request()).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the slot was given back: {created}"
    );
    assert_eq!(w.mem.blobs.len(), 1);
}

#[actix_web::test]
async fn cases_answer_a_body_ending_inside_a_part_with_400_and_store_nothing() {
    let w = world().await;
    let app = app!(w);
    let save_file = "/api-public/1.0/save_file";
    let fields = [("caseId", CASE)];
    for (cut, body) in cut_bodies(&fields, "file") {
        let (status, error) = send(&app, post(save_file, w.bearer(), body).to_request()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{cut}: {error}");
        assert_eq!(error["status"], 400, "{cut}: {error}");
        let code = error["code"].as_str().unwrap_or_default();
        assert!(
            ["invalidRequest", "uploadInterrupted"].contains(&code),
            "{cut}: {error}"
        );
    }
    assert!(w.mem.blobs.is_empty(), "no byte of a cut body is kept");
    let listed: Value = test::call_and_read_body_json(
        &app,
        test::TestRequest::get()
            .uri("/api-public/1.0/attachments")
            .insert_header(w.bearer())
            .to_request(),
    )
    .await;
    assert_eq!(listed["count"], 0, "nothing is listed: {listed}");

    let whole = post(save_file, w.bearer(), whole_body(&fields, "file"));
    let (status, created) = send(&app, whole.to_request()).await;
    assert_eq!(status, StatusCode::OK, "the slot was given back: {created}");
    assert_eq!(w.mem.blobs.len(), 1);
}

#[actix_web::test]
async fn chat_answers_a_body_ending_inside_a_part_with_400_and_stores_nothing() {
    let w = world().await;
    let app = app!(w);
    let upload = "/api/v1/messages/7/attachments";
    for (cut, body) in cut_bodies(&[], "files") {
        let (status, error) = send(&app, post(upload, w.cookie(), body).to_request()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{cut}: {error}");
        assert_eq!(error["httpStatusCode"], 400, "{cut}: {error}");
        assert!(error["errorText"].is_string(), "{cut}: {error}");
    }
    assert!(w.mem.blobs.is_empty(), "no byte of a cut body is kept");

    let whole = post(upload, w.cookie(), whole_body(&[], "files"));
    let (status, created) = send(&app, whole.to_request()).await;
    assert_eq!(status, StatusCode::OK, "the slot was given back: {created}");
    assert_eq!(created["attachmentIds"].as_array().map(Vec::len), Some(1));
    assert_eq!(w.mem.blobs.len(), 1);
}
