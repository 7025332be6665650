//! The `tickets` dialect, and what every dialect does alike (HTML never
//! rendered, unknown routes, the two dialects of `/api/v1`).

use actix_web::http::StatusCode;
use actix_web::test;
use clasp_domain::UploadPolicy;
use clasp_domain::memory::MemoryPorts;
use clasp_http::Services;
use serde_json::Value;

use crate::common::{Keys, PNG, keys, memory_services};
const TICKET: &str = "550e8400-e29b-41d4-a716-446655440000";

struct Fixture {
    services: Services,
    mem: MemoryPorts,
    keys: Keys,
}

impl std::ops::Deref for Fixture {
    type Target = Keys;

    fn deref(&self) -> &Keys {
        &self.keys
    }
}

async fn fixture(max_bytes: u64) -> Fixture {
    let policy = UploadPolicy {
        max_bytes,
        ..UploadPolicy::default()
    };
    let (services, mem) = memory_services(policy);
    let keys = keys(&services, "acme", "other").await;
    Fixture {
        services,
        mem,
        keys,
    }
}

fn multipart(field: &str, filename: &str, content_type: &str, data: &[u8]) -> (String, Vec<u8>) {
    let boundary = "XclaspBoundaryX";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn upload_req(
    key: &str,
    ticket: &str,
    field: &str,
    name: &str,
    ct: &str,
    data: &[u8],
) -> test::TestRequest {
    let (content_type, body) = multipart(field, name, ct, data);
    test::TestRequest::post()
        .uri(&format!("/v1/tickets/{ticket}/attachments"))
        .insert_header(("Authorization", format!("Bearer {key}")))
        .insert_header(("Content-Type", content_type))
        .set_payload(body)
}

fn get_req(key: &str, uri: &str) -> test::TestRequest {
    test::TestRequest::get()
        .uri(uri)
        .insert_header(("Authorization", format!("Bearer {key}")))
}

#[actix_web::test]
async fn full_round_trip() {
    let f = fixture(1 << 20).await;
    let app = app!(f.services);
    let res = test::call_service(
        &app,
        upload_req(&f.key, TICKET, "file", "shot.png", "image/png", PNG).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = test::read_body_json(res).await;
    assert_eq!(created["ticket_id"], TICKET);
    assert_eq!(created["filename"], "shot.png");
    assert_eq!(created["content_type"], "image/png");
    assert_eq!(created["size_bytes"], PNG.len());
    let id = created["id"].as_str().unwrap().to_owned();
    let base = format!("/v1/tickets/{TICKET}/attachments");

    let listed: Value =
        test::call_and_read_body_json(&app, get_req(&f.read_key, &base).to_request()).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());

    let got: Value = test::call_and_read_body_json(
        &app,
        get_req(&f.read_key, &format!("{base}/{id}")).to_request(),
    )
    .await;
    assert_eq!(got, created);

    let res = test::call_service(
        &app,
        get_req(&f.read_key, &format!("{base}/{id}/download")).to_request(),
    )
    .await;
    // the URL is a credential for the file: no cache may keep it
    assert_eq!(hdr(&res, "cache-control"), "no-store");
    let dl: Value = test::read_body_json(res).await;
    let url = dl["signed_url"].as_str().unwrap();
    assert!(dl["expires_at"].as_str().is_some());
    let path = url.trim_start_matches("http://localhost");
    let res = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(hdr(&res, "content-type"), "image/png");
    assert_eq!(hdr(&res, "x-content-type-options"), "nosniff");
    assert_eq!(
        hdr(&res, "content-disposition"),
        "inline; filename=\"shot.png\""
    );
    assert_eq!(test::read_body(res).await.as_ref(), PNG);

    let res = test::call_service(
        &app,
        test::TestRequest::delete()
            .uri(&format!("{base}/{id}"))
            .insert_header(("Authorization", format!("Bearer {}", f.key)))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(f.mem.blobs.is_empty());
    let res = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "a signed URL dies with its attachment"
    );
}

#[actix_web::test]
async fn auth_and_scopes() {
    let f = fixture(1 << 20).await;
    let app = app!(f.services);
    let base = format!("/v1/tickets/{TICKET}/attachments");
    let res = test::call_service(&app, test::TestRequest::get().uri(&base).to_request()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(hdr(&res, "www-authenticate"), "Bearer");
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body["error"], "unauthorized");
    let res = test::call_service(&app, get_req("ixk_wrong", &base).to_request()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = test::call_service(
        &app,
        upload_req(&f.read_key, TICKET, "file", "a.png", "image/png", PNG).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body["error"], "insufficient_scope");
    assert!(f.mem.blobs.is_empty());
}

#[actix_web::test]
async fn other_tickets_and_tenants_see_nothing() {
    let f = fixture(1 << 20).await;
    let app = app!(f.services);
    let created: Value = test::call_and_read_body_json(
        &app,
        upload_req(&f.key, TICKET, "file", "a.png", "image/png", PNG).to_request(),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let other_ticket = "650e8400-e29b-41d4-a716-446655440000";
    for (key, ticket) in [(&f.key, other_ticket), (&f.other_key, TICKET)] {
        for suffix in ["", "/download"] {
            let res = test::call_service(
                &app,
                get_req(
                    key,
                    &format!("/v1/tickets/{ticket}/attachments/{id}{suffix}"),
                )
                .to_request(),
            )
            .await;
            assert_eq!(res.status(), StatusCode::NOT_FOUND);
        }
        let listed: Value = test::call_and_read_body_json(
            &app,
            get_req(key, &format!("/v1/tickets/{ticket}/attachments")).to_request(),
        )
        .await;
        assert_eq!(listed, serde_json::json!([]));
    }
    let res = test::call_service(
        &app,
        get_req(&f.key, "/v1/tickets/not-a-uuid/attachments").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn bad_uploads_are_refused_and_leave_nothing() {
    let f = fixture(64).await;
    let app = app!(f.services);
    let cases: [(&str, &str, &str, Vec<u8>, &str); 5] = [
        (
            "file",
            "big.txt",
            "text/plain",
            vec![b'a'; 65],
            "file_too_large",
        ),
        (
            "file",
            "a.exe",
            "application/x-msdownload",
            b"MZ".to_vec(),
            "invalid_file_type",
        ),
        (
            "file",
            "fake.png",
            "image/png",
            b"<html><script>".to_vec(),
            "content_type_mismatch",
        ),
        (
            "attachment",
            "a.png",
            "image/png",
            PNG.to_vec(),
            "missing_file",
        ),
        (
            "file",
            "a.svg",
            "image/svg+xml",
            b"<svg/>".to_vec(),
            "invalid_file_type",
        ),
    ];
    for (field, name, ct, data, code) in cases {
        let res = test::call_service(
            &app,
            upload_req(&f.key, TICKET, field, name, ct, &data).to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{code}");
        let body: Value = test::read_body_json(res).await;
        assert_eq!(body["error"], code);
        assert!(body["message"].as_str().is_some());
    }
    assert!(f.mem.blobs.is_empty());
    let listed: Value = test::call_and_read_body_json(
        &app,
        get_req(&f.key, &format!("/v1/tickets/{TICKET}/attachments")).to_request(),
    )
    .await;
    assert_eq!(listed, serde_json::json!([]));
    let exact =
        upload_req(&f.key, TICKET, "file", "ok.txt", "text/plain", &[b'a'; 64]).to_request();
    assert_eq!(
        test::call_service(&app, exact).await.status(),
        StatusCode::CREATED
    );
}

#[actix_web::test]
async fn html_is_never_rendered() {
    let f = fixture(1 << 20).await;
    let app = app!(f.services);
    let created: Value = test::call_and_read_body_json(
        &app,
        upload_req(
            &f.key,
            TICKET,
            "file",
            "page.html",
            "text/html",
            b"<script>alert(1)</script>",
        )
        .to_request(),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let dl: Value = test::call_and_read_body_json(
        &app,
        get_req(
            &f.key,
            &format!("/v1/tickets/{TICKET}/attachments/{id}/download"),
        )
        .to_request(),
    )
    .await;
    let path = dl["signed_url"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://localhost")
        .to_owned();
    let res = test::call_service(&app, test::TestRequest::get().uri(&path).to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(hdr(&res, "content-type"), "text/html");
    assert_eq!(hdr(&res, "content-security-policy"), "sandbox");
    assert_eq!(
        hdr(&res, "content-disposition"),
        "attachment; filename=\"page.html\""
    );
    let tampered = path.replace("expires=", "expires=1");
    let res = test::call_service(&app, test::TestRequest::get().uri(&tampered).to_request()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn unknown_routes_are_404() {
    let f = fixture(1).await;
    let app = app!(f.services);
    let res = test::call_service(&app, test::TestRequest::get().uri("/nope").to_request()).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

fn hdr<B>(res: &actix_web::dev::ServiceResponse<B>, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[actix_web::test]
async fn api_v1_paths_belong_to_redirect_with_a_key_and_to_chat_with_a_cookie() {
    let f = fixture(1 << 20).await;
    let app = app!(f.services);
    let (_, cookie) = f
        .services
        .identities
        .create_session(
            "acme",
            "u-1",
            time::Duration::hours(1),
            clasp_domain::Reach::AllRooms,
        )
        .await
        .unwrap();
    let res = test::call_service(
        &app,
        upload_req(&f.key, TICKET, "file", "a.png", "image/png", PNG).to_request(),
    )
    .await;
    let created: Value = test::read_body_json(res).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (ct, body) = multipart("files", "download", "text/plain", b"chat bytes");
    let req = test::TestRequest::post()
        .uri("/api/v1/messages/7/attachments")
        .insert_header(("cookie", format!("clasp_session={cookie}")))
        .insert_header(("content-type", ct))
        .set_payload(body)
        .to_request();
    let uploaded: Value = test::read_body_json(test::call_service(&app, req).await).await;
    let number = uploaded["attachmentIds"][0].as_i64().unwrap();

    let req = get_req(&f.read_key, &format!("/api/v1/attachments/{id}/download"))
        .insert_header(("cookie", format!("clasp_session={cookie}")))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::TEMPORARY_REDIRECT, "Bearer wins");
    assert!(
        res.headers()
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("/signed/")
    );

    let req = test::TestRequest::get()
        .uri(&format!("/api/v1/attachments/{number}/download"))
        .insert_header(("cookie", format!("clasp_session={cookie}")))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(test::read_body(res).await.as_ref(), b"chat bytes");

    let req = get_req(&f.other_key, &format!("/api/v1/attachments/{id}/download")).to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body: Value = test::read_body_json(res).await;
    assert_eq!(
        body,
        serde_json::json!({"error": "Not Found", "message": "The requested resource was not found", "code": 404, "problem": "not_found"})
    );

    let req = test::TestRequest::get()
        .uri(&format!("/api/v1/attachments/{number}"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body["httpStatusCode"], 401, "chat's, for a number: {body}");
    assert!(body["errorText"].is_string() && body.get("error").is_none());
    assert_eq!(f.mem.blobs.len(), 2);
}

#[actix_web::test]
async fn fields_around_the_file_are_bounded() {
    let f = fixture(1 << 20).await;
    let app = app!(f.services);
    let boundary = "XclaspBoundaryX";
    let field = |name: &str, value: &[u8]| {
        let mut part =
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                .into_bytes();
        part.extend_from_slice(value);
        part.extend_from_slice(b"\r\n");
        part
    };
    let file = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
    );
    let send = |mut body: Vec<u8>| {
        body.extend_from_slice(file.as_bytes());
        body.extend_from_slice(PNG);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        test::TestRequest::post()
            .uri(&format!("/v1/tickets/{TICKET}/attachments"))
            .insert_header(("Authorization", format!("Bearer {}", f.key)))
            .insert_header((
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            ))
            .set_payload(body)
            .to_request()
    };

    let big = field("note", &vec![b'x'; 64 * 1024 + 1]);
    let res = test::call_service(&app, send(big)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = test::read_body_json(res).await;
    assert!(
        body["message"].as_str().unwrap().contains("65536"),
        "{body}"
    );

    let many: Vec<u8> = (0..17)
        .flat_map(|i| field(&format!("f{i}"), b"x"))
        .collect();
    let res = test::call_service(&app, send(many)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // within the bounds, the upload goes through
    let fine: Vec<u8> = (0..16)
        .flat_map(|i| field(&format!("f{i}"), &vec![b'x'; 64 * 1024]))
        .collect();
    let res = test::call_service(&app, send(fine)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(f.mem.blobs.len(), 1, "only the accepted upload is stored");
}
