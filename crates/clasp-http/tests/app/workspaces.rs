//! The `workspaces` dialect and the signed-upload route over in-memory adapters.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::test;
use clasp_domain::UploadPolicy;
use clasp_domain::memory::{ManualClock, MemoryPorts};
use clasp_http::Services;
use serde_json::{Value, json};

use crate::common::{Keys, PNG, clocked_services, keys};
const TICKET: &str = "550e8400-e29b-41d4-a716-446655440000";
const OTHER_TICKET: &str = "650e8400-e29b-41d4-a716-446655440000";
const BASE: &str = "http://clasp.test";

/// The services of two workspaces, `ws-123` (the keys' own) and `ws-456`.
struct Fixture {
    services: Services,
    mem: MemoryPorts,
    clock: Arc<ManualClock>,
    keys: Keys,
}

impl std::ops::Deref for Fixture {
    type Target = Keys;

    fn deref(&self) -> &Keys {
        &self.keys
    }
}

async fn fixture() -> Fixture {
    let policy = UploadPolicy {
        max_bytes: 1 << 20,
        ..UploadPolicy::default()
    };
    let (services, mem, clock) = clocked_services(BASE, policy);
    let keys = keys(&services, "ws-123", "ws-456").await;
    Fixture {
        services,
        mem,
        clock,
        keys,
    }
}

/// A request of `key` to `path` under workspace `ws-123`, with a matching header.
fn ws(method: &str, key: &str, path: &str) -> test::TestRequest {
    let req = match method {
        "GET" => test::TestRequest::get(),
        "POST" => test::TestRequest::post(),
        "DELETE" => test::TestRequest::delete(),
        other => panic!("{other}"),
    };
    req.uri(&format!("/v1/workspaces/ws-123{path}"))
        .insert_header(("Authorization", format!("Bearer {key}")))
        .insert_header(("x-workspace-id", "ws-123"))
}

fn json_req(req: test::TestRequest, body: Value) -> test::TestRequest {
    req.insert_header(("Content-Type", "application/json"))
        .set_payload(body.to_string())
}

/// The path and query of an absolute URL Clasp handed out.
fn local(url: &str) -> String {
    url.strip_prefix(BASE).unwrap().to_owned()
}

/// A response's status and JSON body (`null` when empty).
async fn read<B: MessageBody>(res: ServiceResponse<B>) -> (StatusCode, Value) {
    let status = res.status();
    let bytes = test::read_body(res).await;
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, value)
}

/// Sends a request to the app; its status and JSON body.
macro_rules! call {
    ($app:expr, $req:expr $(,)?) => {
        read(test::call_service($app, $req.to_request()).await).await
    };
}

fn hdr<B>(res: &ServiceResponse<B>, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// Asks for an upload URL on `TICKET`; the 201 body.
macro_rules! upload_url {
    ($app:expr, $f:expr, $name:expr, $ct:expr, $size:expr $(,)?) => {{
        let (status, body) = call!(
            $app,
            json_req(
                ws(
                    "POST",
                    &$f.key,
                    &format!("/tickets/{TICKET}/attachments/upload-url"),
                ),
                json!({"filename": $name, "contentType": $ct, "size": $size}),
            )
        );
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }};
}

fn put(url: &Value, data: &[u8]) -> test::TestRequest {
    test::TestRequest::put()
        .uri(&local(url.as_str().unwrap()))
        .set_payload(data.to_vec())
}

#[actix_web::test]
async fn the_seed_flow_end_to_end() {
    let f = fixture().await;
    let app = app!(f.services);
    // 1. upload URL
    let begun = upload_url!(&app, &f, "shot.png", "image/png", PNG.len());
    let id = begun["attachmentId"].as_str().unwrap().to_owned();
    assert_eq!(begun["uploadUrl"], begun["url"]);
    assert_eq!(begun["method"], "PUT");
    assert_eq!(begun["headers"], json!({"Content-Type": "image/png"}));
    assert!(begun["expiresAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(begun["attachment"]["status"], "pending");
    assert_eq!(begun["attachment"]["id"], id.as_str());
    // 2. PUT the bytes
    let res = test::call_service(&app, put(&begun["url"], PNG).to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let etag = hdr(&res, "etag");
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    // 3. confirm, quoting the ETag
    let (status, confirmed) = call!(
        &app,
        json_req(
            ws("POST", &f.key, &format!("/attachments/{id}/confirm")),
            json!({ "s3ETag": etag }),
        ),
    );
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert_eq!(confirmed["id"], id.as_str());
    assert_eq!(confirmed["workspaceId"], "ws-123");
    assert_eq!(confirmed["ticketId"], TICKET);
    assert_eq!(confirmed["messageId"], Value::Null);
    assert_eq!(confirmed["filename"], "shot.png");
    assert_eq!(confirmed["contentType"], "image/png");
    assert_eq!(confirmed["size"], PNG.len());
    assert_eq!(confirmed["status"], "ready");
    assert_eq!(confirmed["sha256"].as_str().unwrap().len(), 64);
    // 4. a message carrying it
    let (status, message) = call!(
        &app,
        json_req(
            ws("POST", &f.key, &format!("/tickets/{TICKET}/messages")),
            json!({"body": "see the screenshot", "attachmentIds": [id]}),
        ),
    );
    assert_eq!(status, StatusCode::CREATED, "{message}");
    assert_eq!(message["attachmentIds"], json!([id]));
    assert_eq!(message["ticketId"], TICKET);
    assert_eq!(message["body"], "see the screenshot");
    let message_id = message["id"].as_str().unwrap().to_owned();
    // lists, by message and by ticket
    for path in [
        format!("/messages/{message_id}/attachments"),
        format!("/tickets/{TICKET}/attachments"),
    ] {
        let (status, listed) = call!(&app, ws("GET", &f.read_key, &path));
        assert_eq!(status, StatusCode::OK);
        assert_eq!(listed.as_array().unwrap().len(), 1, "{path}");
        assert_eq!(listed[0]["id"], id.as_str());
        assert_eq!(listed[0]["messageId"], message_id.as_str());
    }
    // download: JSON by default, 302 on request; the same bytes either way
    let dl = format!("/attachments/{id}/download");
    let (status, json_dl) = call!(&app, ws("GET", &f.read_key, &dl));
    assert_eq!(status, StatusCode::OK);
    assert!(json_dl["expiresAt"].as_str().is_some());
    let res = test::call_service(
        &app,
        ws("GET", &f.read_key, &format!("{dl}?redirect=true")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(hdr(&res, "cache-control"), "no-store");
    let location = hdr(&res, "location");
    for url in [json_dl["url"].as_str().unwrap(), location.as_str()] {
        let res =
            test::call_service(&app, test::TestRequest::get().uri(&local(url)).to_request()).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(test::read_body(res).await.as_ref(), PNG);
    }
    // delete: 204, and nothing is left
    let res = test::call_service(
        &app,
        ws("DELETE", &f.key, &format!("/attachments/{id}")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(f.mem.blobs.is_empty());
    let (status, _) = call!(&app, ws("GET", &f.key, &dl));
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn key_header_and_path_must_name_the_same_workspace() {
    let f = fixture().await;
    let app = app!(f.services);
    let begun = upload_url!(&app, &f, "a.txt", "text/plain", 3);
    let id = begun["attachmentId"].as_str().unwrap().to_owned();
    let list = format!("/tickets/{TICKET}/attachments");

    let (status, body) = call!(
        &app,
        test::TestRequest::get()
            .uri(&format!("/v1/workspaces/ws-123{list}"))
            .insert_header(("x-workspace-id", "ws-123")),
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "unauthorized");
    assert!(body["error"]["message"].as_str().is_some());

    let (status, body) = call!(
        &app,
        test::TestRequest::get()
            .uri(&format!("/v1/workspaces/ws-123{list}"))
            .insert_header(("Authorization", format!("Bearer {}", f.key))),
    );
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "missing_workspace_id")
    );

    // header and path disagree; the key's tenant is not the path's (which may
    // or may not exist): all answered alike
    let mismatches = [
        ("ws-123", "ws-456", f.key.clone()),
        ("ws-456", "ws-123", f.key.clone()),
        ("ws-123", "ws-123", f.other_key.clone()),
        ("ws-nope", "ws-nope", f.key.clone()),
        ("ws-456", "ws-456", f.key.clone()),
    ];
    let mut answers = Vec::new();
    for (path_ws, header_ws, key) in mismatches {
        for suffix in [
            list.clone(),
            format!("/attachments/{id}/download"),
            format!("/attachments/{id}/confirm"),
        ] {
            let method = if suffix.ends_with("confirm") {
                test::TestRequest::post()
            } else {
                test::TestRequest::get()
            };
            let (status, body) = call!(
                &app,
                method
                    .uri(&format!("/v1/workspaces/{path_ws}{suffix}"))
                    .insert_header(("Authorization", format!("Bearer {key}")))
                    .insert_header(("x-workspace-id", header_ws)),
            );
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{path_ws} {header_ws} {suffix}"
            );
            answers.push(body);
        }
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    assert_eq!(code(&answers[0]), "workspace_mismatch");

    // a read-only key cannot write
    let (status, body) = call!(
        &app,
        json_req(
            ws(
                "POST",
                &f.read_key,
                &format!("/tickets/{TICKET}/attachments/upload-url"),
            ),
            json!({"filename": "a.txt", "contentType": "text/plain", "size": 3}),
        ),
    );
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "insufficient_scope")
    );
    assert!(f.mem.blobs.is_empty());
}

#[actix_web::test]
async fn upload_url_requests_are_checked_up_front() {
    let f = fixture().await;
    let app = app!(f.services);
    let path = format!("/tickets/{TICKET}/attachments/upload-url");
    let cases = [
        (
            json!({"filename": "big.pdf", "contentType": "application/pdf", "size": (1 << 20) + 1}),
            "file_too_large",
        ),
        (
            json!({"filename": "a.exe", "contentType": "application/x-msdownload", "size": 10}),
            "invalid_file_type",
        ),
        (
            json!({"filename": "a.txt", "contentType": "text/plain", "size": 0}),
            "invalid_request",
        ),
        (
            json!({"filename": "a.txt", "contentType": "text/plain", "size": -1}),
            "invalid_request",
        ),
        (
            json!({"contentType": "text/plain", "size": 3}),
            "invalid_request",
        ),
    ];
    for (body, expected) in cases {
        let (status, answer) = call!(&app, json_req(ws("POST", &f.key, &path), body.clone()));
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(code(&answer), expected, "{body}: {answer}");
    }
    let (status, answer) = call!(&app, ws("POST", &f.key, &path).set_payload("{not json"),);
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let (status, _) = call!(
        &app,
        json_req(
            ws("POST", &f.key, "/tickets/not-a-uuid/attachments/upload-url"),
            json!({"filename": "a.txt", "contentType": "text/plain", "size": 3}),
        ),
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = call!(
        &app,
        ws("GET", &f.key, &format!("/tickets/{TICKET}/attachments"))
    );
    assert_eq!(listed, json!([]));
}

#[actix_web::test]
async fn the_upload_url_takes_only_what_was_declared() {
    let f = fixture().await;
    let app = app!(f.services);
    let begun = upload_url!(&app, &f, "shot.png", "image/png", PNG.len());
    let id = begun["attachmentId"].as_str().unwrap().to_owned();
    let url = begun["url"].as_str().unwrap().to_owned();

    let mut bigger = PNG.to_vec();
    bigger.push(0);
    let (status, body) = call!(&app, put(&begun["url"], &bigger));
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"], "payload_too_large");
    let mut html = b"<html><script></script></html>".to_vec();
    html.resize(PNG.len(), b' ');
    let (status, body) = call!(&app, put(&begun["url"], &html));
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("content_type_mismatch"))
    );
    let (status, body) = call!(&app, put(&begun["url"], &PNG[..10]));
    assert_eq!(status, StatusCode::BAD_REQUEST, "fewer bytes than declared");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(&PNG.len().to_string()) && message.contains("10"),
        "{message}"
    );
    assert!(f.mem.blobs.is_empty(), "refused bodies leave nothing");

    for tampered in [
        url.replace("size=", "size=1"),
        url.replace("expires=", "expires=1"),
        format!("{}x", url),
        url.split('?').next().unwrap().to_owned(),
    ] {
        let (status, body) = call!(
            &app,
            test::TestRequest::put()
                .uri(&local(&tampered))
                .set_payload(PNG),
        );
        assert_eq!(status, StatusCode::FORBIDDEN, "{tampered}");
        assert_eq!(body["error"], "invalid_signature");
    }
    assert!(f.mem.blobs.is_empty());
    let (status, body) = call!(
        &app,
        ws("POST", &f.key, &format!("/attachments/{id}/confirm")),
    );
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "not_uploaded")
    );

    assert_eq!(call!(&app, put(&begun["url"], PNG)).0, StatusCode::OK);
    assert_eq!(
        call!(
            &app,
            ws("POST", &f.key, &format!("/attachments/{id}/confirm"))
        )
        .0,
        StatusCode::OK
    );
    let (status, body) = call!(&app, put(&begun["url"], PNG));
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("upload_closed"))
    );
}

#[actix_web::test]
async fn confirm_answers_every_state() {
    let f = fixture().await;
    let app = app!(f.services);
    let confirm = |id: &str| ws("POST", &f.key, &format!("/attachments/{id}/confirm"));

    // idempotent, with no body, an empty object or a matching ETag
    let ok = upload_url!(&app, &f, "a.txt", "text/plain", 3);
    let ok_id = ok["attachmentId"].as_str().unwrap();
    call!(&app, put(&ok["url"], b"abc"));
    let (s1, first) = call!(&app, confirm(ok_id));
    let (s2, second) = call!(&app, json_req(confirm(ok_id), json!({})));
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(first, second);

    // a wrong ETag
    let etagged = upload_url!(&app, &f, "b.txt", "text/plain", 3);
    call!(&app, put(&etagged["url"], b"abc"));
    let id = etagged["attachmentId"].as_str().unwrap();
    let (status, body) = call!(&app, json_req(confirm(id), json!({"s3ETag": "\"nope\""})));
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "checksum_mismatch")
    );
    let (status, body) = call!(&app, confirm(id));
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "invalid_state")
    );

    // bytes that do not verify (as an object store would have taken them)
    let fake = upload_url!(&app, &f, "c.png", "image/png", 5);
    let fake_id = fake["attachmentId"].as_str().unwrap();
    let tenant = f.services.identities.tenant("ws-123").await.unwrap().id;
    f.mem
        .blobs
        .insert(&format!("uploads/{tenant}/{fake_id}"), b"hello");
    let (status, body) = call!(&app, confirm(fake_id));
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "verification_failed")
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("image/png")
    );

    // unknown ids and other tenants' ids
    let (status, _) = call!(&app, confirm("not-a-uuid"));
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call!(&app, confirm(&uuid::Uuid::now_v7().to_string()));
    assert_eq!(status, StatusCode::NOT_FOUND);

    // past the upload URL's expiry
    let late = upload_url!(&app, &f, "d.txt", "text/plain", 3);
    call!(&app, put(&late["url"], b"abc"));
    f.clock.advance(time::Duration::minutes(16));
    let (status, body) = call!(&app, confirm(late["attachmentId"].as_str().unwrap()));
    assert_eq!((status, code(&body)), (StatusCode::GONE, "upload_expired"));
    let (status, body) = call!(&app, put(&late["url"], b"abc"));
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("invalid_signature"))
    );
    assert_eq!(
        f.services
            .attachments
            .sweep_expired(10)
            .await
            .unwrap()
            .removed,
        1
    );
    let (_, listed) = call!(
        &app,
        ws("GET", &f.key, &format!("/tickets/{TICKET}/attachments"))
    );
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "only the confirmed one"
    );
}

mod messages;
