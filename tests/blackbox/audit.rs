//! The audit trail of the built binary: `clasp serve` with JSON logs writes
//! one event of the target `clasp::audit` for each change made through the
//! dialects and the admin API, refusals included, naming the tenant, actor,
//! object and outcome, and never a secret; `/metrics` counts the same changes
//! by outcome and times the store's and the database's operations.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::admin::admin;
use crate::harness::{HELPER_TICKET, PNG, Server, Workdir, client, form};

/// `clasp serve` in `work` with JSON logs, only the audit target at `info`,
/// its standard error in `log`.
fn serve_logging_to(work: &Workdir, log: &std::path::Path) -> Server {
    let stderr = std::fs::File::create(log).unwrap();
    Server::start_with(work, |command| {
        command
            .env("CLASP_LOG_FORMAT", "json")
            .env("RUST_LOG", "warn,clasp::audit=info")
            .stderr(stderr);
    })
}

/// The audit events in `log`: each event's fields.
fn audit_events(log: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["target"] == "clasp::audit")
        .map(|event| event["fields"].clone())
        .collect()
}

/// A tickets upload of `bytes` declared as `content_type`, with `key`.
async fn upload(
    server: &Server,
    key: &str,
    content_type: &str,
    bytes: &[u8],
) -> (StatusCode, Value) {
    let res = client()
        .post(server.url(&format!("/v1/tickets/{HELPER_TICKET}/attachments")))
        .bearer_auth(key)
        .multipart(form("file", "shot.png", content_type, bytes.to_vec()))
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_change_leaves_one_audit_event_and_no_secret() {
    let work = Workdir::new();
    let log = work.path().join("serve.log");
    let server = serve_logging_to(&work, &log);
    let (status, tenant) = admin(&server, "POST", "/tenants", Some(json!({"slug": "acme"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{tenant}");
    let tenant_id = tenant["id"].as_str().unwrap().to_owned();
    let scopes = json!({"scopes": ["attachments:read", "attachments:write", "attachments:delete"]});
    let (status, key) = admin(&server, "POST", "/tenants/acme/keys", Some(scopes)).await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let (secret, key_id) = (key["key"].as_str().unwrap(), key["id"].as_str().unwrap());

    let (status, made) = upload(&server, secret, "image/png", PNG).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = made["id"].as_str().unwrap().to_owned();
    let (status, _) = upload(&server, secret, "image/png", b"not a png at all").await;
    assert!(status.is_client_error(), "{status}");
    let res = client()
        .delete(server.url(&format!("/v1/tickets/{HELPER_TICKET}/attachments/{id}")))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let quota = json!({"max_bytes": null, "max_attachments": 5});
    assert_eq!(
        admin(&server, "PUT", "/tenants/acme/quota", Some(quota))
            .await
            .0,
        StatusCode::OK
    );
    let (status, _) = admin(&server, "DELETE", &format!("/keys/{key_id}"), None).await;
    assert!(status.is_success(), "{status}");
    let (status, _) = admin(&server, "DELETE", "/tenants/acme", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // the same changes, counted by outcome; the store's work, timed
    let changes = |change: &str, outcome: &str| {
        format!("clasp_changes_total{{change=\"{change}\",outcome=\"{outcome}\"}}")
    };
    for (change, outcome) in [
        ("attachment.upload", "ok"),
        ("attachment.upload", "magic_mismatch"),
        ("attachment.delete", "ok"),
        ("key.revoke", "ok"),
        ("tenant.purge", "ok"),
    ] {
        assert_eq!(
            server.metric(&changes(change, outcome)).await,
            1.0,
            "{change} {outcome}"
        );
    }
    for outcome in ["ok", "magic_mismatch"] {
        let uploads = format!("clasp_uploads_total{{dialect=\"tickets\",outcome=\"{outcome}\"}}");
        assert_eq!(server.metric(&uploads).await, 1.0, "{uploads}");
    }
    let puts = "clasp_store_operation_duration_seconds_count{operation=\"put\",result=\"ok\"}";
    assert!(server.metric(puts).await >= 1.0);
    let inserts =
        "clasp_database_operation_duration_seconds_count{operation=\"insert\",result=\"ok\"}";
    assert_eq!(
        server.metric(inserts).await,
        2.0,
        "both uploads inserted a row"
    );
    assert!(server.stop().success());

    let events = audit_events(&log);
    let seen: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["change"].as_str().unwrap_or_default(),
                e["outcome"].as_str().unwrap_or_default(),
                e["actor"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    let by_key = format!("key:{key_id}");
    let expected = [
        ("tenant.create", "ok", "operator"),
        ("key.create", "ok", "operator"),
        ("attachment.upload", "ok", by_key.as_str()),
        ("attachment.upload", "refused", by_key.as_str()),
        ("attachment.delete", "ok", by_key.as_str()),
        ("tenant.quota", "ok", "operator"),
        ("key.revoke", "ok", "operator"),
        ("tenant.delete", "ok", "operator"),
        ("tenant.purge", "ok", "system"),
    ];
    assert_eq!(seen, expected, "{events:#?}");
    for event in &events {
        assert_eq!(event["tenant"], tenant_id.as_str(), "{event}");
    }
    assert_eq!(events[2]["object"], id.as_str());
    assert_eq!(events[3]["object"], "shot.png");
    assert!(events[3]["reason"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(events[6]["object"], key_id);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains(secret), "a key's secret reached the log");
}
