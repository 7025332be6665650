//! The authentication matrix: every route of the OpenAPI document, tried with
//! every kind of wrong credential — none, malformed, revoked, an expired
//! session, a read-only key on writes, and another tenant's valid credential
//! aimed at the victim tenant's real ids. Each answer must be the status and
//! error body its dialect documents (docs/dialects/*.md), and no answer may
//! carry a byte or a piece of metadata of the victim.
//!
//! Routes come from the OpenAPI document, so a documented route without a case
//! here fails; the route table registers exactly what it documents (see
//! `routes.rs`), so no registered route escapes the matrix.

use base64::Engine;
use std::collections::BTreeSet;

use actix_web::http::{Method, StatusCode};
use actix_web::test;
use clasp_domain::{Scopes, UploadPolicy};
use clasp_http::Services;
use serde_json::{Value, json};

use crate::common::{PNG, clocked_services, post_form, with_form};

const VICTIM: &str = "ws-victim";
const ATTACKER: &str = "ws-attacker";
const TICKET: &str = "11111111-2222-4333-8444-555555555555";
const CASE: &str = "21111111-2222-4333-8444-555555555555";
/// In every file name of the victim: no answer to the attacker may contain it.
const NAME_MARKER: &str = "victim-secret";
/// In every byte string of the victim.
const BYTES_MARKER: &str = "VICTIMBYTES91c2";

/// Routes anyone may call, each with the reason it needs no credential.
const PUBLIC: &[(&str, &str, &str)] = &[
    ("get", "/healthz", "liveness probe: says only `ok`"),
    (
        "get",
        "/signed/{tenant}/{attachment}",
        "the credential is the URL's signature (probed below)",
    ),
    (
        "put",
        "/signed-upload/{tenant}/{attachment}",
        "the credential is the URL's signature (probed below)",
    ),
    (
        "post",
        "/signed-upload/{tenant}/{attachment}",
        "the same as its PUT (probed below)",
    ),
    (
        "options",
        "/tus/",
        "the tus server's capabilities, the same for everyone",
    ),
];

/// A credential a request presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cred {
    /// Nothing at all.
    None,
    /// `Authorization: Bearer` with a well-formed but unknown key.
    ForgedKey,
    /// `Authorization` that is not a Bearer credential.
    NotBearer,
    /// The victim's key, revoked.
    RevokedKey,
    /// The victim's session cookie, expired (and no `Authorization`).
    ExpiredSession,
    /// A cookie value no session ever had.
    ForgedCookie,
    /// The victim's session, revoked.
    RevokedSession,
    /// The victim's own key with `attachments:read` only (on writes).
    ReadOnlyKey,
    /// The attacker's valid full key, aimed at the victim's workspace or ids.
    OtherTenantKey,
    /// Workspaces only: the attacker's key in the attacker's own workspace,
    /// naming the victim's ids.
    OtherTenantOwnWorkspace,
    /// The attacker's valid session, naming the victim's ids.
    OtherTenantSession,
}

impl Cred {
    /// Whether the attacker holds a valid credential (so the route may succeed
    /// inside the attacker's own tenant).
    fn is_other_tenant(self) -> bool {
        matches!(
            self,
            Cred::OtherTenantKey | Cred::OtherTenantOwnWorkspace | Cred::OtherTenantSession
        )
    }
}

/// What another tenant's valid credential gets on a route aimed at the victim.
#[derive(Debug, Clone, Copy)]
enum OtherTenant {
    /// The victim's resource is "not found", exactly like a missing one.
    NotFound,
    /// Refused with this status and code, exactly as for an id that does not
    /// exist.
    Refused(StatusCode, &'static str),
    /// The request succeeds with this status, inside the attacker's own tenant
    /// (a listing of its own, an upload of its own): the body must still hold
    /// nothing of the victim.
    OwnTenant(StatusCode),
}

/// The matrix's case of each documented operation: what another tenant's
/// credential gets. Every operation of the document must have one.
fn case(method: &str, path: &str) -> Option<OtherTenant> {
    use OtherTenant::{NotFound, OwnTenant, Refused};
    Some(match (method, path) {
        ("get", "/v1/tickets/{ticket_id}/attachments") => OwnTenant(StatusCode::OK),
        ("post", "/v1/tickets/{ticket_id}/attachments") => OwnTenant(StatusCode::CREATED),
        ("get", "/v1/tickets/{ticket_id}/attachments/{id}") => NotFound,
        ("delete", "/v1/tickets/{ticket_id}/attachments/{id}") => NotFound,
        ("get", "/v1/tickets/{ticket_id}/attachments/{id}/download") => NotFound,
        ("get", "/v1/workspaces/{workspace_id}/tickets/{ticket_id}/attachments") => {
            OwnTenant(StatusCode::OK)
        }
        // a listing: another workspace's message is an empty one, exactly
        // like a message that does not exist
        ("get", "/v1/workspaces/{workspace_id}/messages/{message_id}/attachments") => {
            OwnTenant(StatusCode::OK)
        }
        ("post", "/v1/workspaces/{workspace_id}/tickets/{ticket_id}/attachments/upload-url") => {
            OwnTenant(StatusCode::CREATED)
        }
        ("post", "/v1/workspaces/{workspace_id}/attachments/{attachment_id}/confirm") => NotFound,
        ("post", "/v1/workspaces/{workspace_id}/tickets/{ticket_id}/messages") => {
            Refused(StatusCode::UNPROCESSABLE_ENTITY, "attachment_not_found")
        }
        ("get", "/v1/workspaces/{workspace_id}/attachments/{attachment_id}/download") => NotFound,
        ("delete", "/v1/workspaces/{workspace_id}/attachments/{attachment_id}") => NotFound,
        ("post", "/api-public/1.0/save_file") => OwnTenant(StatusCode::OK),
        ("get", "/api-public/1.0/attachments") => OwnTenant(StatusCode::OK),
        ("get", "/api-public/1.0/attachment/{id}") => NotFound,
        ("get", "/api-public/1.0/attachment/{id}/attachment") => NotFound,
        ("post", "/api/v1/messages/{messageId}/attachments") => OwnTenant(StatusCode::OK),
        ("get", "/api/v1/attachments/{attachmentId}") => NotFound,
        ("delete", "/api/v1/attachments/{attachmentId}") => NotFound,
        ("get", "/api/v1/attachments/{attachmentId}/{attachmentFileName}") => NotFound,
        ("get", "/api/v1/attachments/{attachmentId}/download") => NotFound,
        ("post", "/tus/") => OwnTenant(StatusCode::CREATED),
        ("head", "/tus/{id}") => NotFound,
        ("patch", "/tus/{id}") => NotFound,
        ("delete", "/tus/{id}") => NotFound,
        _ => return None,
    })
}

/// One documented operation: method, path template, security schemes.
#[derive(Debug)]
struct Operation {
    method: String,
    path: String,
    schemes: BTreeSet<String>,
}

fn operations() -> Vec<Operation> {
    let table = clasp_http::RouteTable::new().unwrap();
    let doc = serde_json::to_value(table.document()).unwrap_or_default();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            if !["get", "put", "post", "delete", "patch", "head", "options"]
                .contains(&method.as_str())
            {
                continue;
            }
            let schemes = op["security"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .flat_map(|alt| alt.keys().cloned())
                .collect();
            ops.push(Operation {
                method: method.clone(),
                path: path.clone(),
                schemes,
            });
        }
    }
    ops
}

/// Sends `req` to `app`: see [`answer`].
macro_rules! call {
    ($app:expr, $req:expr $(,)?) => {
        answer(test::call_service($app, $req.to_request()).await).await
    };
}

/// An answer's status, its body as JSON (null if not JSON), and every header
/// and byte of it, to search for the victim's secrets.
async fn answer<B: actix_web::body::MessageBody>(
    res: actix_web::dev::ServiceResponse<B>,
) -> (StatusCode, Value, Vec<u8>) {
    let status = res.status();
    let mut raw = Vec::new();
    for (name, value) in res.headers() {
        raw.extend_from_slice(name.as_str().as_bytes());
        raw.extend_from_slice(b": ");
        raw.extend_from_slice(value.as_bytes());
        raw.push(b'\n');
    }
    let body = test::read_body(res).await;
    raw.extend_from_slice(&body);
    (
        status,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
        raw,
    )
}

fn bearer(req: test::TestRequest, key: &str) -> test::TestRequest {
    req.insert_header(("Authorization", format!("Bearer {key}")))
}

fn cookie(req: test::TestRequest, value: &str) -> test::TestRequest {
    req.insert_header(("Cookie", format!("clasp_session={value}")))
}

mod world;

use world::{World, world};

/// The credentials a route is tried with, from its security schemes and method.
fn variants(op: &Operation) -> BTreeSet<Cred> {
    let write = !["get", "head"].contains(&op.method.as_str());
    let mut out = BTreeSet::from([Cred::None, Cred::ExpiredSession]);
    if op.schemes.contains("bearer") {
        out.extend([Cred::ForgedKey, Cred::NotBearer, Cred::RevokedKey]);
        out.insert(Cred::OtherTenantKey);
    }
    if op.schemes.contains("workspace") {
        out.insert(Cred::OtherTenantOwnWorkspace);
    }
    if op.schemes.contains("session") {
        out.extend([
            Cred::ForgedCookie,
            Cred::RevokedSession,
            Cred::OtherTenantSession,
        ]);
    }
    if write {
        // Sessions have no scopes; on `/api/v1` a read-only Bearer key is
        // answered by the `redirect` dialect's scope check.
        out.insert(Cred::ReadOnlyKey);
    }
    out
}

/// Whether the request goes with a Bearer key (on `/api/v1` that picks the
/// `redirect` dialect over `chat`).
fn sends_bearer(cred: Cred) -> bool {
    matches!(
        cred,
        Cred::ForgedKey
            | Cred::RevokedKey
            | Cred::ReadOnlyKey
            | Cred::OtherTenantKey
            | Cred::OtherTenantOwnWorkspace
    )
}

/// The path with the victim's real ids, as `cred` would aim it.
fn fill(w: &World, op: &Operation, cred: Cred) -> String {
    let workspace = if cred == Cred::OtherTenantOwnWorkspace {
        ATTACKER
    } else {
        VICTIM
    };
    let mut path = op.path.clone();
    let chat_id = if sends_bearer(cred) {
        // the `redirect` dialect names attachments by UUID
        w.ticket_attachment.clone()
    } else {
        w.chat_number.to_string()
    };
    let attachment = if path.ends_with("/confirm") {
        w.pending.clone()
    } else {
        w.ticket_attachment.clone()
    };
    let id = if path.starts_with("/api-public") {
        w.case_attachment.clone()
    } else {
        w.ticket_attachment.clone()
    };
    for (param, value) in [
        ("{workspace_id}", workspace.to_owned()),
        ("{ticket_id}", TICKET.to_owned()),
        ("{message_id}", w.message.clone()),
        ("{attachment_id}", attachment),
        ("{id}", id),
        ("{attachmentId}", chat_id),
        ("{attachmentFileName}", w.chat_filename.clone()),
        ("{messageId}", w.chat_message.to_string()),
    ] {
        path = path.replace(param, &value);
    }
    assert!(!path.contains('{'), "no value for a parameter of {path}");
    path
}

/// A complete request of `op` (with a valid body for writes) presenting
/// `cred`, and the ids it names itself (which its answer may echo).
fn request(w: &World, op: &Operation, cred: Cred) -> (test::TestRequest, String) {
    let method = Method::from_bytes(op.method.to_uppercase().as_bytes()).unwrap();
    let path = fill(w, op, cred);
    let mut sent = path.clone();
    let mut req = test::TestRequest::default().method(method).uri(&path);
    let attacker_png: &[u8] = PNG;
    req = match (op.method.as_str(), op.path.as_str()) {
        ("post", "/v1/tickets/{ticket_id}/attachments") => {
            with_form(req, &[("file", Some("attacker.png"), attacker_png)])
        }
        ("post", "/api-public/1.0/save_file") => with_form(
            req,
            &[
                ("caseId", None, CASE.as_bytes()),
                ("file", Some("attacker.png"), attacker_png),
            ],
        ),
        ("post", "/api/v1/messages/{messageId}/attachments") => {
            with_form(req, &[("files", Some("attacker.png"), attacker_png)])
        }
        ("post", p) if p.ends_with("/upload-url") => req
            .set_json(json!({"filename": "attacker.png", "contentType": "image/png", "size": 10})),
        ("post", "/tus/") => {
            let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
            let meta = format!(
                "filename {},filetype {},ticketId {}",
                b64("attacker.png"),
                b64("image/png"),
                b64(TICKET)
            );
            req.insert_header(("upload-length", attacker_png.len().to_string()))
                .insert_header(("upload-metadata", meta))
        }
        ("patch", "/tus/{id}") => req
            .insert_header(("content-type", "application/offset+octet-stream"))
            .insert_header(("upload-offset", "0"))
            .set_payload(attacker_png),
        ("post", p) if p.ends_with("/messages") => {
            sent.push_str(&w.ticket_attachment);
            req.set_json(json!({"body": "mine now", "attachmentIds": [w.ticket_attachment]}))
        }
        _ => req,
    };
    if op.path.starts_with("/tus") {
        req = req.insert_header(("tus-resumable", "1.0.0"));
    }
    if op.schemes.contains("workspace") {
        let header = if cred == Cred::OtherTenantOwnWorkspace {
            ATTACKER
        } else {
            VICTIM
        };
        req = req.insert_header(("x-workspace-id", header));
    }
    let req = match cred {
        Cred::None => req,
        Cred::ForgedKey => bearer(req, "ixk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        Cred::NotBearer => req.insert_header(("Authorization", "Basic dmljdGltOnB3")),
        Cred::RevokedKey => bearer(req, &w.revoked_key),
        Cred::ExpiredSession => cookie(req, &w.expired_session),
        Cred::ForgedCookie => cookie(req, "not-a-session"),
        Cred::RevokedSession => cookie(req, &w.revoked_session),
        Cred::ReadOnlyKey => bearer(req, &w.read_only_key),
        Cred::OtherTenantKey | Cred::OtherTenantOwnWorkspace => bearer(req, &w.attacker_key),
        Cred::OtherTenantSession => cookie(req, &w.attacker_session),
    };
    (req, sent)
}

/// The dialect whose error body the request gets.
fn dialect(op: &Operation, cred: Cred) -> &'static str {
    let p = op.path.as_str();
    if p.starts_with("/v1/tickets") {
        "tickets"
    } else if p.starts_with("/v1/workspaces") {
        "workspaces"
    } else if p.starts_with("/api-public") {
        "cases"
    } else if p.starts_with("/tus") {
        "tus"
    } else if sends_bearer(cred) {
        "redirect"
    } else {
        "chat"
    }
}

/// The dialect's error code for a refusal with `status` to `cred`.
fn expected_code(dialect: &str, status: StatusCode, cred: Cred) -> Option<&'static str> {
    Some(match (dialect, status.as_u16()) {
        ("chat", _) => return None,
        (_, 401) => "unauthorized",
        ("cases", 403) => "forbidden",
        ("workspaces", 403) if cred == Cred::OtherTenantKey => "workspace_mismatch",
        (_, 403) => "insufficient_scope",
        ("cases", 404) => "notFound",
        (_, 404) => "not_found",
        _ => return None,
    })
}

/// Checks `body` is the dialect's error body for `status`, with `code`.
fn assert_error_shape(
    dialect: &str,
    status: StatusCode,
    code: Option<&str>,
    body: &Value,
    what: &str,
) {
    let s = status.as_u16();
    let (found, ok) = match dialect {
        "tickets" | "tus" => (&body["error"], body["message"].is_string()),
        "workspaces" => (&body["error"]["code"], body["error"]["message"].is_string()),
        "cases" => (
            &body["code"],
            body["status"] == s && body["message"].is_string(),
        ),
        "redirect" => (
            &body["problem"],
            body["code"] == s && body["message"].is_string() && body["error"].is_string(),
        ),
        _ => (
            &Value::Null,
            body["errorText"].is_string() && body["httpStatusCode"] == s,
        ),
    };
    assert!(ok, "{what}: not the {dialect} error body: {body}");
    if let Some(code) = code {
        assert_eq!(found, code, "{what}: {body}");
    }
}

#[actix_web::test]
async fn every_route_refuses_every_wrong_credential_and_leaks_nothing() {
    let w = world().await;
    let app = app!(w.services);
    let ops = operations();
    let mut missing = Vec::new();
    let mut requests = 0usize;
    let mut documented = BTreeSet::new();
    for op in &ops {
        documented.insert((op.method.clone(), op.path.clone()));
        if op.schemes.is_empty() {
            assert!(
                PUBLIC
                    .iter()
                    .any(|(m, p, _)| *m == op.method && *p == op.path),
                "{} {} has no security and is not listed as public",
                op.method,
                op.path
            );
            continue;
        }
        let Some(other) = case(&op.method, &op.path) else {
            missing.push(format!("{} {}", op.method, op.path));
            continue;
        };
        for cred in variants(op) {
            let what = format!("{} {} with {cred:?}", op.method, op.path);
            let (req, sent) = request(&w, op, cred);
            let (status, body, raw) = call!(&app, req);
            requests += 1;
            let text = String::from_utf8_lossy(&raw);
            for secret in
                w.secrets
                    .iter()
                    .map(String::as_str)
                    .chain([NAME_MARKER, BYTES_MARKER, VICTIM])
            {
                // an answer may echo what the request named itself (an id in
                // the path, "not found"): it tells the caller nothing new
                if sent.contains(secret) {
                    continue;
                }
                assert!(
                    !text.contains(secret),
                    "{what}: answer holds {secret}: {text}"
                );
            }
            let dialect = dialect(op, cred);
            let expected = match cred {
                Cred::ReadOnlyKey => StatusCode::FORBIDDEN,
                Cred::OtherTenantKey if dialect == "workspaces" => StatusCode::FORBIDDEN,
                c if c.is_other_tenant() => match other {
                    OtherTenant::NotFound => StatusCode::NOT_FOUND,
                    OtherTenant::Refused(s, _) => s,
                    OtherTenant::OwnTenant(s) => s,
                },
                _ => StatusCode::UNAUTHORIZED,
            };
            assert_eq!(status, expected, "{what}: {body}");
            // a HEAD answer has no body to show the error's shape
            if status.is_client_error() && op.method != "head" {
                let code = match other {
                    OtherTenant::Refused(s, code) if cred.is_other_tenant() && s == status => {
                        Some(code)
                    }
                    _ => expected_code(dialect, status, cred),
                };
                assert_error_shape(dialect, status, code, &body, &what);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "routes without a matrix case: {missing:?}"
    );
    for (m, p, _) in PUBLIC {
        assert!(
            documented.contains(&((*m).to_owned(), (*p).to_owned())),
            "{m} {p} is listed as public but not documented"
        );
    }

    // Signed URLs: their credential is the signature; a forged one is refused
    // in the shared signed-URL body and reveals nothing.
    let victim_tenant = w.secrets[4].clone();
    for req in [
        test::TestRequest::get().uri(&format!(
            "/signed/{victim_tenant}/{}?expires=99999999999&signature=AAAA",
            w.ticket_attachment
        )),
        test::TestRequest::put()
            .uri(&format!(
                "/signed-upload/{victim_tenant}/{}?expires=99999999999&size=10&signature=AAAA",
                w.pending
            ))
            .set_payload(&b"0123456789"[..]),
        test::TestRequest::post()
            .uri(&format!(
                "/signed-upload/{victim_tenant}/{}?expires=99999999999&size=10&signature=AAAA",
                w.pending
            ))
            .set_payload(&b"0123456789"[..]),
    ] {
        let (status, body, raw) = call!(&app, req);
        requests += 1;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"], "invalid_signature");
        let text = String::from_utf8_lossy(&raw);
        assert!(!text.contains(NAME_MARKER) && !text.contains(BYTES_MARKER));
    }

    // Nothing the attacker did changed the victim's attachments.
    let (status, got, _) = call!(
        &app,
        bearer(
            test::TestRequest::get().uri(&format!(
                "/v1/tickets/{TICKET}/attachments/{}",
                w.ticket_attachment
            )),
            &w.victim_key,
        ),
    );
    assert_eq!(status, StatusCode::OK, "{got}");
    let (status, listed, _) = call!(
        &app,
        bearer(
            test::TestRequest::get().uri("/api-public/1.0/attachments"),
            &w.victim_key,
        ),
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        listed["count"], 3,
        "the victim's three ready attachments: {listed}"
    );
    let (status, _, raw) = call!(
        &app,
        cookie(
            test::TestRequest::get().uri(&format!(
                "/api/v1/attachments/{}/{}",
                w.chat_number, w.chat_filename
            )),
            &w.victim_session,
        ),
    );
    assert_eq!(status, StatusCode::OK);
    assert!(raw.ends_with(BYTES_MARKER.as_bytes()));
    println!(
        "auth matrix: {} documented operations, {requests} requests",
        ops.len()
    );
}
