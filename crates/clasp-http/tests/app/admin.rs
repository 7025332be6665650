//! The admin API on the admin listener: every route refuses every wrong token
//! and leaks nothing, the public listener has none of it, and a host can
//! provision a tenant end to end (what it mints works on the public listener,
//! what it revokes stops working there).

use actix_web::http::{Method, StatusCode};
use actix_web::test::{self, TestRequest};
use clasp_domain::{Scopes, UploadPolicy};
use clasp_http::{FrontDoor, Services};
use serde_json::{Value, json};

use crate::common::{PNG, memory_services, post_form};

/// The admin token of these tests: 32 bytes and more.
const TOKEN: &str = "admin-token-0123456789abcdefghijklmnop";

/// Admin routes anyone may call, each with the reason.
const OPEN: &[(&str, &str, &str)] = &[
    ("get", "/healthz", "liveness probe: says only `ok`"),
    (
        "get",
        "/readyz",
        "readiness probe: says only whether the stores answer",
    ),
    (
        "get",
        "/metrics",
        "Prometheus scrape: counters by route pattern, no ids or names",
    ),
];

/// The admin app of `$services`, admitting `$token`.
macro_rules! admin {
    ($services:expr, $token:expr) => {
        test::init_service(
            FrontDoor::new($services.clone())
                .expect("route table")
                .with_admin_token($token)
                .admin_app(),
        )
        .await
    };
}

/// Sends `$req` to `$app`: its status and its body as JSON (null if none).
macro_rules! call {
    ($app:expr, $req:expr) => {{
        let res = test::call_service($app, $req.to_request()).await;
        let status = res.status();
        let body = test::read_body(res).await;
        (
            status,
            serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
        )
    }};
}

/// How a request presents a (wrong) credential.
type Presenting<'a> = Box<dyn Fn(TestRequest) -> TestRequest + 'a>;

fn with_token(req: TestRequest, token: &str) -> TestRequest {
    req.insert_header(("Authorization", format!("Bearer {token}")))
}

/// Every operation of the admin document: method, path, whether it has
/// security.
fn operations() -> Vec<(String, String, bool)> {
    let table = clasp_http::RouteTable::admin().unwrap();
    let doc = serde_json::to_value(table.document()).unwrap();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let secured = op["security"]
                .as_array()
                .is_some_and(|alts| alts.iter().any(|a| a.get("admin").is_some()));
            ops.push((method.clone(), path.clone(), secured));
        }
    }
    ops
}

/// The victim tenant, with a key and a session, provisioned by the services.
struct Victim {
    key: String,
    key_id: String,
    session: String,
    session_id: String,
    webhook_id: String,
}

async fn victim(services: &Services) -> Victim {
    let ids = &services.identities;
    ids.create_tenant("victim").await.unwrap();
    let (key, secret) = ids.create_api_key("victim", Scopes::ALL).await.unwrap();
    let hour = time::Duration::hours(1);
    let (session, cookie) = ids
        .create_session("victim", "u1", hour, clasp_domain::Reach::AllRooms)
        .await
        .unwrap();
    let events = ["attachment.ready".to_owned()];
    let webhook = services
        .webhooks
        .register("victim", "http://127.0.0.1:9/victim", &events)
        .await
        .unwrap();
    Victim {
        key: secret,
        key_id: key.id.to_string(),
        session: cookie,
        session_id: session.id.to_string(),
        webhook_id: webhook.id.to_string(),
    }
}

/// A request of `method path` with the victim's names filled in, and a valid
/// body for writes.
fn request(method: &str, path: &str, v: &Victim) -> TestRequest {
    let filled = path.replace("{slug}", "victim").replace(
        "{id}",
        if path.starts_with("/admin/v1/keys") {
            &v.key_id
        } else if path.starts_with("/admin/v1/webhooks") {
            &v.webhook_id
        } else {
            &v.session_id
        },
    );
    let req = TestRequest::default()
        .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
        .uri(&filled);
    match (method, path) {
        ("post", "/admin/v1/tenants") => req.set_json(json!({"slug": "made-by-attacker"})),
        ("post", p) if p.ends_with("/keys") => {
            req.set_json(json!({"scopes": ["attachments:read"]}))
        }
        ("post", p) if p.ends_with("/sessions") => req.set_json(json!({"user_id": "attacker"})),
        ("put", p) if p.ends_with("/quota") => req.set_json(json!({"max_bytes": 1})),
        ("post", p) if p.ends_with("/webhooks") => req.set_json(
            json!({"url": "http://127.0.0.1:9/attacker", "events": ["attachment.ready"]}),
        ),
        ("put", p) if p.ends_with("/policy") => {
            req.set_json(json!({"allowed_types": ["text/csv"], "max_upload_bytes": 1}))
        }
        _ => req,
    }
}

#[actix_web::test]
async fn every_admin_route_refuses_every_wrong_token_and_leaks_nothing() {
    let (services, _) = memory_services(UploadPolicy::default());
    let v = victim(&services).await;
    let admin = admin!(services, Some(TOKEN));
    let unconfigured = admin!(services, None);
    let wrong: Vec<(&str, Presenting<'_>)> = vec![
        ("no token", Box::new(|r| r)),
        (
            "an empty Bearer",
            Box::new(|r| r.insert_header(("Authorization", "Bearer "))),
        ),
        (
            "a token one byte short",
            Box::new(|r| with_token(r, &TOKEN[1..])),
        ),
        (
            "a token of the same length",
            Box::new(|r| with_token(r, &TOKEN.to_uppercase())),
        ),
        (
            "the token as Basic",
            Box::new(|r| r.insert_header(("Authorization", format!("Basic {TOKEN}")))),
        ),
        ("the victim's API key", Box::new(|r| with_token(r, &v.key))),
        (
            "the victim's session cookie",
            Box::new(|r| r.insert_header(("Cookie", format!("clasp_session={}", v.session)))),
        ),
    ];
    let ops = operations();
    assert!(ops.len() >= 15, "{ops:?}");
    for (method, path, secured) in &ops {
        if !secured {
            assert!(
                OPEN.iter().any(|(m, p, _)| m == method && p == path),
                "{method} {path} has no security and is not listed as open"
            );
            continue;
        }
        assert!(path.starts_with("/admin/v1/"), "{path}");
        for (what, present) in &wrong {
            let (status, body) = call!(&admin, present(request(method, path, &v)));
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {what}: {body}"
            );
            assert_eq!(body["error"], "unauthorized", "{method} {path} with {what}");
            let text = body.to_string();
            assert!(
                !text.contains("victim") && !text.contains(&v.key_id),
                "{text}"
            );
        }
        let (status, body) = call!(&unconfigured, with_token(request(method, path, &v), TOKEN));
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "no token configured: {body}"
        );
    }
    // nothing changed: the attacker's tenant, key, session and quota are not there
    let ids = &services.identities;
    assert!(ids.tenant("made-by-attacker").await.is_err());
    assert_eq!(ids.api_keys("victim").await.unwrap().1.len(), 1);
    assert_eq!(ids.quota("victim").await.unwrap().1.limits.max_bytes, None);
    assert_eq!(
        ids.tenant("victim").await.unwrap().policy,
        Default::default()
    );
    // with the token, every operation works (deleting the tenant last)
    let mut secured: Vec<_> = ops.iter().filter(|(_, _, s)| *s).collect();
    secured.sort_by_key(|(m, p, _)| (m == "delete", p == "/admin/v1/tenants/{slug}"));
    for (method, path, secured) in secured {
        if *secured {
            let (status, body) = call!(&admin, with_token(request(method, path, &v), TOKEN));
            assert!(
                status.is_success(),
                "{method} {path} with the token: {status} {body}"
            );
        }
    }
}

#[actix_web::test]
async fn the_public_listener_has_no_admin_route() {
    let (services, _) = memory_services(UploadPolicy::default());
    let v = victim(&services).await;
    let public = app!(services);
    let doc = serde_json::to_value(clasp_http::RouteTable::new().unwrap().document()).unwrap();
    for (method, path, _) in operations() {
        if path.starts_with("/admin/") {
            let (status, _) = call!(&public, with_token(request(&method, &path, &v), TOKEN));
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
            assert!(
                doc["paths"].get(&path).is_none(),
                "{path} in the public document"
            );
        }
    }
}

#[actix_web::test]
async fn a_host_provisions_a_tenant_end_to_end() {
    let (services, mem) = memory_services(UploadPolicy::default());
    let admin = admin!(services, Some(TOKEN));
    let public = app!(services);
    let post =
        |uri: &str, body: Value| with_token(TestRequest::post().uri(uri), TOKEN).set_json(body);
    let get = |uri: &str| with_token(TestRequest::get().uri(uri), TOKEN);

    let (status, tenant) = call!(&admin, post("/admin/v1/tenants", json!({"slug": "acme"})));
    assert_eq!(status, StatusCode::CREATED, "{tenant}");
    assert_eq!(tenant["slug"], "acme");
    let (status, body) = call!(&admin, post("/admin/v1/tenants", json!({"slug": "acme"})));
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::CONFLICT, &json!("conflict"))
    );
    for bad in [
        json!({"slug": "no spaces"}),
        json!({"slug": "x", "extra": 1}),
        json!({}),
    ] {
        let (status, body) = call!(&admin, post("/admin/v1/tenants", bad.clone()));
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let huge = "x".repeat(70 * 1024);
    let (status, _) = call!(&admin, post("/admin/v1/tenants", json!({ "slug": huge })));
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    for slug in ["beta", "gamma"] {
        call!(&admin, post("/admin/v1/tenants", json!({ "slug": slug })));
    }
    let (_, first) = call!(&admin, get("/admin/v1/tenants?limit=2"));
    assert_eq!(first["tenants"].as_array().unwrap().len(), 2);
    let (_, rest) = call!(
        &admin,
        get(&format!(
            "/admin/v1/tenants?limit=2&after={}",
            first["next"].as_str().unwrap()
        ))
    );
    let slugs: Vec<&str> = [&first, &rest]
        .iter()
        .flat_map(|page| page["tenants"].as_array().unwrap())
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["acme", "beta", "gamma"]);
    for bad in ["limit=0", "limit=1001", "limit=x", "color=red"] {
        let (status, _) = call!(&admin, get(&format!("/admin/v1/tenants?{bad}")));
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }

    let (status, key) = call!(
        &admin,
        post(
            "/admin/v1/tenants/acme/keys",
            json!({"scopes": ["attachments:read", "attachments:write"]})
        )
    );
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let secret = key["key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("ixk_") && secret.starts_with(key["prefix"].as_str().unwrap()));
    for bad in [
        json!({"scopes": []}),
        json!({"scopes": ["attachments:everything"]}),
    ] {
        let (status, _) = call!(&admin, post("/admin/v1/tenants/acme/keys", bad));
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let (_, keys) = call!(&admin, get("/admin/v1/tenants/acme/keys"));
    assert_eq!(keys["keys"][0]["id"], key["id"]);
    assert!(
        !keys.to_string().contains(&secret),
        "never a secret: {keys}"
    );
    let (status, _) = call!(&admin, get("/admin/v1/tenants/nobody/keys"));
    assert_eq!(status, StatusCode::NOT_FOUND);

    let upload = || {
        post_form(
            "/v1/tickets/11111111-2222-4333-8444-555555555555/attachments",
            &[("file", Some("a.png"), PNG)],
        )
    };
    let (status, body) = call!(&public, with_token(upload(), &secret));
    assert_eq!(status, StatusCode::CREATED, "the minted key works: {body}");

    let (status, session) = call!(
        &admin,
        post(
            "/admin/v1/tenants/acme/sessions",
            json!({"user_id": "u7", "ttl_secs": 600})
        )
    );
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let cookie = format!("clasp_session={}", session["cookie"].as_str().unwrap());
    let chat = || {
        post_form(
            "/api/v1/messages/5/attachments",
            &[("files", Some("c.png"), PNG)],
        )
    };
    let (status, body) = call!(&public, chat().insert_header(("Cookie", cookie.clone())));
    assert_eq!(status, StatusCode::OK, "the minted session works: {body}");
    for bad in [
        json!({"user_id": ""}),
        json!({"user_id": "u", "ttl_secs": 0}),
        json!({"user_id": "u", "ttl_secs": 2_592_001}),
    ] {
        let (status, _) = call!(&admin, post("/admin/v1/tenants/acme/sessions", bad.clone()));
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }

    let put =
        |uri: &str, body: Value| with_token(TestRequest::put().uri(uri), TOKEN).set_json(body);
    let (status, quota) = call!(
        &admin,
        put(
            "/admin/v1/tenants/acme/quota",
            json!({"max_attachments": 2})
        )
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(quota, json!({"max_bytes": null, "max_attachments": 2}));
    let (_, shown) = call!(&admin, get("/admin/v1/tenants/acme/quota"));
    assert_eq!(shown, quota);
    let (_, detail) = call!(&admin, get("/admin/v1/tenants/acme"));
    assert_eq!(detail["usage"]["attachments"], 2, "{detail}");
    assert_eq!(detail["quota"], quota);
    let (status, body) = call!(&public, with_token(upload(), &secret));
    assert_eq!(status, StatusCode::FORBIDDEN, "over the quota: {body}");

    let delete = |uri: String| with_token(TestRequest::delete().uri(&uri), TOKEN);
    let key_id = key["id"].as_str().unwrap();
    let (status, _) = call!(&admin, delete(format!("/admin/v1/keys/{key_id}")));
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call!(&public, with_token(upload(), &secret));
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a revoked key");
    let (_, keys) = call!(&admin, get("/admin/v1/tenants/acme/keys"));
    assert!(keys["keys"][0]["revoked_at"].is_string(), "{keys}");
    let session_id = session["id"].as_str().unwrap();
    let (status, _) = call!(&admin, delete(format!("/admin/v1/sessions/{session_id}")));
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call!(&public, chat().insert_header(("Cookie", cookie)));
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a revoked session");
    for unknown in [
        "/admin/v1/keys/not-a-uuid",
        "/admin/v1/sessions/ixk_x",
        "/admin/v1/keys/01a23cd5-3bae-72ab-8cdc-9bb5e9dff87d",
    ] {
        let (status, body) = call!(&admin, delete(unknown.to_owned()));
        assert_eq!(
            (status, &body["error"]),
            (StatusCode::NOT_FOUND, &json!("not_found")),
            "{unknown}"
        );
    }
    let (status, _) = call!(&admin, get("/admin/v1/tenants/nobody"));
    assert_eq!(status, StatusCode::NOT_FOUND);

    // deleting the tenant: its bytes, rows and credentials go; its slug is free
    let (_, fresh) = call!(
        &admin,
        post(
            "/admin/v1/tenants/acme/keys",
            json!({"scopes": ["attachments:read"]})
        )
    );
    let reader = fresh["key"].as_str().unwrap().to_owned();
    assert!(!mem.blobs.is_empty());
    let (status, _) = call!(&admin, delete("/admin/v1/tenants/acme".to_owned()));
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(mem.blobs.is_empty(), "every byte of the tenant is gone");
    let list =
        TestRequest::get().uri("/v1/tickets/11111111-2222-4333-8444-555555555555/attachments");
    let (status, _) = call!(&public, with_token(list, &reader));
    assert_eq!(status, StatusCode::UNAUTHORIZED, "its keys are gone");
    for uri in ["/admin/v1/tenants/acme", "/admin/v1/tenants/acme/keys"] {
        let (status, _) = call!(&admin, get(uri));
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
    }
    let (status, _) = call!(&admin, delete("/admin/v1/tenants/acme".to_owned()));
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, page) = call!(&admin, get("/admin/v1/tenants"));
    assert!(!page.to_string().contains("acme"), "{page}");
    let (status, _) = call!(&admin, post("/admin/v1/tenants", json!({"slug": "acme"})));
    assert_eq!(status, StatusCode::CREATED, "the slug is free again");
}

#[actix_web::test]
async fn a_large_tenant_is_purged_in_the_background_after_a_202() {
    let (services, mem) = memory_services(UploadPolicy::default());
    services.identities.create_tenant("big").await.unwrap();
    let tenant = services.identities.tenant("big").await.unwrap();
    let batch = clasp_domain::services::PURGE_BATCH;
    for n in 0..=2 * batch {
        let a = clasp_domain::Attachment::pending(
            tenant.id,
            clasp_domain::Subject::ticket("t"),
            (format!("{n}.txt"), "text/plain".to_owned()),
            "k".to_owned(),
            time::OffsetDateTime::now_utc(),
        );
        mem.ports.attachments.insert(&a).await.unwrap();
        mem.blobs.insert(&a.blob_key(), b"x");
    }
    let admin = admin!(services, Some(TOKEN));
    let delete = with_token(TestRequest::delete().uri("/admin/v1/tenants/big"), TOKEN);
    let (status, body) = call!(&admin, delete);
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body, json!({"slug": "big", "deleting": true}));
    let (status, _) = call!(
        &admin,
        with_token(TestRequest::get().uri("/admin/v1/tenants/big"), TOKEN)
    );
    assert_eq!(status, StatusCode::NOT_FOUND, "gone for the API at once");
    for _ in 0..200 {
        if mem.blobs.is_empty() {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(mem.blobs.is_empty(), "the background purge finished");
    assert!(
        mem.ports
            .identities
            .tenant_by_slug("big")
            .await
            .unwrap()
            .is_none()
    );
}
