//! A tus upload whose last part arrives while the service fails to finish it
//! (a stored part unreadable, the scanner unreachable, the commit failing):
//! the failure is answered in tus's error body with a status tus clients
//! retry, `HEAD` then says where the upload stood before that part, and the
//! part sent again finishes it, as a tus client's retry does.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::test;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clasp_domain::UploadPolicy;
use clasp_domain::memory::{Fault, MemoryPorts, MemoryScanner};
use serde_json::Value;

use crate::common::{PNG, services_over, tenant_with_key};

const TICKET: &str = "41111111-2222-4333-8444-555555555555";

/// A PNG of `len` bytes: its magic, then filler.
fn png(len: usize) -> Vec<u8> {
    let mut data = PNG.to_vec();
    data.extend((data.len()..len).map(|i| (i % 251) as u8));
    data
}

fn tus(req: test::TestRequest, key: &str) -> test::TestRequest {
    req.insert_header(("Authorization", format!("Bearer {key}")))
        .insert_header(("Tus-Resumable", "1.0.0"))
}

fn patch(at: &str, key: &str, offset: usize, bytes: &[u8]) -> test::TestRequest {
    tus(test::TestRequest::patch().uri(at), key)
        .insert_header(("Upload-Offset", offset.to_string()))
        .insert_header(("Content-Type", "application/offset+octet-stream"))
        .set_payload(bytes.to_vec())
}

#[actix_web::test]
async fn a_finish_the_service_fails_is_kept_until_the_last_part_comes_again() {
    let mut mem = MemoryPorts::new("http://localhost");
    let scanner = Arc::new(MemoryScanner::new(b"EVIL-MARK", "Test.Mark"));
    mem.ports.scanner = scanner.clone();
    let services = services_over(&mem, UploadPolicy::default());
    let key = tenant_with_key(&services, "ws-tus-finishing").await;
    let app = app!(services);
    let data = png(10_000);

    let meta = [
        ("filename", "f.png"),
        ("filetype", "image/png"),
        ("ticketId", TICKET),
    ]
    .map(|(k, v)| format!("{k} {}", STANDARD.encode(v)))
    .join(",");
    let created = test::call_service(
        &app,
        tus(test::TestRequest::post().uri("/tus/"), &key)
            .insert_header(("Upload-Length", data.len().to_string()))
            .insert_header(("Upload-Metadata", meta))
            .to_request(),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let at = created
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let first = test::call_service(&app, patch(&at, &key, 0, &data[..6_000]).to_request()).await;
    assert_eq!(first.status(), StatusCode::NO_CONTENT);

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
        assert_eq!(
            res.headers().get("tus-resumable").unwrap(),
            "1.0.0",
            "{what}"
        );
        let body: Value = test::read_body_json(res).await;
        assert_eq!(body["error"], code, "{what}: {body}");
        assert!(
            !body.to_string().contains("injected"),
            "{what}: details reach the client: {body}"
        );
        scanner.set_failing(false);
        let head = tus(
            test::TestRequest::default().method(actix_web::http::Method::HEAD),
            &key,
        )
        .uri(&at)
        .to_request();
        let head = test::call_service(&app, head).await;
        assert_eq!(head.status(), StatusCode::OK, "{what}");
        assert_eq!(
            head.headers().get("upload-offset").unwrap(),
            "6000",
            "{what}: the last part is to be sent again"
        );
    }

    let last = patch(&at, &key, 6_000, &data[6_000..]).to_request();
    let res = test::call_service(&app, last).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(res.headers().get("upload-offset").unwrap(), "10000");
    let id = res
        .headers()
        .get("clasp-attachment-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let link = tus(test::TestRequest::get(), &key)
        .uri(&format!("/v1/tickets/{TICKET}/attachments/{id}/download"))
        .to_request();
    let link: Value = test::call_and_read_body_json(&app, link).await;
    let url = link["signed_url"].as_str().unwrap();
    let download = test::TestRequest::get()
        .uri(url.trim_start_matches("http://localhost"))
        .to_request();
    let res = test::call_service(&app, download).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(test::read_body(res).await.as_ref(), data.as_slice());
    assert_eq!(mem.blobs.len(), 1, "the parts are gone, the file stays");
}
