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

mod tasks;

use tasks::*;

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
