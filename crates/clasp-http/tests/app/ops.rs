//! The operations layer over in-memory adapters: request ids, metrics,
//! health and readiness, CORS.

use actix_web::http::StatusCode;
use actix_web::test;
use clasp_domain::UploadPolicy;
use clasp_http::ops::{Metrics, REQUEST_ID};
use clasp_http::{FrontDoor, Services};

use crate::common::{PNG, memory_services, post_form, tenant_with_key};

async fn services() -> (Services, String) {
    let (services, _) = memory_services(UploadPolicy::default());
    let key = tenant_with_key(&services, "acme").await;
    (services, key)
}

/// The app as `clasp serve` assembles it.
macro_rules! app {
    ($services:expr, $metrics:expr, $origins:expr) => {{
        let origins: Vec<String> = $origins;
        test::init_service(
            FrontDoor::new($services.clone())
                .unwrap()
                .with_metrics($metrics.clone())
                .with_cors(origins)
                .app(),
        )
        .await
    }};
}

/// A header's value as text ("" when absent, so comparisons fail clearly).
fn hdr(
    headers: &actix_web::http::header::HeaderMap,
    name: impl actix_web::http::header::AsHeaderName,
) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn upload(key: &str) -> test::TestRequest {
    let uri = "/v1/tickets/550e8400-e29b-41d4-a716-446655440000/attachments";
    post_form(uri, &[("file", Some("a.png"), PNG)])
        .insert_header(("Authorization", format!("Bearer {key}")))
}

#[actix_web::test]
async fn request_ids_are_echoed_when_sane_and_made_otherwise() {
    let (services, _) = services().await;
    let app = app!(services, Metrics::new(), vec![]);

    let given = test::TestRequest::get()
        .uri("/healthz")
        .insert_header((REQUEST_ID, "abc-123.x:y_z"))
        .to_request();
    let res = test::call_service(&app, given).await;
    assert_eq!(hdr(res.headers(), &REQUEST_ID), "abc-123.x:y_z");

    let made =
        test::call_service(&app, test::TestRequest::get().uri("/healthz").to_request()).await;
    let id = hdr(made.headers(), &REQUEST_ID);
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");

    for hostile in ["a b", "<script>x</script>", &"x".repeat(129)] {
        let res = test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/nowhere")
                .insert_header((REQUEST_ID, hostile))
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let id = hdr(res.headers(), &REQUEST_ID);
        assert!(
            uuid::Uuid::parse_str(&id).is_ok(),
            "{hostile:?} replaced: {id}"
        );
    }
}

/// The admin listener's app over `services`, counting into `metrics`.
macro_rules! admin_app {
    ($services:expr, $metrics:expr) => {
        test::init_service(
            FrontDoor::new($services.clone())
                .unwrap()
                .with_metrics($metrics.clone())
                .admin_app(),
        )
        .await
    };
}

#[actix_web::test]
async fn health_and_readiness_answer_readiness_and_metrics_only_on_the_admin_listener() {
    let (services, _) = services().await;
    let public = app!(services, Metrics::new(), vec![]);
    let admin = admin_app!(services, Metrics::new());
    let get = |path: &str| test::TestRequest::get().uri(path).to_request();
    for (path, says) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let res = test::call_service(&admin, get(path)).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(test::read_body(res).await, says.as_bytes(), "{path}");
    }
    let res = test::call_service(&public, get("/healthz")).await;
    assert_eq!(test::read_body(res).await, "ok".as_bytes());
    for path in ["/readyz", "/metrics", "/admin/v1/tenants"] {
        let res = test::call_service(&public, get(path)).await;
        assert_eq!(
            res.status(),
            StatusCode::NOT_FOUND,
            "{path} on the public listener"
        );
    }
    let res = test::call_service(&admin, get("/metrics")).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[actix_web::test]
async fn metrics_count_requests_by_dialect_route_and_status_and_bytes_both_ways() {
    let (services, key) = services().await;
    let metrics = Metrics::new();
    let app = app!(services, metrics, vec![]);
    let res = test::call_service(&app, upload(&key).to_request()).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let answered = test::read_body(res).await.len();
    let res = test::call_service(&app, upload("ixk_wrong").to_request()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let _ = test::call_service(
        &app,
        test::TestRequest::get().uri("/nowhere/at/all").to_request(),
    )
    .await;
    metrics.record_sweep(Some(3));
    metrics.record_sweep(None);

    let admin = admin_app!(services, metrics);
    let res = test::call_service(
        &admin,
        test::TestRequest::get().uri("/metrics").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    let route = "/v1/tickets/{ticket_id}/attachments";
    for line in [
        format!(
            "clasp_http_requests_total{{dialect=\"tickets\",route=\"{route}\",method=\"POST\",status=\"201\"}} 1"
        ),
        format!(
            "clasp_http_requests_total{{dialect=\"tickets\",route=\"{route}\",method=\"POST\",status=\"401\"}} 1"
        ),
        "clasp_http_requests_total{dialect=\"none\",route=\"unmatched\",method=\"GET\",status=\"404\"} 1".to_owned(),
        format!(
            "clasp_http_request_duration_seconds_count{{dialect=\"tickets\",route=\"{route}\",method=\"POST\",status=\"201\"}} 1"
        ),
        "clasp_uploads_in_flight 0".to_owned(),
        "clasp_sweeper_deleted_uploads_total 3".to_owned(),
        "clasp_sweeper_failures_total 1".to_owned(),
    ] {
        assert!(text.contains(&line), "missing {line:?} in:\n{text}");
    }
    let counted = |name: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(&format!("{name}{{dialect=\"tickets\"}}")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
    };
    // both uploads' bodies were read (the refused one too); the answer was sent
    assert!(counted("clasp_http_request_bytes_total") >= PNG.len() as u64);
    assert!(counted("clasp_http_response_bytes_total") >= answered as u64);
}

/// An upload of `$key` from `$origin` is stored, and answered without CORS headers.
macro_rules! served_without_cors {
    ($app:expr, $key:expr, $origin:expr) => {{
        let req = upload($key).insert_header(("Origin", $origin));
        let res = test::call_service($app, req.to_request()).await;
        assert_eq!(res.status(), StatusCode::CREATED, "{}", $origin);
        assert!(!res.headers().contains_key("access-control-allow-origin"));
    }};
}

#[actix_web::test]
async fn cors_serves_configured_origins_only_and_never_refuses_a_request() {
    let (services, key) = services().await;
    let app = app!(
        services,
        Metrics::new(),
        vec!["https://app.example.com".to_owned()]
    );

    let preflight = test::TestRequest::default()
        .method(actix_web::http::Method::OPTIONS)
        .uri("/v1/tickets/550e8400-e29b-41d4-a716-446655440000/attachments")
        .insert_header(("Origin", "https://app.example.com"))
        .insert_header(("Access-Control-Request-Method", "POST"))
        .insert_header((
            "Access-Control-Request-Headers",
            "authorization,content-type",
        ))
        .to_request();
    let res = test::call_service(&app, preflight).await;
    assert!(res.status().is_success(), "{}", res.status());
    let h = res.headers();
    assert_eq!(
        hdr(h, "access-control-allow-origin"),
        "https://app.example.com"
    );
    assert_eq!(hdr(h, "access-control-allow-credentials"), "true");
    let methods = hdr(h, "access-control-allow-methods");
    assert!(methods.contains("POST"), "{methods}");

    let res = test::call_service(
        &app,
        upload(&key)
            .insert_header(("Origin", "https://app.example.com"))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(
        hdr(res.headers(), "access-control-allow-origin"),
        "https://app.example.com"
    );
    let exposed = hdr(res.headers(), "access-control-expose-headers").to_lowercase();
    for name in [
        "content-disposition",
        "etag",
        "x-request-id",
        "content-range",
        "location",
        "tus-resumable",
        "upload-offset",
        "upload-length",
        "upload-expires",
        "clasp-attachment-id",
    ] {
        assert!(exposed.contains(name), "{name} exposed: {exposed}");
    }

    // another origin is served as before, just without CORS headers
    served_without_cors!(&app, &key, "https://evil.example.net");
}

#[actix_web::test]
async fn without_origins_no_cors_headers_are_sent() {
    let (services, key) = services().await;
    let app = app!(services, Metrics::new(), vec![]);
    served_without_cors!(&app, &key, "https://app.example.com");
}

#[actix_web::test]
async fn readiness_is_kept_for_two_seconds_and_names_nothing() {
    let mut mem = clasp_domain::memory::MemoryPorts::new("http://localhost");
    let scanner = std::sync::Arc::new(clasp_domain::memory::MemoryScanner::new(b"EICAR", "Eicar"));
    mem.ports.scanner = scanner.clone();
    let services = crate::common::services_over(&mem, UploadPolicy::default());
    let app = admin_app!(services, Metrics::new());
    let ready = || test::TestRequest::get().uri("/readyz").to_request();
    let res = test::call_service(&app, ready()).await;
    assert_eq!(res.status(), StatusCode::OK);
    scanner.set_failing(true);
    let res = test::call_service(&app, ready()).await;
    assert_eq!(res.status(), StatusCode::OK, "the verdict of a moment ago");
    actix_web::rt::time::sleep(std::time::Duration::from_millis(2100)).await;
    let res = test::call_service(&app, ready()).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(test::read_body(res).await, "not ready".as_bytes());
}
