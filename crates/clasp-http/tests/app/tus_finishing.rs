//! A tus upload's last part, when the service cannot finish the upload. A
//! failure of its own (a stored part unreadable, the scanner unreachable,
//! the commit failing) is answered in tus's error body with a status tus
//! clients retry, `HEAD` then says where the upload stood before that part,
//! and the part sent again finishes it, as a tus client's retry does. An
//! upload whose finishing was cut off (its process died) answers `423` to
//! everything, never an offset a client would take for done.

use std::sync::Arc;

use actix_web::http::{Method, StatusCode};
use actix_web::test;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clasp_domain::UploadPolicy;
use clasp_domain::memory::{Fault, MemoryPorts, MemoryScanner};
use serde_json::Value;

use crate::common::{PNG, services_over, tenant_with_key};

const TICKET: &str = "41111111-2222-4333-8444-555555555555";
const SLUG: &str = "ws-tus-finishing";

/// A PNG of `len` bytes: its magic, then filler.
fn png(len: usize) -> Vec<u8> {
    let mut data = PNG.to_vec();
    data.extend((data.len()..len).map(|i| (i % 251) as u8));
    data
}

fn tus(method: Method, at: &str, key: &str) -> test::TestRequest {
    test::TestRequest::default()
        .method(method)
        .uri(at)
        .insert_header(("Authorization", format!("Bearer {key}")))
        .insert_header(("Tus-Resumable", "1.0.0"))
}

/// The `POST` creating an upload of `length` bytes onto the ticket.
fn create(key: &str, length: usize) -> test::TestRequest {
    let meta = [
        ("filename", "f.png"),
        ("filetype", "image/png"),
        ("ticketId", TICKET),
    ]
    .map(|(k, v)| format!("{k} {}", STANDARD.encode(v)))
    .join(",");
    tus(Method::POST, "/tus/", key)
        .insert_header(("Upload-Length", length.to_string()))
        .insert_header(("Upload-Metadata", meta))
}

fn patch(at: &str, key: &str, offset: usize, bytes: &[u8]) -> test::TestRequest {
    tus(Method::PATCH, at, key)
        .insert_header(("Upload-Offset", offset.to_string()))
        .insert_header(("Content-Type", "application/offset+octet-stream"))
        .set_payload(bytes.to_vec())
}

fn header<B>(res: &actix_web::dev::ServiceResponse<B>, name: &str) -> String {
    let value = res.headers().get(name);
    value.map_or_else(String::new, |v| v.to_str().unwrap().to_owned())
}

/// Creates an upload of `$data` with `$key` on `$app` and stores its first
/// 6,000 bytes: its URL. (A macro: the app's type is actix's to name.)
macro_rules! begun {
    ($app:expr, $key:expr, $data:expr) => {{
        let created = test::call_service($app, create($key, $data.len()).to_request()).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let at = header(&created, "location");
        let first = patch(&at, $key, 0, &$data[..6_000]).to_request();
        let first = test::call_service($app, first).await;
        assert_eq!(first.status(), StatusCode::NO_CONTENT);
        at
    }};
}

/// In-memory ports with a scanner that finds `EVIL-MARK`, a tenant's key,
/// and the data of a 10,000-byte PNG.
async fn world() -> (
    MemoryPorts,
    Arc<MemoryScanner>,
    clasp_http::Services,
    String,
) {
    let mut mem = MemoryPorts::new("http://localhost");
    let scanner = Arc::new(MemoryScanner::new(b"EVIL-MARK", "Test.Mark"));
    mem.ports.scanner = scanner.clone();
    let services = services_over(&mem, UploadPolicy::default());
    let key = tenant_with_key(&services, SLUG).await;
    (mem, scanner, services, key)
}

#[actix_web::test]
async fn a_finish_the_service_fails_is_kept_until_the_last_part_comes_again() {
    let (mem, scanner, services, key) = world().await;
    let app = app!(services);
    let data = png(10_000);
    let at = begun!(&app, &key, &data);

    let failures: [(&str, &dyn Fn(), StatusCode, &str); 3] = [
        (
            "a stored part unreadable",
            &|| mem.faults.arm(Fault::GetFails),
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
        ),
        (
            "the scanner unreachable",
            &|| scanner.set_failing(true),
            StatusCode::SERVICE_UNAVAILABLE,
            "scanner_unavailable",
        ),
        (
            "the commit failing",
            &|| mem.faults.arm(Fault::UpdateBeforeApply),
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
        ),
    ];
    for (what, fail, status, code) in failures {
        fail();
        let last = patch(&at, &key, 6_000, &data[6_000..]).to_request();
        let res = test::call_service(&app, last).await;
        assert_eq!(res.status(), status, "{what}");
        assert_eq!(header(&res, "tus-resumable"), "1.0.0", "{what}");
        let body: Value = test::read_body_json(res).await;
        assert_eq!(body["error"], code, "{what}: {body}");
        assert!(
            !body.to_string().contains("injected"),
            "{what}: details reach the client: {body}"
        );
        scanner.set_failing(false);
        let head = test::call_service(&app, tus(Method::HEAD, &at, &key).to_request()).await;
        assert_eq!(head.status(), StatusCode::OK, "{what}");
        assert_eq!(
            header(&head, "upload-offset"),
            "6000",
            "{what}: the last part is to be sent again"
        );
    }

    let last = patch(&at, &key, 6_000, &data[6_000..]).to_request();
    let res = test::call_service(&app, last).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&res, "upload-offset"), "10000");
    let id = header(&res, "clasp-attachment-id");
    let link = tus(
        Method::GET,
        &format!("/v1/tickets/{TICKET}/attachments/{id}/download"),
        &key,
    );
    let link: Value = test::call_and_read_body_json(&app, link.to_request()).await;
    let url = link["signed_url"].as_str().unwrap();
    let download = test::TestRequest::get()
        .uri(url.trim_start_matches("http://localhost"))
        .to_request();
    let res = test::call_service(&app, download).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(test::read_body(res).await.as_ref(), data.as_slice());
    assert_eq!(mem.blobs.len(), 1, "the parts are gone, the file stays");
}

#[actix_web::test]
async fn an_upload_whose_finishing_was_cut_off_answers_423_to_everything() {
    let (mem, _, services, key) = world().await;
    let app = app!(services);
    let data = png(10_000);
    let at = begun!(&app, &key, &data);
    // the process storing the last part moved the upload on, then died
    let tenant = mem.ports.identities.tenant_by_slug(SLUG).await.unwrap();
    let id = at.trim_start_matches("/tus/").parse().unwrap();
    let resumable = &mem.ports.resumable;
    let progress = resumable.progress(tenant.unwrap().id, id).await.unwrap();
    let progress = progress.unwrap();
    assert!(resumable.advance(&progress, 10_000, 99).await.unwrap());

    let asked = [
        ("HEAD", tus(Method::HEAD, &at, &key)),
        ("the last part", patch(&at, &key, 6_000, &data[6_000..])),
        ("a part at the length", patch(&at, &key, 10_000, b"x")),
        ("an empty part", patch(&at, &key, 10_000, b"")),
        ("DELETE", tus(Method::DELETE, &at, &key)),
    ];
    for (what, req) in asked {
        let res = test::call_service(&app, req.to_request()).await;
        assert_eq!(res.status(), StatusCode::LOCKED, "{what}");
        assert_eq!(header(&res, "upload-offset"), "", "{what}");
        if what != "HEAD" {
            let body: Value = test::read_body_json(res).await;
            assert_eq!(body["error"], "upload_locked", "{what}: {body}");
        }
    }
}
