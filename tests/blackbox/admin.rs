//! The admin listener of the built binary, on the embedded defaults and on
//! PostgreSQL with S3: a host provisions a tenant over HTTP (tenant, key,
//! session, quota, revocations), what it mints works on the public listener,
//! and the public listener has no admin route, probe or metric.

use clasp_domain::ports::BlobStore;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{ADMIN_TOKEN, HELPER_TICKET, PNG, Server, Workdir, client, form};
use crate::shared::{fresh_postgres_database, on_postgres_and_s3, test_bucket};

/// `method path` on the admin listener with the admin token and `body`:
/// the status and the JSON answer (null if none).
pub(crate) async fn admin(
    server: &Server,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = client()
        .request(method, server.admin_url(&format!("/admin/v1{path}")))
        .bearer_auth(ADMIN_TOKEN);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A tickets upload with `key`: its status.
async fn upload(server: &Server, key: &str) -> StatusCode {
    client()
        .post(server.url(&format!("/v1/tickets/{HELPER_TICKET}/attachments")))
        .bearer_auth(key)
        .multipart(form("file", "a.png", "image/png", PNG.to_vec()))
        .send()
        .await
        .unwrap()
        .status()
}

/// A chat upload with the session `cookie`: its status.
async fn chat_upload(server: &Server, cookie: &str) -> StatusCode {
    client()
        .post(server.url("/api/v1/messages/9/attachments"))
        .header("Cookie", format!("clasp_session={cookie}"))
        .multipart(form("files", "c.png", "image/png", PNG.to_vec()))
        .send()
        .await
        .unwrap()
        .status()
}

/// Whether the object `key` is in the store of `work` (the bucket on S3).
async fn stored(work: &Workdir, on_s3: bool, key: &str) -> bool {
    if on_s3 {
        test_bucket().head(key).await.unwrap().is_some()
    } else {
        work.path().join("data/blobs").join(key).exists()
    }
}

async fn lifecycle(work: Workdir, on_s3: bool) {
    let server = Server::start(&work);
    let c = client();

    // the public listener has none of the admin listener's routes
    for path in ["/admin/v1/tenants", "/readyz", "/metrics"] {
        let res = c
            .get(server.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::NOT_FOUND,
            "{path} on the public listener"
        );
    }
    // the admin API refuses a missing or wrong token; probes need none
    for token in [None, Some("wrong-token-of-no-use-at-all-0123456789")] {
        let mut req = c.get(server.admin_url("/admin/v1/tenants"));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized");
    }
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        let res = c.get(server.admin_url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path} on the admin listener");
    }

    let (status, tenant) = admin(&server, "POST", "/tenants", Some(json!({"slug": "acme"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{tenant}");
    let (status, _) = admin(&server, "POST", "/tenants", Some(json!({"slug": "acme"}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, listed) = admin(&server, "GET", "/tenants", None).await;
    assert_eq!(listed["tenants"][0]["id"], tenant["id"], "{listed}");

    let (status, key) = admin(
        &server,
        "POST",
        "/tenants/acme/keys",
        Some(json!({"scopes": ["attachments:read", "attachments:write"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let secret = key["key"].as_str().unwrap();
    assert_eq!(upload(&server, secret).await, StatusCode::CREATED);
    // the CLI sees what the API made, and the other way round
    let cli_key = work.admin(&["admin", "key", "create", "--tenant", "acme"]);
    let (_, keys) = admin(&server, "GET", "/tenants/acme/keys", None).await;
    assert_eq!(keys["keys"].as_array().unwrap().len(), 2, "{keys}");
    assert!(!keys.to_string().contains(secret) && !keys.to_string().contains(&cli_key));

    let (status, session) = admin(
        &server,
        "POST",
        "/tenants/acme/sessions",
        Some(json!({"user_id": "u-1", "ttl_secs": 600})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let cookie = session["cookie"].as_str().unwrap();
    assert_eq!(chat_upload(&server, cookie).await, StatusCode::OK);

    let (status, quota) = admin(
        &server,
        "PUT",
        "/tenants/acme/quota",
        Some(json!({"max_bytes": null, "max_attachments": 2})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{quota}");
    let shown: Value =
        serde_json::from_str(&work.admin(&["admin", "quota", "show", "--tenant", "acme"])).unwrap();
    assert_eq!(
        (
            shown["max_attachments"].as_u64(),
            shown["used_attachments"].as_u64()
        ),
        (Some(2), Some(2)),
        "{shown}"
    );
    let (_, detail) = admin(&server, "GET", "/tenants/acme", None).await;
    assert_eq!(detail["usage"]["attachments"], 2, "{detail}");
    assert_eq!(
        upload(&server, secret).await,
        StatusCode::FORBIDDEN,
        "past the quota"
    );

    let key_id = key["id"].as_str().unwrap();
    let (status, _) = admin(&server, "DELETE", &format!("/keys/{key_id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        upload(&server, secret).await,
        StatusCode::UNAUTHORIZED,
        "a revoked key"
    );
    let session_id = session["id"].as_str().unwrap();
    let (status, _) = admin(&server, "DELETE", &format!("/sessions/{session_id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        chat_upload(&server, cookie).await,
        StatusCode::UNAUTHORIZED,
        "a revoked session"
    );
    let (status, _) = admin(&server, "GET", "/tenants/nobody", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // deleting the tenant purges its bytes and rows, and its credentials stop
    let scopes = json!({"scopes": ["attachments:read", "attachments:write"]});
    let (_, fresh) = admin(&server, "POST", "/tenants/acme/keys", Some(scopes)).await;
    let fresh = fresh["key"].as_str().unwrap();
    admin(&server, "PUT", "/tenants/acme/quota", Some(json!({}))).await;
    let res = c
        .post(server.url(&format!("/v1/tickets/{HELPER_TICKET}/attachments")))
        .bearer_auth(fresh)
        .multipart(form("file", "a.png", "image/png", PNG.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let made: Value = res.json().await.unwrap();
    let object = format!(
        "{}/{}",
        tenant["id"].as_str().unwrap(),
        made["id"].as_str().unwrap()
    );
    assert!(stored(&work, on_s3, &object).await, "{object}");
    let (status, _) = admin(&server, "DELETE", "/tenants/acme", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        !stored(&work, on_s3, &object).await,
        "the tenant's bytes are gone from the store"
    );
    assert_eq!(
        upload(&server, fresh).await,
        StatusCode::UNAUTHORIZED,
        "its keys are gone"
    );
    let (status, _) = admin(&server, "GET", "/tenants/acme", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let shown = work.run(&["admin", "quota", "show", "--tenant", "acme"]);
    assert!(!shown.status.success(), "the CLI agrees: no such tenant");

    let metrics = server.metrics().await;
    assert!(
        metrics.contains("clasp_http_requests_total{dialect=\"admin\",route=\"/admin/v1/tenants\",method=\"POST\",status=\"201\"} 1"),
        "{metrics}"
    );
    // how full each database pool is, read at the scrape
    let pools: &[&str] = if on_s3 {
        &["postgres"]
    } else {
        &["sqlite_writes", "sqlite_reads"]
    };
    for pool in pools {
        let max = format!("clasp_database_pool_connections{{pool=\"{pool}\",state=\"max\"}}");
        let open = format!("clasp_database_pool_connections{{pool=\"{pool}\",state=\"open\"}}");
        assert!(server.metric(&max).await >= 1.0, "{metrics}");
        assert!(server.metric(&open).await >= 1.0, "{metrics}");
        assert!(server.metric(&open).await <= server.metric(&max).await);
    }
    assert!(server.stop().success(), "both listeners stop gracefully");
}

#[tokio::test]
async fn a_host_provisions_over_the_admin_api_on_the_embedded_defaults() {
    lifecycle(Workdir::new(), false).await;
}

#[tokio::test]
async fn a_host_provisions_over_the_admin_api_on_postgres_and_s3() {
    lifecycle(on_postgres_and_s3(&fresh_postgres_database()), true).await;
}

#[test]
fn a_short_admin_token_or_a_taken_admin_port_stops_serve() {
    let short = Workdir::new().with_env("CLASP_ADMIN_TOKEN", "too-short");
    let out = short.run(&["serve"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("admin_token must be at least 32 bytes"),
        "{stderr}"
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let work = Workdir::new().with_env("CLASP_ADMIN_LISTEN", &format!("127.0.0.1:{port}"));
    let out = work.run(&["serve"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("admin_listen"), "{stderr}");
}
