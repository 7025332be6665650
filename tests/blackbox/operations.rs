//! Operating `clasp serve`: health, readiness against the real stores, metrics,
//! request ids and CORS, on the built binary.

use reqwest::StatusCode;

use crate::harness::{PNG, Server, Workdir, client, form, free_port, upload_and_sign};
use crate::shared::SECRET;

const TICKET: &str = "550e8400-e29b-41d4-a716-446655440000";

#[tokio::test]
async fn health_readiness_metrics_and_request_ids_on_the_embedded_defaults() {
    let work = Workdir::new();
    let key = work.tenant_with_key("ws-1", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let c = client();

    for (url, says) in [
        (server.url("/healthz"), "ok"),
        (server.admin_url("/healthz"), "ok"),
        (server.admin_url("/readyz"), "ready"),
    ] {
        let res = c.get(&url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{url}");
        assert_eq!(res.text().await.unwrap(), says);
    }

    let res = c
        .post(server.url(&format!("/v1/tickets/{TICKET}/attachments")))
        .bearer_auth(&key)
        .header("x-request-id", "trace-42")
        .multipart(form("file", "a.png", "image/png", PNG.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["x-request-id"], "trace-42");

    let text = server.metrics().await;
    assert!(
        text.contains(
            "clasp_http_requests_total{dialect=\"tickets\",route=\"/v1/tickets/{ticket_id}/attachments\",method=\"POST\",status=\"201\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("clasp_http_request_bytes_total{dialect=\"tickets\"}"),
        "{text}"
    );
    assert!(
        text.contains("clasp_sweeper_deleted_uploads_total 0"),
        "{text}"
    );
}

#[tokio::test]
async fn an_unreachable_blob_store_makes_the_instance_unready_but_alive() {
    let dead = format!("http://127.0.0.1:{}", free_port());
    let work = Workdir::new()
        .with_env("CLASP_STORAGE_URL", "s3://clasp")
        .with_env("CLASP_S3_ENDPOINT", &dead)
        .with_env("CLASP_S3_ACCESS_KEY_ID", "key")
        .with_env("CLASP_S3_SECRET_ACCESS_KEY", "secret")
        .with_env("CLASP_SIGNING_SECRET", SECRET);
    let server = Server::start(&work);
    let c = client();
    assert_eq!(
        c.get(server.url("/healthz")).send().await.unwrap().status(),
        StatusCode::OK
    );
    let res = c.get(server.admin_url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    // what failed is logged; the answer names no store address
    assert_eq!(res.text().await.unwrap(), "not ready");
}

#[tokio::test]
async fn configured_origins_get_cors_on_signed_urls_too() {
    let work = Workdir::new().with_env("CLASP_CORS_ALLOWED_ORIGINS", "https://app.example.com");
    let key = work.tenant_with_key("ws-1", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let c = client();
    let base = server.url(&format!("/v1/tickets/{TICKET}/attachments"));

    let preflight = c
        .request(reqwest::Method::OPTIONS, &base)
        .header("Origin", "https://app.example.com")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );

    let url = upload_and_sign(&server, &key, "a.png", "image/png", PNG).await;
    let file = c
        .get(&url)
        .header("Origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(
        file.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
}
