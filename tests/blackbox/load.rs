//! A bounded load test of the built binary on loopback: rounds of a mixed
//! workload over the dialects — small and multi-MiB uploads, metadata gets,
//! listings, whole and ranged downloads, deletes — from 256 concurrent
//! connections, against the embedded defaults with their default limits but
//! the per-tenant and per-credential upload shares: the load is one tenant's
//! and one key's, and measures the server, not fairness between tenants
//! (`attacks::one_tenant_s_slow_uploads_leave_slots_for_another` does). No
//! answer may be a 5xx (nor a 429 or 503: rate limiting is off and
//! `max_concurrent_uploads` is 256), every upload answered as stored reads
//! back with its SHA-256 at the end, and the server's resident memory after
//! the last round is not above the second round's by more than a margin.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::{Server, Workdir, proc_status};

/// Concurrent connections: one client task each, always one request in flight.
const CONNECTIONS: usize = 256;
/// Rounds; memory is compared between the second and the last.
const ROUNDS: usize = 5;
/// How long each round sends new requests.
const ROUND: Duration = Duration::from_secs(7);
/// Tasks that also upload one multi-MiB file per round.
const LARGE_UPLOADERS: usize = 4;
/// How much more resident memory the server may hold after the last round
/// than after the second, as a fraction of the second's and in bytes.
const RSS_GROWTH: f64 = 0.10;
const RSS_SLACK: u64 = 16 << 20;
const TENANT: &str = "ws-load";
const ALL: &str = "attachments:read,attachments:write,attachments:delete";

/// The dialect an attachment was uploaded through (and is addressed by).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    Tickets,
    Cases,
    Chat,
    Workspaces,
}

/// An attachment a task uploaded and has not deleted.
#[derive(Clone, Debug)]
struct Item {
    dialect: Dialect,
    /// UUID, or the chat dialect's number.
    id: String,
    name: String,
    len: usize,
    sha256: String,
}

/// 8 MiB of pseudo-random lowercase text, from which every file is cut.
fn text() -> &'static [u8] {
    static TEXT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let mut out = Vec::with_capacity(8 << 20);
        while out.len() < 8 << 20 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.extend(x.to_le_bytes().map(|b| b'a' + b % 26));
        }
        out
    })
}

/// The content of file `name` of `len` bytes (at most 4 MiB): a stretch of
/// [`text`] chosen by the name, so a download can be compared with what was
/// sent without keeping it.
fn content(name: &str, len: usize) -> &'static [u8] {
    let seed = name.bytes().fold(0usize, |h, b| {
        h.wrapping_mul(31).wrapping_add(usize::from(b))
    });
    let from = seed % (4 << 20);
    &text()[from..from + len]
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A small xorshift generator: each task's choices, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }
}

/// One instance's credentials and the base URL.
struct Ctx {
    base: String,
    key: String,
    cookie: String,
}

/// What the tasks of a round saw.
#[derive(Default)]
struct Tally {
    /// Time to answer of every request, in microseconds.
    latencies: Vec<u32>,
    /// Answers of another status than the one expected, by status.
    unexpected: BTreeMap<u16, usize>,
    /// The first few of them, for the failure message.
    samples: Vec<String>,
    uploads: usize,
    deletes: usize,
    bytes_checked: u64,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        for (status, n) in other.unexpected {
            *self.unexpected.entry(status).or_default() += n;
        }
        self.samples.extend(other.samples);
        self.samples.truncate(10);
        self.uploads += other.uploads;
        self.deletes += other.deletes;
        self.bytes_checked += other.bytes_checked;
    }
}

/// One client task: its subjects, its attachments, its tally.
struct Task {
    c: reqwest::Client,
    ctx: Arc<Ctx>,
    n: usize,
    rng: Rng,
    ticket: String,
    ws_ticket: String,
    case: String,
    message: u64,
    items: Vec<Item>,
    uploaded: usize,
    tally: Tally,
}

impl Task {
    /// Sends `req`, expecting `want`; the body when it came.
    async fn send(&mut self, req: reqwest::RequestBuilder, want: StatusCode) -> Option<Vec<u8>> {
        self.answer(req, want).await.map(|(_, body)| body)
    }

    /// Sends `req`, expecting `want`; the `ETag` and the body when they came.
    async fn answer(
        &mut self,
        req: reqwest::RequestBuilder,
        want: StatusCode,
    ) -> Option<(Option<String>, Vec<u8>)> {
        let began = Instant::now();
        let res = req.send().await;
        let (status, etag, body) = match res {
            Ok(res) => {
                let status = res.status();
                let etag = res
                    .headers()
                    .get("etag")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                (status, etag, res.bytes().await.map(|b| b.to_vec()).ok())
            }
            Err(e) => {
                self.tally.samples.push(format!("request failed: {e}"));
                *self.tally.unexpected.entry(0).or_default() += 1;
                return None;
            }
        };
        self.tally
            .latencies
            .push(u32::try_from(began.elapsed().as_micros()).unwrap_or(u32::MAX));
        if status != want {
            *self.tally.unexpected.entry(status.as_u16()).or_default() += 1;
            if self.tally.samples.len() < 10 {
                self.tally.samples.push(format!(
                    "{status} (wanted {want}): {}",
                    String::from_utf8_lossy(body.as_deref().unwrap_or_default())
                ));
            }
            return None;
        }
        Some((etag, body?))
    }

    async fn json(&mut self, req: reqwest::RequestBuilder, want: StatusCode) -> Option<Value> {
        let body = self.send(req, want).await?;
        serde_json::from_slice(&body).ok()
    }

    fn bearer(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        req.bearer_auth(&self.ctx.key)
            .header("x-workspace-id", TENANT)
    }

    fn session(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        req.header("cookie", format!("clasp_session={}", self.ctx.cookie))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.ctx.base)
    }

    fn mismatch(&mut self, what: String) {
        *self.tally.unexpected.entry(1).or_default() += 1;
        if self.tally.samples.len() < 10 {
            self.tally.samples.push(what);
        }
    }

    /// Uploads a file of `len` bytes through the next dialect in turn.
    async fn upload(&mut self, len: usize) {
        self.uploaded += 1;
        let name = format!("t{}-{}.txt", self.n, self.uploaded);
        let data = content(&name, len);
        let sha256 = sha256_hex(data);
        let part = || {
            Part::bytes(data)
                .file_name(name.clone())
                .mime_str("text/plain")
                .unwrap()
        };
        let dialect = [
            Dialect::Tickets,
            Dialect::Cases,
            Dialect::Chat,
            Dialect::Workspaces,
        ][self.uploaded % 4];
        let id = match dialect {
            Dialect::Tickets => {
                let req = self.bearer(
                    self.c
                        .post(self.url(&format!("/v1/tickets/{}/attachments", self.ticket)))
                        .multipart(Form::new().part("file", part())),
                );
                self.json(req, StatusCode::CREATED)
                    .await
                    .map(|v| v["id"].clone())
            }
            Dialect::Cases => {
                let form = Form::new()
                    .text("caseId", self.case.clone())
                    .part("file", part());
                let req = self.bearer(
                    self.c
                        .post(self.url("/api-public/1.0/save_file"))
                        .multipart(form),
                );
                self.json(req, StatusCode::OK)
                    .await
                    .map(|v| v["id"].clone())
            }
            Dialect::Chat => {
                let req = self.session(
                    self.c
                        .post(self.url(&format!("/api/v1/messages/{}/attachments", self.message)))
                        .multipart(Form::new().part("files", part())),
                );
                self.json(req, StatusCode::OK)
                    .await
                    .map(|v| v["attachmentIds"][0].clone())
            }
            Dialect::Workspaces => self.direct_upload(&name, data).await,
        };
        let id = match id {
            Some(Value::String(id)) => id,
            Some(Value::Number(n)) => n.to_string(),
            _ => return,
        };
        self.tally.uploads += 1;
        self.items.push(Item {
            dialect,
            id,
            name,
            len,
            sha256,
        });
    }

    /// The workspaces flow: upload-url, PUT to Clasp's signed URL, confirm.
    async fn direct_upload(&mut self, name: &str, data: &'static [u8]) -> Option<Value> {
        let req = self.bearer(
            self.c
                .post(self.url(&format!(
                    "/v1/workspaces/{TENANT}/tickets/{}/attachments/upload-url",
                    self.ws_ticket
                )))
                .json(&json!({"filename": name, "contentType": "text/plain", "size": data.len()})),
        );
        let begun = self.json(req, StatusCode::CREATED).await?;
        let id = begun["attachmentId"].clone();
        let mut put = self.c.put(begun["url"].as_str()?);
        for (header, value) in begun["headers"].as_object()? {
            if !header.eq_ignore_ascii_case("content-length") {
                put = put.header(header, value.as_str()?);
            }
        }
        self.send(put.body(data), StatusCode::OK).await?;
        let req = self.bearer(
            self.c
                .post(self.url(&format!(
                    "/v1/workspaces/{TENANT}/attachments/{}/confirm",
                    id.as_str()?
                )))
                .json(&json!({})),
        );
        let confirmed = self.json(req, StatusCode::OK).await?;
        (confirmed["status"] == "ready").then_some(id)
    }

    /// The metadata of `item` through its dialect.
    async fn metadata(&mut self, item: &Item) {
        let (req, want) = match item.dialect {
            Dialect::Tickets => (
                self.bearer(self.c.get(self.url(&format!(
                    "/v1/tickets/{}/attachments/{}",
                    self.ticket, item.id
                )))),
                StatusCode::OK,
            ),
            Dialect::Cases => (
                self.bearer(
                    self.c
                        .get(self.url(&format!("/api-public/1.0/attachment/{}", item.id))),
                ),
                StatusCode::OK,
            ),
            Dialect::Chat => (
                self.session(
                    self.c
                        .get(self.url(&format!("/api/v1/attachments/{}", item.id))),
                ),
                StatusCode::OK,
            ),
            // the redirect dialect: a 307 to a signed URL
            Dialect::Workspaces => (
                self.bearer(
                    self.c
                        .get(self.url(&format!("/api/v1/attachments/{}/download", item.id))),
                ),
                StatusCode::TEMPORARY_REDIRECT,
            ),
        };
        self.send(req, want).await;
    }

    /// A listing of this task's subjects.
    async fn listing(&mut self) {
        let req = match self.rng.next(3) {
            0 => self.bearer(
                self.c
                    .get(self.url(&format!("/v1/tickets/{}/attachments", self.ticket))),
            ),
            1 => self.bearer(self.c.get(self.url(&format!(
                "/api-public/1.0/attachments?caseId={}&limit=50",
                self.case
            )))),
            _ => self.bearer(self.c.get(self.url(&format!(
                "/v1/workspaces/{TENANT}/tickets/{}/attachments",
                self.ws_ticket
            )))),
        };
        self.send(req, StatusCode::OK).await;
    }

    /// Downloads `item` through its dialect, whole or the byte range `range`,
    /// and compares the bytes with what was sent.
    async fn download(&mut self, item: &Item, range: Option<(usize, usize)>) {
        let url = match item.dialect {
            Dialect::Tickets => {
                let req = self.bearer(self.c.get(self.url(&format!(
                    "/v1/tickets/{}/attachments/{}/download",
                    self.ticket, item.id
                ))));
                let Some(signed) = self.json(req, StatusCode::OK).await else {
                    return;
                };
                signed["signed_url"].as_str().unwrap_or_default().to_owned()
            }
            Dialect::Cases => self.url(&format!(
                "/api-public/1.0/attachment/{}/attachment",
                item.id
            )),
            Dialect::Chat => self.url(&format!("/api/v1/attachments/{}/{}", item.id, item.name)),
            Dialect::Workspaces => {
                let req = self.bearer(self.c.get(self.url(&format!(
                    "/v1/workspaces/{TENANT}/attachments/{}/download",
                    item.id
                ))));
                let Some(signed) = self.json(req, StatusCode::OK).await else {
                    return;
                };
                signed["url"].as_str().unwrap_or_default().to_owned()
            }
        };
        let mut req = match item.dialect {
            Dialect::Chat => self.session(self.c.get(url)),
            _ => self.bearer(self.c.get(url)),
        };
        let want = match range {
            Some((from, to)) => {
                req = req.header("range", format!("bytes={from}-{}", to - 1));
                StatusCode::PARTIAL_CONTENT
            }
            None => StatusCode::OK,
        };
        let Some((etag, bytes)) = self.answer(req, want).await else {
            return;
        };
        // the strong ETag is the SHA-256 the server recorded for the bytes
        if etag != Some(format!("\"{}\"", item.sha256)) {
            self.mismatch(format!(
                "{:?} {}: ETag {etag:?}, not the SHA-256 {} of what was sent",
                item.dialect, item.id, item.sha256
            ));
        }
        let (from, to) = range.unwrap_or((0, item.len));
        if bytes != content(&item.name, item.len)[from..to] {
            self.mismatch(format!(
                "{:?} {} bytes {from}..{to}: {} bytes differ from what was sent",
                item.dialect,
                item.id,
                bytes.len()
            ));
        }
        self.tally.bytes_checked += bytes.len() as u64;
    }

    /// Deletes `item` through its dialect (cases has no delete: the redirect
    /// dialect's), then checks its metadata is gone.
    async fn delete(&mut self, item: &Item) {
        let (req, want) =
            match item.dialect {
                Dialect::Tickets => (
                    self.bearer(self.c.delete(self.url(&format!(
                        "/v1/tickets/{}/attachments/{}",
                        self.ticket, item.id
                    )))),
                    StatusCode::NO_CONTENT,
                ),
                Dialect::Chat => (
                    self.session(
                        self.c
                            .delete(self.url(&format!("/api/v1/attachments/{}", item.id))),
                    ),
                    StatusCode::OK,
                ),
                Dialect::Workspaces => (
                    self.bearer(self.c.delete(
                        self.url(&format!("/v1/workspaces/{TENANT}/attachments/{}", item.id)),
                    )),
                    StatusCode::NO_CONTENT,
                ),
                Dialect::Cases => (
                    self.bearer(
                        self.c
                            .delete(self.url(&format!("/api/v1/attachments/{}", item.id))),
                    ),
                    StatusCode::NO_CONTENT,
                ),
            };
        if self.send(req, want).await.is_none() {
            return;
        }
        self.tally.deletes += 1;
        let gone = match item.dialect {
            Dialect::Chat => self.session(
                self.c
                    .get(self.url(&format!("/api/v1/attachments/{}", item.id))),
            ),
            _ => self.bearer(
                self.c
                    .get(self.url(&format!("/api-public/1.0/attachment/{}", item.id))),
            ),
        };
        self.send(gone, StatusCode::NOT_FOUND).await;
    }

    /// One round: operations until `until`, the multi-MiB upload first for a
    /// few tasks.
    async fn run(mut self, until: Instant) -> Self {
        if self.n < LARGE_UPLOADERS {
            let len = (2 << 20) + self.rng.next(2 << 20);
            self.upload(len).await;
        }
        while Instant::now() < until {
            let roll = self.rng.next(100);
            let item = if self.items.is_empty() {
                None
            } else {
                Some(self.items[self.rng.next(self.items.len())].clone())
            };
            match (roll, item) {
                (0..25, _) | (_, None) => {
                    let len = 1 + self.rng.next(64 << 10);
                    self.upload(len).await;
                }
                (25..45, Some(item)) => self.metadata(&item).await,
                (45..60, _) => self.listing().await,
                (60..78, Some(item)) => self.download(&item, None).await,
                (78..90, Some(item)) => {
                    let from = self.rng.next(item.len);
                    let to = from + 1 + self.rng.next(item.len - from);
                    self.download(&item, Some((from, to))).await;
                }
                (_, Some(item)) => {
                    self.items.retain(|i| i.id != item.id);
                    self.delete(&item).await;
                }
            }
        }
        self
    }
}

/// How many sockets the server has open (its connections and listener).
fn sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.flatten()
                .filter(|fd| {
                    std::fs::read_link(fd.path())
                        .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
                })
                .count()
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_workload_on_256_connections_loses_nothing_and_does_not_grow() {
    text(); // generated once, before the clock starts
    let work = Workdir::new()
        .with_env("CLASP_MAX_UPLOADS_PER_TENANT", "0")
        .with_env("CLASP_MAX_UPLOADS_PER_CREDENTIAL", "0");
    let key = work.tenant_with_key(TENANT, ALL);
    let cookie = work.admin(&[
        "admin", "session", "create", "--tenant", TENANT, "--user", "load",
    ]);
    let server = Server::start(&work);
    let pid = server.pid();
    let ctx = Arc::new(Ctx {
        base: server.base.clone(),
        key,
        cookie,
    });
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .unwrap();
    let mut tasks: Vec<Task> = (0..CONNECTIONS)
        .map(|n| Task {
            c: c.clone(),
            ctx: ctx.clone(),
            n,
            rng: Rng(0x9e37_79b9_7f4a_7c15 ^ (n as u64 + 1)),
            ticket: uuid::Uuid::new_v4().to_string(),
            ws_ticket: uuid::Uuid::new_v4().to_string(),
            case: uuid::Uuid::new_v4().to_string(),
            message: 5000 + n as u64,
            items: Vec::new(),
            uploaded: 0,
            tally: Tally::default(),
        })
        .collect();

    let mut rss = Vec::new();
    let mut total = Tally::default();
    for round in 1..=ROUNDS {
        let began = Instant::now();
        let until = began + ROUND;
        let handles: Vec<_> = tasks
            .drain(..)
            .map(|t| tokio::spawn(t.run(until)))
            .collect();
        let mut peak_sockets = 0;
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(500)).await;
            peak_sockets = peak_sockets.max(sockets(pid));
        }
        let mut tally = Tally::default();
        for h in handles {
            let mut t = h.await.unwrap();
            tally.merge(std::mem::take(&mut t.tally));
            tasks.push(t);
        }
        let elapsed = began.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_millis(300)).await;
        rss.push(proc_status(pid, "VmRSS") * 1024);
        let threads = proc_status(pid, "Threads");
        let db_kib = ["clasp.db", "clasp.db-wal"]
            .iter()
            .filter_map(|f| std::fs::metadata(work.path().join("data").join(f)).ok())
            .map(|m| m.len() >> 10)
            .sum::<u64>();
        tally.latencies.sort_unstable();
        println!(
            "load round {round}: {} requests in {elapsed:.1} s ({:.0} rps), p50 {:.1} ms, p99 {:.1} ms, \
             {} uploads, {} deletes, {:.1} MiB read back, {} server sockets at peak, RSS {:.1} MiB, {threads} threads, database {db_kib} KiB, unexpected {:?}",
            tally.latencies.len(),
            tally.latencies.len() as f64 / elapsed,
            percentile(&tally.latencies, 0.50),
            percentile(&tally.latencies, 0.99),
            tally.uploads,
            tally.deletes,
            tally.bytes_checked as f64 / f64::from(1 << 20),
            peak_sockets,
            rss[round - 1] as f64 / f64::from(1 << 20),
            tally.unexpected,
        );
        assert!(
            peak_sockets >= CONNECTIONS,
            "the server held {peak_sockets} sockets, not {CONNECTIONS} connections"
        );
        total.merge(tally);
    }

    // every upload answered as stored and not deleted reads back whole, its
    // ETag the SHA-256 of what was sent
    let remaining: Vec<Item> = tasks.iter().flat_map(|t| t.items.clone()).collect();
    let mut readback = Tally::default();
    let handles: Vec<_> = tasks
        .into_iter()
        .map(|mut t| {
            tokio::spawn(async move {
                for item in std::mem::take(&mut t.items) {
                    t.download(&item, None).await;
                }
                t.tally
            })
        })
        .collect();
    for h in handles {
        readback.merge(h.await.unwrap());
    }
    println!(
        "load: {} rounds of {} s on {CONNECTIONS} connections, {} requests, {} uploads, {} deletes, \
         {} attachments read back at the end ({} requests), RSS by round {:?} MiB",
        ROUNDS,
        ROUND.as_secs(),
        total.latencies.len(),
        total.uploads,
        total.deletes,
        remaining.len(),
        readback.latencies.len(),
        rss.iter().map(|r| r >> 20).collect::<Vec<_>>(),
    );
    total.merge(readback);
    assert!(
        total.unexpected.is_empty(),
        "unexpected answers by status (0: no answer, 1: wrong bytes): {:?}; e.g. {:#?}",
        total.unexpected,
        total.samples
    );
    let allowed = rss[1] + (rss[1] as f64 * RSS_GROWTH) as u64 + RSS_SLACK;
    assert!(
        rss[ROUNDS - 1] <= allowed,
        "RSS grew from {} to {} bytes over rounds 2..{ROUNDS} (allowed {allowed})",
        rss[1],
        rss[ROUNDS - 1]
    );
    drop(server);
}
