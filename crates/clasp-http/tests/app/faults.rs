//! Fault injection: the blob store and the metadata store fail at chosen
//! points — before or after a write, while the upload is committed, in the
//! middle of a download, slowly — as the in-memory adapters' [`Faults`] let a
//! test arm them, under every upload path of every dialect and
//! under downloads and deletes. Each failure must be answered in the dialect's
//! own error body, leave nothing half-visible (no listed attachment the client
//! was told failed; after the sweeper ran, no bytes that no ready attachment
//! owns), and the next request must succeed.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::http::StatusCode;
use actix_web::test;
use bytes::Bytes;
use clasp_domain::memory::{Fault, Faults, ManualClock, MemoryPorts};
use clasp_domain::services::Lookup;
use clasp_domain::{AttachmentId, UploadPolicy};
use clasp_http::Services;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::common::{PNG, post_form, services_over, tenant_with_key};

const SLUG: &str = "ws-faults";
const TICKET: &str = "31111111-2222-4333-8444-555555555555";

/// One tenant over faulty in-memory adapters.
struct World {
    services: Services,
    mem: MemoryPorts,
    clock: Arc<ManualClock>,
    faults: Arc<Faults>,
    key: String,
    session: String,
}

async fn world() -> World {
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let mem = MemoryPorts::with_clock("http://localhost", clock.clone());
    let faults = mem.faults.clone();
    let services = services_over(&mem, UploadPolicy::default());
    let key = tenant_with_key(&services, SLUG).await;
    let (_, session) = services
        .identities
        .create_session(
            SLUG,
            "u1",
            time::Duration::days(7),
            clasp_domain::Reach::AllRooms,
        )
        .await
        .unwrap();
    World {
        services,
        mem,
        clock,
        faults,
        key,
        session,
    }
}

/// An answer: its status, its JSON body (null if none), and its body if it
/// arrived whole (a stream that broke off did not).
type Answer = (StatusCode, Value, Option<Bytes>);

async fn answer<B: actix_web::body::MessageBody>(
    res: actix_web::dev::ServiceResponse<B>,
) -> Answer {
    let status = res.status();
    match actix_web::body::to_bytes(res.into_body()).await {
        Ok(body) => (
            status,
            serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
            Some(body),
        ),
        Err(_) => (status, Value::Null, None),
    }
}

/// A function sending a request to `app` and returning its [`Answer`].
macro_rules! caller {
    ($app:expr) => {
        |req: test::TestRequest| {
            let sent = test::call_service($app, req.to_request());
            async move { answer(sent.await).await }
        }
    };
}

fn with_key(req: test::TestRequest, w: &World) -> test::TestRequest {
    req.insert_header(("Authorization", format!("Bearer {}", w.key)))
        .insert_header(("x-workspace-id", SLUG))
}

fn with_session(req: test::TestRequest, w: &World) -> test::TestRequest {
    req.insert_header(("Cookie", format!("clasp_session={}", w.session)))
}

/// The upload paths of the dialects.
#[derive(Debug, Clone, Copy)]
enum Upload {
    Tickets,
    Cases,
    /// Two files in one message: all or nothing.
    Chat,
    /// Upload URL, `PUT` of the bytes, confirm; store faults hit the `PUT`.
    Workspaces,
    /// The same, with store faults hitting confirm's copy of the bytes.
    WorkspacesConfirm,
}

/// The step of a direct upload `path` a fault is armed before.
fn direct_step(path: Upload, fault: Fault) -> &'static str {
    match fault {
        Fault::InsertFails => "upload-url",
        Fault::UpdateBeforeApply | Fault::UpdateAfterApply => "confirm",
        _ if matches!(path, Upload::WorkspacesConfirm) => "confirm",
        _ => "put",
    }
}

/// Runs one upload of `path`, arming `fault` (if any) right before the step
/// it aims at. Returns the first answer that is not a success — which
/// dialect's, its status and body — or `None` when the upload succeeded.
async fn upload<F, Fut>(
    call: &F,
    w: &World,
    path: Upload,
    fault: Option<Fault>,
) -> Option<(&'static str, StatusCode, Value)>
where
    F: Fn(test::TestRequest) -> Fut,
    Fut: Future<Output = Answer>,
{
    let arm = |step: &str| {
        if let Some(f) = fault.filter(|f| step == "all" || direct_step(path, *f) == step) {
            w.faults.arm(f);
        }
    };
    let name = "f.png";
    let (dialect, status, body) = match path {
        Upload::Tickets => {
            arm("all");
            let req = post_form(
                &format!("/v1/tickets/{TICKET}/attachments"),
                &[("file", Some(name), PNG)],
            );
            let (s, b, _) = call(with_key(req, w)).await;
            ("tickets", s, b)
        }
        Upload::Cases => {
            arm("all");
            let req = post_form(
                "/api-public/1.0/save_file",
                &[
                    ("caseId", None, TICKET.as_bytes()),
                    ("file", Some(name), PNG),
                ],
            );
            let (s, b, _) = call(with_key(req, w)).await;
            ("cases", s, b)
        }
        Upload::Chat => {
            arm("all");
            let files = [("files", Some(name), PNG), ("files", Some("g.png"), PNG)];
            let req = post_form("/api/v1/messages/7/attachments", &files);
            let (s, b, _) = call(with_session(req, w)).await;
            ("chat", s, b)
        }
        Upload::Workspaces | Upload::WorkspacesConfirm => {
            arm("upload-url");
            let req = test::TestRequest::post()
                .uri(&format!(
                    "/v1/workspaces/{SLUG}/tickets/{TICKET}/attachments/upload-url"
                ))
                .set_json(json!({"filename": name, "contentType": "image/png", "size": PNG.len()}));
            let (s, created, _) = call(with_key(req, w)).await;
            if s != StatusCode::CREATED {
                return Some(("workspaces", s, created));
            }
            arm("put");
            let url = created["uploadUrl"].as_str().unwrap_or_default();
            let req = test::TestRequest::put()
                .uri(url.trim_start_matches("http://localhost"))
                .insert_header(("Content-Type", "image/png"))
                .set_payload(PNG);
            let (s, b, _) = call(req).await;
            if s != StatusCode::OK {
                return Some(("signed_upload", s, b));
            }
            arm("confirm");
            let id = created["attachmentId"].as_str().unwrap_or_default();
            let req = test::TestRequest::post()
                .uri(&format!("/v1/workspaces/{SLUG}/attachments/{id}/confirm"));
            let (s, b, _) = call(with_key(req, w)).await;
            ("workspaces", s, b)
        }
    };
    (!status.is_success()).then_some((dialect, status, body))
}

/// Checks `body` is `dialect`'s body for a failed store, with `status`.
fn assert_store_error(dialect: &str, status: StatusCode, body: &Value, what: &str) {
    let s = status.as_u16();
    let ok = match dialect {
        "tickets" | "signed" | "signed_upload" => body["error"] == "internal_error",
        "workspaces" => body["error"]["code"] == "internal_error",
        "cases" => body["code"] == "internalError" && body["status"] == s,
        "chat" => body["errorText"].is_string() && body["httpStatusCode"] == s,
        "redirect" => {
            body["code"] == s
                && body["problem"]
                    == if s == 503 {
                        "service_unavailable"
                    } else {
                        "internal_error"
                    }
        }
        _ => false,
    };
    assert!(ok, "{what}: not {dialect}'s store error body ({s}): {body}");
    assert!(
        !body.to_string().contains("injected"),
        "{what}: details of the failure reach the client: {body}"
    );
}

/// The tenant's ready attachments, as the `cases` listing shows them (it
/// lists every dialect's).
async fn ready<F, Fut>(call: &F, w: &World) -> usize
where
    F: Fn(test::TestRequest) -> Fut,
    Fut: Future<Output = Answer>,
{
    let req = with_key(
        test::TestRequest::get().uri("/api-public/1.0/attachments"),
        w,
    );
    let (status, listed, _) = call(req).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    listed["count"].as_u64().unwrap_or(u64::MAX) as usize
}

/// After every deadline passed and the sweeper ran, the store holds the bytes
/// of the ready attachments and nothing else.
async fn assert_no_orphans(w: &World, ready: usize, what: &str) {
    w.clock.advance(time::Duration::days(2));
    let swept = w.services.attachments.sweep_expired(1000).await.unwrap();
    assert!(swept.failed.is_empty(), "{swept:?}");
    assert_eq!(
        w.mem.blobs.len(),
        ready,
        "{what}: objects no ready attachment owns are left after a sweep"
    );
}

const UPLOAD_FAULTS: [Fault; 7] = [
    Fault::PutBeforeWrite,
    Fault::PutAfterWrite,
    Fault::InsertFails,
    Fault::UpdateBeforeApply,
    Fault::UpdateAfterApply,
    Fault::PutAfterWrite,
    Fault::PutBeforeWrite,
];

#[actix_web::test]
async fn store_failures_during_uploads_leave_nothing_half_visible() {
    let paths = [
        Upload::Tickets,
        Upload::Cases,
        Upload::Chat,
        Upload::Workspaces,
        Upload::WorkspacesConfirm,
    ];
    let mut runs = 0;
    for path in paths {
        // the last two also fail the clean-up's delete of the bytes
        for (i, fault) in UPLOAD_FAULTS.into_iter().enumerate() {
            let cleanup_fails = i >= 5;
            let what = format!(
                "{path:?} with {fault:?}{}",
                if cleanup_fails {
                    " and a failing clean-up"
                } else {
                    ""
                }
            );
            let w = world().await;
            let app = app!(w.services);
            let call = caller!(&app);
            if cleanup_fails {
                w.faults.arm(Fault::BlobDeleteFails);
            }
            let failed = upload(&call, &w, path, Some(fault)).await;
            runs += 1;
            assert!(
                !w.faults.armed().contains(&fault),
                "{what}: the fault point was never reached"
            );
            let visible = ready(&call, &w).await;
            match failed {
                Some((dialect, status, body)) => {
                    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{what}: {body}");
                    assert_store_error(dialect, status, &body, &what);
                    assert_eq!(visible, 0, "{what}: the client was told it failed");
                }
                // a lost reply of a commit that did happen is a success
                None => {
                    assert_eq!(fault, Fault::UpdateAfterApply, "{what}: succeeded");
                    assert_eq!(visible, files(path), "{what}: succeeded but not visible");
                }
            }
            // the service stays up: the same upload now succeeds
            w.faults.clear();
            let again = upload(&call, &w, path, None).await;
            assert!(again.is_none(), "{what}: the next upload failed: {again:?}");
            let visible = ready(&call, &w).await;
            assert_no_orphans(&w, visible, &what).await;
        }
    }
    println!("fault injection: {runs} faulted uploads");
}

/// How many attachments one upload of `path` makes.
fn files(path: Upload) -> usize {
    if matches!(path, Upload::Chat) { 2 } else { 1 }
}

#[actix_web::test]
async fn a_slow_store_delays_one_upload_and_no_other_request() {
    for path in [
        Upload::Tickets,
        Upload::Cases,
        Upload::Chat,
        Upload::Workspaces,
    ] {
        let w = world().await;
        let app = app!(w.services);
        let call = caller!(&app);
        let held = w.faults.hold_puts().await;
        let uploading = AtomicBool::new(true);
        let (uploaded, ()) = futures::join!(
            async {
                let out = upload(&call, &w, path, Some(Fault::PutWaits)).await;
                uploading.store(false, Ordering::SeqCst);
                out
            },
            async {
                // the upload reaches the held store, and stays there
                let mut turns = 0;
                while w.faults.waiting_puts() == 0 {
                    turns += 1;
                    assert!(turns < 100_000, "{path:?}: the upload never got there");
                    tokio::task::yield_now().await;
                }
                ready(&call, &w).await;
                assert!(
                    uploading.load(Ordering::SeqCst),
                    "{path:?}: the upload did not wait for the store"
                );
                drop(held);
            }
        );
        assert!(uploaded.is_none(), "{path:?}: {uploaded:?}");
        assert_eq!(ready(&call, &w).await, files(path));
    }
}

/// A download request of `dialect` for `uri`, with its credential.
fn download(dialect: &str, uri: &str, w: &World) -> test::TestRequest {
    let req = test::TestRequest::get().uri(uri);
    match dialect {
        "chat" => with_session(req, w),
        "signed" => req,
        _ => with_key(req, w),
    }
}

/// Uploads one PNG through the tickets dialect; its id and number.
async fn uploaded<F, Fut>(call: &F, w: &World) -> (String, i64)
where
    F: Fn(test::TestRequest) -> Fut,
    Fut: Future<Output = Answer>,
{
    let req = post_form(
        &format!("/v1/tickets/{TICKET}/attachments"),
        &[("file", Some("f.png"), PNG)],
    );
    let (status, created, _) = call(with_key(req, w)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    let principal = w
        .services
        .identities
        .authenticate_api_key(&w.key)
        .await
        .unwrap();
    let lookup = Lookup::id(AttachmentId(id.parse().unwrap()));
    let found = w.services.attachments.get(&principal, &lookup).await;
    (id, found.unwrap().number)
}

/// The URIs downloading one new ready attachment, by the dialect answering.
async fn downloads<F, Fut>(call: &F, w: &World) -> Vec<(&'static str, String)>
where
    F: Fn(test::TestRequest) -> Fut,
    Fut: Future<Output = Answer>,
{
    let (id, number) = uploaded(call, w).await;
    let req =
        test::TestRequest::get().uri(&format!("/v1/workspaces/{SLUG}/attachments/{id}/download"));
    let (status, url, _) = call(with_key(req, w)).await;
    assert_eq!(status, StatusCode::OK, "{url}");
    let signed = url["url"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("http://localhost")
        .to_owned();
    vec![
        (
            "cases",
            format!("/api-public/1.0/attachment/{id}/attachment"),
        ),
        ("chat", format!("/api/v1/attachments/{number}/f.png")),
        ("signed", signed),
        ("redirect", format!("/api/v1/attachments/{id}/download")),
    ]
}

#[actix_web::test]
async fn store_failures_during_downloads_are_answered_and_pass() {
    let mut runs = 0;
    for fault in [Fault::GetFails, Fault::GetMidStream] {
        for i in 0..4 {
            let w = world().await;
            let app = app!(w.services);
            let call = caller!(&app);
            let (dialect, uri) = downloads(&call, &w).await.swap_remove(i);
            let what = format!("{dialect} download with {fault:?}");
            w.faults.arm(fault);
            let (status, body, whole) = call(download(dialect, &uri, &w)).await;
            runs += 1;
            if dialect == "redirect" {
                // it asks the store whether the object is there, and sends
                // the client to a URL: the bytes never pass through it
                if fault == Fault::GetMidStream {
                    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT, "{what}");
                    w.faults.clear();
                } else {
                    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{what}: {body}");
                    assert_store_error(dialect, status, &body, &what);
                }
            } else if fault == Fault::GetFails {
                assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{what}: {body}");
                assert_store_error(dialect, status, &body, &what);
            } else {
                // the status went out with the first bytes: the body breaks off
                assert_eq!(status, StatusCode::OK, "{what}");
                assert!(whole.is_none(), "{what}: a broken stream arrived whole");
            }
            assert!(
                w.faults.armed().is_empty(),
                "{what}: the fault point was never reached"
            );
            let (status, _, body) = call(download(dialect, &uri, &w)).await;
            assert!(
                status.is_success() || status.is_redirection(),
                "{what}: then {status}"
            );
            if !status.is_redirection() {
                assert_eq!(body.as_deref(), Some(PNG), "{what}: then not the bytes");
            }
        }
    }
    println!("fault injection: {runs} faulted downloads");
}

#[actix_web::test]
async fn store_failures_during_deletes_are_answered_and_consistent() {
    let mut runs = 0;
    for fault in [Fault::RowDeleteFails, Fault::BlobDeleteFails] {
        for dialect in ["tickets", "workspaces", "chat", "redirect"] {
            let w = world().await;
            let app = app!(w.services);
            let call = caller!(&app);
            let (id, number) = uploaded(&call, &w).await;
            let delete = || {
                let req = test::TestRequest::delete();
                match dialect {
                    "tickets" => with_key(
                        req.uri(&format!("/v1/tickets/{TICKET}/attachments/{id}")),
                        &w,
                    ),
                    "workspaces" => with_key(
                        req.uri(&format!("/v1/workspaces/{SLUG}/attachments/{id}")),
                        &w,
                    ),
                    "chat" => with_session(req.uri(&format!("/api/v1/attachments/{number}")), &w),
                    _ => req
                        .uri(&format!("/api/v1/attachments/{id}"))
                        .insert_header(("Authorization", format!("Bearer {}", w.key))),
                }
            };
            let what = format!("{dialect} delete with {fault:?}");
            w.faults.arm(fault);
            let (status, body, _) = call(delete()).await;
            runs += 1;
            assert!(
                w.faults.armed().is_empty(),
                "{what}: the fault point was never reached"
            );
            // The row becomes a tombstone first: the delete succeeds whatever
            // fails after it, nothing is served, and the sweeper removes what
            // is left — the object whose delete failed, or the row.
            assert!(status.is_success(), "{what}: {status} {body}");
            assert_eq!(ready(&call, &w).await, 0, "{what}: still listed");
            let bytes_left = usize::from(fault == Fault::BlobDeleteFails);
            assert_eq!(w.mem.blobs.len(), bytes_left, "{what}: before the sweep");
            let swept = w.services.attachments.sweep_expired(10).await.unwrap();
            assert_eq!((swept.removed, swept.failed.len()), (1, 0), "{what}");
            assert_eq!(w.mem.blobs.len(), 0, "{what}: bytes left after the sweep");
            assert_eq!(ready(&call, &w).await, 0, "{what}: still listed");
            let (status, body, _) = call(delete()).await;
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "{what}: deleting again: {body}"
            );
        }
    }
    println!("fault injection: {runs} faulted deletes");
}
