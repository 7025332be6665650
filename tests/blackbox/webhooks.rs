//! Webhooks end to end: a receiver this test runs on loopback gets every event
//! kind, signed as Standard Webhooks says and checked by the specification's
//! own Python library (`standardwebhooks` from PyPI); retries keep the event
//! id; a SIGKILL loses no pending delivery; two instances on PostgreSQL
//! deliver each event once; and URLs outside `webhook_allowed_hosts` are
//! refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::multipart::Form;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::chat::support::{file, png_picture, session, upload as chat_upload};
use crate::harness::{
    ADMIN_TOKEN, Server, Workdir, client, form, required, upload_to_ticket, workspace_post,
};
use crate::shared::{fresh_postgres_database, on_postgres_and_s3};

const TICKET: &str = "7d444840-9dc0-11d1-b245-5ffdce74fad2";

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: HashMap<String, String>,
    body: String,
}

/// An HTTP endpoint on loopback that records what it is sent and answers
/// the statuses it is told to, in order (then 200).
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Mutex<Vec<u16>>>,
}

impl Receiver {
    async fn start(answers: &[u16]) -> (Receiver, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let receiver = Receiver::default();
        receiver
            .answers
            .lock()
            .unwrap()
            .extend(answers.iter().rev());
        let serving = receiver.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serving.clone().serve(stream));
            }
        });
        (receiver, url)
    }

    async fn serve(self, mut stream: tokio::net::TcpStream) {
        let mut data = Vec::new();
        let mut buf = [0u8; 8192];
        let head_end = loop {
            let Ok(n) = stream.read(&mut buf).await else {
                return;
            };
            if n == 0 {
                return;
            }
            data.extend_from_slice(&buf[..n]);
            if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
        let headers: HashMap<String, String> = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while data.len() < head_end + length {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        }
        let body = String::from_utf8_lossy(&data[head_end..head_end + length]).into_owned();
        let status = self.answers.lock().unwrap().pop().unwrap_or(200);
        self.got.lock().unwrap().push(Received { headers, body });
        let answer =
            format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        let _ = stream.write_all(answer.as_bytes()).await;
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `done` holds of what arrived (at most 30 s).
    async fn until(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.got();
            if done(&got) {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "waited 30 s for {what}; got {got:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn event_type(r: &Received) -> String {
    let payload: Value = serde_json::from_str(&r.body).unwrap();
    payload["type"].as_str().unwrap_or_default().to_owned()
}

/// A workdir whose webhooks may call loopback and retry every `retry`.
fn hooked(work: Workdir, retries: &str) -> Workdir {
    work.with_env("CLASP_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")
        .with_env("CLASP_WEBHOOK_RETRY_SCHEDULE", retries)
}

/// Registers `url` for `events` of `slug`: the webhook's id and secret.
pub(crate) async fn register(
    server: &Server,
    slug: &str,
    url: &str,
    events: &[&str],
) -> (String, String) {
    let res = client()
        .post(server.admin_url(&format!("/admin/v1/tenants/{slug}/webhooks")))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"url": url, "events": events}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{body}");
    (body["id"].as_str().unwrap().to_owned(), secret)
}

async fn webhook(server: &Server, id: &str) -> Value {
    client()
        .get(server.admin_url(&format!("/admin/v1/webhooks/{id}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn upload_text(server: &Server, key: &str, name: &str) -> String {
    let part = form("file", name, "text/plain", b"hello".to_vec());
    upload_to_ticket(&client(), server, key, TICKET, part).await
}

/// Checks every delivery with the Standard Webhooks library from PyPI.
fn verified_by_standardwebhooks(secret: &str, got: &[Received]) {
    let python = required("CLASP_TEST_OPENAPI_PYTHON");
    let deliveries: Vec<Value> = got
        .iter()
        .map(|r| json!({"headers": r.headers, "body": r.body}))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deliveries.json");
    std::fs::write(&path, serde_json::to_vec(&deliveries).unwrap()).unwrap();
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
wh = Webhook(sys.argv[1])
for d in json.load(open(sys.argv[2])):
    payload = wh.verify(d["body"], d["headers"])
    assert set(payload) == {"type", "timestamp", "data"}, payload
    try:
        Webhook("whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=").verify(d["body"], d["headers"])
        sys.exit("a wrong secret verified")
    except Exception:
        pass
print("verified", len(json.load(open(sys.argv[2]))))
"#;
    let out = std::process::Command::new(python)
        .args(["-c", script, secret, path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "standardwebhooks refused a delivery: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("verified {}", got.len())
    );
}

#[tokio::test]
async fn every_event_kind_arrives_signed_and_verifies() {
    let work = hooked(Workdir::new(), "200ms")
        .with_env("CLASP_UPLOAD_URL_TTL_SECS", "1")
        .with_env("CLASP_SWEEP_INTERVAL_SECS", "1");
    let key = work.tenant_with_key(
        "acme",
        "attachments:read,attachments:write,attachments:delete",
    );
    let chat = session(&work, "chatty", "user-1");
    let server = Server::start(&work);
    let (receiver, url) = Receiver::start(&[]).await;

    // Outside the allowlist, or not a kind: refused at registration.
    for (bad_url, events) in [
        ("http://169.254.169.254/latest", json!(["attachment.ready"])),
        ("http://localhost:9/x", json!(["attachment.ready"])),
        ("file:///etc/passwd", json!(["attachment.ready"])),
        (url.as_str(), json!(["attachment.everything"])),
        (url.as_str(), json!([])),
    ] {
        let res = client()
            .post(server.admin_url("/admin/v1/tenants/acme/webhooks"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"url": bad_url, "events": events}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad_url} {events}");
    }
    let all = [
        "attachment.ready",
        "attachment.rejected",
        "attachment.deleted",
        "attachment.thumbnail_ready",
        "upload.abandoned",
        "tenant.deleted",
    ];
    let (_, secret) = register(&server, "acme", &url, &all).await;
    let (_, chat_secret) = register(&server, "chatty", &url, &all).await;

    let id = upload_text(&server, &key, "a.txt").await;
    let refused = form("file", "b.png", "image/png", b"not a png".to_vec());
    let res = client()
        .post(server.url(&format!("/v1/tickets/{TICKET}/attachments")))
        .bearer_auth(&key)
        .multipart(refused)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    let res = client()
        .delete(server.url(&format!("/v1/tickets/{TICKET}/attachments/{id}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    // A direct upload never sent: abandoned once its URL expires.
    let (status, begun) = workspace_post(
        &server,
        &key,
        "acme",
        &format!("/tickets/{TICKET}/attachments/upload-url"),
        json!({"filename": "never.txt", "contentType": "text/plain", "size": 5}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{begun}");
    let photo = Form::new().part("files", file("p.png", "image/png", png_picture(64, 64)));
    let (status, body) = chat_upload(
        &client(),
        &server,
        "/api/v1/messages/1/attachments",
        &chat,
        photo,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let got = receiver
        .until("every attachment event", |got| {
            let kinds: Vec<_> = got.iter().map(event_type).collect();
            all[..5].iter().all(|k| kinds.contains(&k.to_string()))
        })
        .await;
    let res = client()
        .delete(server.admin_url("/admin/v1/tenants/acme"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let got = receiver
        .until("tenant.deleted", |later| {
            later.len() > got.len() && later.iter().any(|r| event_type(r) == "tenant.deleted")
        })
        .await;

    let (acme, chatty): (Vec<_>, Vec<_>) = got.into_iter().partition(|r| {
        let payload: Value = serde_json::from_str(&r.body).unwrap();
        payload["data"]["actor"] != "user:user-1"
            && payload["data"]["dialect"] != "chat"
            && event_type(r) != "attachment.thumbnail_ready"
    });
    verified_by_standardwebhooks(&secret, &acme);
    verified_by_standardwebhooks(&chat_secret, &chatty);
    let ready: Value = acme
        .iter()
        .find(|r| event_type(r) == "attachment.ready")
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .unwrap();
    let data = &ready["data"];
    assert_eq!(data["attachment"]["id"], id.as_str());
    assert_eq!(data["attachment"]["subject"]["ticket_id"], TICKET);
    assert_eq!(data["dialect"], "tickets");
    assert!(
        data["actor"].as_str().unwrap().starts_with("key:"),
        "{data}"
    );
    let rejected = acme
        .iter()
        .find(|r| event_type(r) == "attachment.rejected")
        .unwrap();
    assert!(rejected.body.contains("b.png"), "{}", rejected.body);
    // One request per event: ids are never repeated without a retry.
    let mut ids: Vec<_> = acme
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), acme.len());
}

#[tokio::test]
async fn retries_keep_the_event_id_and_a_spent_schedule_fails_visibly() {
    let work = hooked(Workdir::new(), "100ms,100ms,100ms");
    let key = work.tenant_with_key("acme", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let (flaky, flaky_url) = Receiver::start(&[500, 500, 500]).await;
    let (flaky_id, _) = register(&server, "acme", &flaky_url, &["attachment.ready"]).await;
    // Nothing listens there: every attempt fails.
    let dead = format!("http://127.0.0.1:{}/gone", crate::harness::free_port());
    let (dead_id, _) = register(&server, "acme", &dead, &["attachment.ready"]).await;

    upload_text(&server, &key, "a.txt").await;
    let got = flaky.until("a fourth attempt", |got| got.len() >= 4).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got_after = flaky.got();
    assert_eq!(got_after.len(), 4, "nothing after the 200: {got:#?}");
    let ids: Vec<_> = got_after
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");

    let delivered = webhook(&server, &flaky_id).await;
    assert_eq!(
        delivered["deliveries"][0]["state"], "delivered",
        "{delivered}"
    );
    assert_eq!(delivered["deliveries"][0]["attempts"], 4);
    assert_eq!(delivered["deliveries"][0]["id"], ids[0].as_str());
    assert!(
        delivered.get("secret").is_none(),
        "the secret is shown once"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let failed = webhook(&server, &dead_id).await;
        if failed["deliveries"][0]["state"] == "failed" {
            assert_eq!(failed["deliveries"][0]["attempts"], 4, "{failed}");
            assert!(
                failed["deliveries"][0]["last_error"].is_string(),
                "{failed}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "never failed: {failed}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        server
            .metric("clasp_webhook_deliveries_total{result=\"failed\"}")
            .await,
        1.0
    );
    assert_eq!(
        server
            .metric("clasp_webhook_deliveries_total{result=\"delivered\"}")
            .await,
        1.0
    );
}

#[tokio::test]
async fn a_delivery_pending_at_a_sigkill_is_made_after_the_restart() {
    // A claim cut off by the kill is due again after the attempt's time
    // and 5 s.
    let work = hooked(Workdir::new(), "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s")
        .with_env("CLASP_WEBHOOK_TIMEOUT_SECS", "2");
    let key = work.tenant_with_key("acme", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let (receiver, url) = Receiver::start(&[503; 1000]).await;
    register(&server, "acme", &url, &["attachment.ready"]).await;
    upload_text(&server, &key, "a.txt").await;
    receiver
        .until("a first attempt", |got| !got.is_empty())
        .await;
    drop(server); // SIGKILL
    receiver.answers.lock().unwrap().clear();
    let before = receiver.got().len();
    let server = Server::start(&work);
    let got = receiver
        .until("a 200 after the restart", |got| got.len() > before)
        .await;
    let ids: Vec<_> = got
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    drop(server);
}

#[tokio::test]
async fn two_instances_on_postgres_deliver_each_event_once() {
    let db = fresh_postgres_database();
    let (a, b) = (
        hooked(on_postgres_and_s3(&db), "1s"),
        hooked(on_postgres_and_s3(&db), "1s"),
    );
    let key = a.tenant_with_key("acme", "attachments:read,attachments:write");
    let servers = [Server::start(&a), Server::start(&b)];
    let (receiver, url) = Receiver::start(&[]).await;
    register(&servers[0], "acme", &url, &["attachment.ready"]).await;
    const UPLOADS: usize = 24;
    let uploads = (0..UPLOADS).map(|i| upload_text(&servers[i % 2], &key, "a.txt"));
    futures::future::join_all(uploads).await;
    receiver
        .until("every event", |got| got.len() >= UPLOADS)
        .await;
    // Long enough for a second delivery of any of them to show.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = receiver.got();
    let mut ids: Vec<_> = got
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!((ids.len(), got.len()), (UPLOADS, UPLOADS));
}
