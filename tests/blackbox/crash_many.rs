//! Crash consistency under load, on the built binary: rounds of `clasp serve`
//! killed with SIGKILL while dozens of uploads stream through every dialect's
//! upload path at once (tickets multipart, cases `save_file`, chat multi-file
//! messages, the workspaces upload URL → PUT → confirm flow). After each
//! restart every upload whose success response arrived downloads with its
//! SHA-256 through its dialect, no attachment that is not whole is visible or
//! downloadable, and once the uploads' deadline has passed `clasp gc` (or the
//! sweeper of the running instance) leaves the blob directory holding exactly
//! the ready attachments' objects — staged parts included — and a second
//! `clasp gc` finds nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::{Server, Workdir, client};
use crate::shared::{SECRET, fresh_postgres_database};

/// The tenant of every upload; also the `workspaces` dialect's workspace.
const TENANT: &str = "ws-crash";
const ALL: &str = "attachments:read,attachments:write,attachments:delete";
/// Uploads per round through each of tickets, cases and workspaces.
const PER_DIALECT: usize = 12;
/// Chat messages per round, each carrying two files.
const CHAT_MESSAGES: usize = 6;
/// `upload_url_ttl_secs`: the deadline of every upload, longer than a round
/// runs before the kill (so uploads that complete are confirmed in time),
/// short enough that a round waits only seconds for it.
const TTL_SECS: u64 = 4;
/// Time from the start of a round's uploads to the SIGKILL: uploads take
/// 0.3–5.3 s, so about half of them are mid-body then.
const KILL_AFTER: Duration = Duration::from_millis(3000);
/// Bytes sent per write of a slow body.
const CHUNK: usize = 64 * 1024;

/// The dialect an upload went through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Dialect {
    Tickets,
    Cases,
    Chat,
    Workspaces,
}

/// What a client learnt of one upload request.
#[derive(Debug)]
enum Outcome {
    /// The success response arrived, naming each file's id (UUID, or the
    /// chat dialect's number) beside its name.
    Completed(Vec<(String, String)>),
    /// workspaces: upload-url answered this id, but no confirm did.
    Begun(String),
    /// No answer: the process died first.
    Interrupted,
}

/// One instance's credentials and the subjects a round files uploads under.
#[derive(Clone)]
struct Ctx {
    base: String,
    key: String,
    cookie: String,
    /// The ticket of the tickets dialect's uploads this round.
    ticket: String,
    /// The ticket of the workspaces dialect's uploads this round.
    ws_ticket: String,
    case: String,
    message: u64,
}

impl Ctx {
    /// `req` as the chat dialect's end user sends it: with the session cookie.
    fn chat(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        req.header("cookie", format!("clasp_session={}", self.cookie))
    }
}

mod uploads;

use uploads::*;

/// GETs `url` with the tenant's credential for `dialect`; the body of a 200.
async fn get_bytes(c: &reqwest::Client, ctx: &Ctx, dialect: Dialect, url: &str) -> Vec<u8> {
    let req = match dialect {
        Dialect::Chat => ctx.chat(c.get(url)),
        _ => c
            .get(url)
            .bearer_auth(&ctx.key)
            .header("x-workspace-id", TENANT),
    };
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{url}");
    res.bytes().await.unwrap().to_vec()
}

/// Downloads attachment `id` (named `name`) through `dialect` and checks its
/// bytes against what was sent.
async fn check_download(c: &reqwest::Client, ctx: &Ctx, dialect: Dialect, id: &str, name: &str) {
    let bytes = match dialect {
        Dialect::Tickets => {
            let url = format!(
                "{}/v1/tickets/{}/attachments/{id}/download",
                ctx.base, ctx.ticket
            );
            let signed: Value =
                serde_json::from_slice(&get_bytes(c, ctx, dialect, &url).await).unwrap();
            let (status, bytes) =
                crate::harness::fetch(c, signed["signed_url"].as_str().unwrap()).await;
            assert_eq!(status, StatusCode::OK);
            bytes
        }
        Dialect::Cases => {
            let url = format!("{}/api-public/1.0/attachment/{id}/attachment", ctx.base);
            get_bytes(c, ctx, dialect, &url).await
        }
        Dialect::Chat => {
            let url = format!("{}/api/v1/attachments/{id}/{name}", ctx.base);
            get_bytes(c, ctx, dialect, &url).await
        }
        Dialect::Workspaces => {
            let url = format!(
                "{}/v1/workspaces/{TENANT}/attachments/{id}/download",
                ctx.base
            );
            let signed: Value =
                serde_json::from_slice(&get_bytes(c, ctx, dialect, &url).await).unwrap();
            let (status, bytes) = crate::harness::fetch(c, signed["url"].as_str().unwrap()).await;
            assert_eq!(status, StatusCode::OK);
            bytes
        }
    };
    assert!(
        bytes == content(name),
        "{dialect:?} {id} ({name}) downloads what was sent, not {} other bytes",
        bytes.len()
    );
}

/// Every attachment of the tenant visible through the chat dialect, by number
/// — every row there is has a number below `upper`, interrupted ones
/// included — each checked to be ready and whole: its name maps to its SHA-256.
/// The one other answer allowed is an abandoned upload a running sweeper has
/// claimed but not yet removed: failed, without a checksum, not downloadable.
async fn visible_by_number(
    c: &reqwest::Client,
    ctx: &Ctx,
    upper: usize,
) -> BTreeMap<String, String> {
    let found = futures::stream::iter(1..=upper)
        .map(|n| {
            let c = c.clone();
            let ctx = ctx.clone();
            async move {
                let res = ctx
                    .chat(c.get(format!("{}/api/v1/attachments/{n}", ctx.base)))
                    .send()
                    .await
                    .unwrap();
                if res.status() == StatusCode::NOT_FOUND {
                    return None;
                }
                assert_eq!(res.status(), StatusCode::OK, "attachment number {n}");
                let meta: Value = res.json().await.unwrap();
                let name = meta["fileName"].as_str().unwrap().to_owned();
                if meta["attachmentState"] == "UploadFromClientToServerFailed" {
                    // a running sweeper claims an abandoned upload as failed
                    // before it removes its bytes and row: seen in between,
                    // it has no checksum and nothing to download
                    assert_eq!(
                        meta["failureReason"],
                        "abandoned: the upload did not finish by its deadline",
                        "{meta}"
                    );
                    assert!(meta["fileChecksum"].is_null(), "{meta}");
                    let download = format!("{}/api/v1/attachments/{n}/{name}", ctx.base);
                    let status = ctx.chat(c.get(download)).send().await.unwrap().status();
                    assert_eq!(status, StatusCode::NOT_FOUND, "abandoned {meta}");
                    return None;
                }
                assert_eq!(
                    meta["attachmentState"], "ReadyForDownloadFromServerToClient",
                    "{meta}"
                );
                let sha = sha256_hex(&content(&name));
                assert_eq!(meta["fileChecksum"], sha.as_str(), "{meta}");
                check_download(&c, &ctx, Dialect::Chat, &n.to_string(), &name).await;
                Some((name, sha))
            }
        })
        .buffer_unordered(16)
        .filter_map(|found| async move { found })
        .collect::<Vec<_>>()
        .await;
    found.into_iter().collect()
}

/// The name of every file under the blob directory that is whole (`None`
/// for one that is not), and how many are staged parts or uploads not yet
/// verified.
fn blob_contents(work: &Workdir) -> (Vec<Option<String>>, usize) {
    let files = work.blob_files();
    let staged = files
        .iter()
        .filter(|f| {
            let f = f.to_string_lossy();
            f.contains('#') || f.contains("/uploads/")
        })
        .count();
    let names = files
        .iter()
        .map(|f| whole(&std::fs::read(f).unwrap()))
        .collect();
    (names, staged)
}

/// How many abandoned uploads the sweeper of `server` has deleted, from its
/// `/metrics`.
async fn swept_by_sweeper(server: &Server) -> usize {
    let metrics = server.metrics().await;
    metrics
        .lines()
        .find(|l| l.contains("sweeper_deleted_uploads") && !l.starts_with('#'))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no sweeper figure in /metrics:\n{metrics}")) as usize
}

/// What one round did, for the figures.
#[derive(Default, Debug)]
struct Figures {
    requests: usize,
    files: usize,
    completed_files: usize,
    interrupted_requests: usize,
    visible_anyway: usize,
    orphan_files: usize,
    swept: usize,
}

/// One round on `work`: uploads, SIGKILL, restart, checks, then the sweep by
/// `clasp gc` or, with `by_sweeper`, by the restarted instance itself.
async fn round(
    work: &Workdir,
    ctx: &mut Ctx,
    round: usize,
    visible: &mut BTreeMap<String, String>,
    started_files: &mut usize,
    by_sweeper: bool,
) -> Figures {
    let mut figures = Figures::default();
    let c = client();
    let server = Server::start(work);
    ctx.base = server.base.clone();
    ctx.ticket = uuid::Uuid::new_v4().to_string();
    ctx.ws_ticket = uuid::Uuid::new_v4().to_string();
    ctx.case = uuid::Uuid::new_v4().to_string();
    ctx.message = 1000 + round as u64;

    let mut plans: Vec<(Dialect, Vec<String>)> = Vec::new();
    for i in 0..PER_DIALECT {
        for (dialect, tag) in [
            (Dialect::Tickets, "t"),
            (Dialect::Cases, "c"),
            (Dialect::Workspaces, "w"),
        ] {
            plans.push((dialect, vec![format!("r{round}-{tag}{i}.txt")]));
        }
    }
    for i in 0..CHAT_MESSAGES {
        plans.push((
            Dialect::Chat,
            vec![format!("r{round}-m{i}a.txt"), format!("r{round}-m{i}b.txt")],
        ));
    }
    figures.requests = plans.len();
    figures.files = plans.iter().map(|(_, names)| names.len()).sum();
    *started_files += figures.files;

    let started = Instant::now();
    let tasks: Vec<_> = plans
        .into_iter()
        .map(|(dialect, names)| {
            let task = tokio::spawn(upload(c.clone(), ctx.clone(), dialect, names.clone()));
            (dialect, names, task)
        })
        .collect();
    tokio::time::sleep(KILL_AFTER.saturating_sub(started.elapsed())).await;
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    // every row was created before the kill: its deadline has passed by then
    let deadline = Instant::now() + Duration::from_secs(TTL_SECS) + Duration::from_millis(1200);

    let mut completed: Vec<(Dialect, String, String)> = Vec::new();
    let mut begun: Vec<String> = Vec::new();
    for (dialect, names, task) in tasks {
        let outcome = tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .unwrap_or_else(|_| panic!("{dialect:?} {names:?} did not end after the kill"))
            .unwrap();
        match outcome {
            Ok(Outcome::Completed(files)) => {
                completed.extend(files.into_iter().map(|(id, name)| (dialect, id, name)));
            }
            Ok(Outcome::Begun(id)) => {
                figures.interrupted_requests += 1;
                begun.push(id);
            }
            Ok(Outcome::Interrupted) => figures.interrupted_requests += 1,
            Err(e) => panic!("{dialect:?} {names:?}: {e}"),
        }
    }
    figures.completed_files = completed.len();
    let files_at_kill = work.blob_files().len();

    // after a restart: what was reported done downloads whole, through its dialect
    let server = Server::start(work);
    ctx.base = server.base.clone();
    for (dialect, id, name) in &completed {
        check_download(&c, ctx, *dialect, id, name).await;
    }
    // every row of the tenant, interrupted ones included, has a number up to
    // the files ever started: only whole, ready files answer
    let now_visible = visible_by_number(&c, ctx, *started_files + 8).await;
    for (_, _, name) in &completed {
        assert!(now_visible.contains_key(name), "{name} is visible");
    }
    for (name, sha) in visible.iter() {
        assert_eq!(
            now_visible.get(name),
            Some(sha),
            "{name} of an earlier round"
        );
    }
    figures.visible_anyway = now_visible.len() - visible.len() - completed.len();
    *visible = now_visible;
    // listings show whole files only, and every file reported done
    let mut listed_names = BTreeSet::new();
    for (url, records, name) in [
        (
            format!("{}/v1/tickets/{}/attachments", ctx.base, ctx.ticket),
            "",
            "filename",
        ),
        (
            format!(
                "{}/v1/workspaces/{TENANT}/tickets/{}/attachments",
                ctx.base, ctx.ws_ticket
            ),
            "",
            "filename",
        ),
        (
            format!(
                "{}/api-public/1.0/attachments?caseId={}&limit=100",
                ctx.base, ctx.case
            ),
            "records",
            "name",
        ),
    ] {
        let page: Value =
            serde_json::from_slice(&get_bytes(&c, ctx, Dialect::Tickets, &url).await).unwrap();
        let listed = if records.is_empty() {
            &page
        } else {
            &page[records]
        };
        for a in listed.as_array().unwrap() {
            let name = a[name].as_str().unwrap();
            assert!(visible.contains_key(name), "{url} lists {name}, not whole");
            listed_names.insert(name.to_owned());
        }
    }
    for (dialect, _, name) in &completed {
        assert!(
            *dialect == Dialect::Chat || listed_names.contains(name),
            "{name} is listed"
        );
    }
    // a workspaces upload never confirmed is not downloadable
    let listed_ws: Value = serde_json::from_slice(
        &get_bytes(
            &c,
            ctx,
            Dialect::Workspaces,
            &format!(
                "{}/v1/workspaces/{TENANT}/tickets/{}/attachments",
                ctx.base, ctx.ws_ticket
            ),
        )
        .await,
    )
    .unwrap();
    let listed_ids: BTreeSet<&str> = listed_ws
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    let mut pending = 0;
    for id in &begun {
        if listed_ids.contains(id.as_str()) {
            continue; // confirmed just before the kill: whole, checked above
        }
        pending += 1;
        let status = c
            .get(format!(
                "{}/v1/workspaces/{TENANT}/attachments/{id}/download",
                ctx.base
            ))
            .bearer_auth(&ctx.key)
            .header("x-workspace-id", TENANT)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::NOT_FOUND, "unconfirmed {id}");
    }
    let expected: Vec<Option<String>> = visible.keys().cloned().map(Some).collect();
    let files_now = work.blob_files().len();
    figures.orphan_files = files_now.saturating_sub(expected.len());
    assert!(
        files_at_kill >= files_now,
        "the restart added no files: {files_at_kill} then {files_now}"
    );

    // once the deadline has passed, the sweep leaves exactly the ready objects
    tokio::time::sleep(deadline.saturating_duration_since(Instant::now())).await;
    let swept = if by_sweeper {
        // the sweeper runs every second: wait until it has removed the
        // orphaned bytes and its count has stood still for two ticks
        let until = Instant::now() + Duration::from_secs(20);
        let mut last = None;
        let swept = loop {
            tokio::time::sleep(Duration::from_millis(2100)).await;
            let swept = swept_by_sweeper(&server).await;
            if (last == Some(swept) && work.blob_files().len() == expected.len())
                || Instant::now() > until
            {
                break swept;
            }
            last = Some(swept);
        };
        server.stop();
        assert!(
            swept >= pending.max(1),
            "the sweeper swept {swept} of {pending} unconfirmed"
        );
        swept
    } else {
        server.stop();
        let swept: usize = work.admin(&["gc"]).parse().unwrap();
        assert!(
            swept >= pending,
            "gc swept {swept} of {pending} unconfirmed"
        );
        assert!(
            swept <= figures.interrupted_requests * 2,
            "gc swept {swept}, more than was interrupted"
        );
        swept
    };
    figures.swept = swept;
    let (mut names, staged) = blob_contents(work);
    names.sort();
    assert_eq!(
        (names, staged),
        (expected, 0),
        "the blob directory holds exactly the ready attachments' objects, whole"
    );
    assert_eq!(work.admin(&["gc"]), "0", "a second gc finds nothing");
    figures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_amid_many_uploads_of_every_dialect_keeps_only_whole_files() {
    let mut all = Vec::new();
    text(); // generated once, before any round's clock starts
    // two rounds on the embedded defaults, swept by `clasp gc`; one on
    // PostgreSQL (local blobs), swept by the restarted instance's sweeper
    let sqlite = Workdir::new().with_env("CLASP_UPLOAD_URL_TTL_SECS", &TTL_SECS.to_string());
    let postgres = Workdir::new()
        .with_env("CLASP_UPLOAD_URL_TTL_SECS", &TTL_SECS.to_string())
        .with_env("CLASP_DATABASE_URL", &fresh_postgres_database())
        .with_env("CLASP_SIGNING_SECRET", SECRET)
        .with_env("CLASP_SWEEP_INTERVAL_SECS", "1");
    for (name, work, rounds, by_sweeper) in [
        ("sqlite", &sqlite, 1..3, false),
        ("postgres", &postgres, 3..4, true),
    ] {
        let key = work.tenant_with_key(TENANT, ALL);
        let cookie = work.admin(&[
            "admin",
            "session",
            "create",
            "--tenant",
            TENANT,
            "--user",
            "crash-user",
            // it reads every dialect's files by number
            "--all-rooms",
        ]);
        let mut ctx = Ctx {
            base: String::new(),
            key,
            cookie,
            ticket: String::new(),
            ws_ticket: String::new(),
            case: String::new(),
            message: 0,
        };
        let mut visible = BTreeMap::new();
        let mut started_files = 0;
        for r in rounds {
            let f = round(
                work,
                &mut ctx,
                r,
                &mut visible,
                &mut started_files,
                by_sweeper,
            )
            .await;
            println!("crash round {r} ({name}): {f:?}");
            all.push(f);
        }
    }
    let sum = |f: fn(&Figures) -> usize| all.iter().map(f).sum::<usize>();
    println!(
        "crash rounds: {}, upload requests {}, files {}, completed {}, interrupted requests {}, \
         of which whole anyway {}, orphan files swept {}, rows swept {}",
        all.len(),
        sum(|f| f.requests),
        sum(|f| f.files),
        sum(|f| f.completed_files),
        sum(|f| f.interrupted_requests),
        sum(|f| f.visible_anyway),
        sum(|f| f.orphan_files),
        sum(|f| f.swept),
    );
    // the kill comes amid the uploads: some had completed, some were cut
    // mid-body (leaving bytes on disk), whatever the machine's speed
    assert!(
        sum(|f| f.completed_files) > 0 && sum(|f| f.interrupted_requests) > 0,
        "uploads on both sides of the kill: {all:?}"
    );
    assert!(
        sum(|f| f.orphan_files) > 0,
        "orphaned bytes to sweep: {all:?}"
    );
}
