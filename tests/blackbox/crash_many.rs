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

/// 64-bit FNV-1a of `name`: the seed of its content and pace.
fn seed(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// 4 MiB of pseudo-random lowercase text, from which every file is cut.
fn text() -> &'static [u8] {
    static TEXT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut out = Vec::with_capacity(4 << 20);
        while out.len() < 4 << 20 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.extend(x.to_le_bytes().map(|b| b'a' + b % 26));
        }
        out
    })
}

/// The content of the file named `name`: its name on the first line, then
/// text — one file in three 1.1–1.5 MiB (above the 1 MiB part size, so a cut
/// upload leaves staged parts on disk), the others 64–320 KiB; derived from
/// the name alone, so any file seen later can be checked against what was sent.
fn content(name: &str) -> Vec<u8> {
    let x = seed(name);
    let len = if x.is_multiple_of(3) {
        1_150_000 + usize::try_from(x % 400_000).unwrap()
    } else {
        65_536 + usize::try_from(x % 262_144).unwrap()
    };
    let from = usize::try_from((x >> 20) % (1 << 20)).unwrap();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(name.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&text()[from..from + len - out.len()]);
    out
}

/// Whether `bytes` are exactly the content of the file named on their first
/// line; answers that name.
fn whole(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|&b| b == b'\n')?;
    let name = std::str::from_utf8(&bytes[..end]).ok()?;
    (content(name) == bytes).then(|| name.to_owned())
}

/// How long sending `name` takes: 0.3–5.3 s.
fn pace(name: &str) -> Duration {
    Duration::from_millis(300 + (seed(name) >> 24) % 5000)
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `data` as a body sent chunk by chunk over `over`, as a slow client would.
fn slow_body(data: Arc<Vec<u8>>, over: Duration) -> reqwest::Body {
    let chunks = data.len().div_ceil(CHUNK);
    let pause = over / u32::try_from(chunks).unwrap();
    let stream = futures::stream::unfold(0, move |i| {
        let data = data.clone();
        async move {
            if i == chunks {
                return None;
            }
            tokio::time::sleep(pause).await;
            let chunk = data[i * CHUNK..((i + 1) * CHUNK).min(data.len())].to_vec();
            Some((Ok::<_, std::io::Error>(chunk), i + 1))
        }
    });
    reqwest::Body::wrap_stream(stream)
}

/// The multipart part of file `name`, sent slowly.
fn slow_part(name: &str) -> Part {
    let data = content(name);
    let len = data.len() as u64;
    Part::stream_with_length(slow_body(Arc::new(data), pace(name)), len)
        .file_name(name.to_owned())
        .mime_str("text/plain")
        .unwrap()
}

/// An answer that is not the success expected: the test fails with it.
fn unexpected(what: &str, status: StatusCode, body: &str) -> String {
    format!("{what} answered {status}: {body}")
}

/// Reads a success response, or says why it is not one; `Ok(None)` when the
/// connection broke (the process was killed).
async fn answer(
    sent: Result<reqwest::Response, reqwest::Error>,
    want: StatusCode,
    what: &str,
) -> Result<Option<Value>, String> {
    let Ok(res) = sent else { return Ok(None) };
    let status = res.status();
    let Ok(body) = res.text().await else {
        return Ok(None);
    };
    if status != want {
        return Err(unexpected(what, status, &body));
    }
    serde_json::from_str(&body)
        .map(Some)
        .map_err(|e| format!("{what}: {e}: {body}"))
}

/// Runs one upload request of `dialect` for the files `names`.
async fn upload(
    c: reqwest::Client,
    ctx: Ctx,
    dialect: Dialect,
    names: Vec<String>,
) -> Result<Outcome, String> {
    let id_of = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    match dialect {
        Dialect::Tickets => {
            let form = Form::new().part("file", slow_part(&names[0]));
            let sent = c
                .post(format!(
                    "{}/v1/tickets/{}/attachments",
                    ctx.base, ctx.ticket
                ))
                .bearer_auth(&ctx.key)
                .multipart(form)
                .send()
                .await;
            Ok(
                match answer(sent, StatusCode::CREATED, "tickets upload").await? {
                    Some(v) => Outcome::Completed(vec![(id_of(&v["id"]), names[0].clone())]),
                    None => Outcome::Interrupted,
                },
            )
        }
        Dialect::Cases => {
            let form = Form::new()
                .text("caseId", ctx.case.clone())
                .part("file", slow_part(&names[0]));
            let sent = c
                .post(format!("{}/api-public/1.0/save_file", ctx.base))
                .bearer_auth(&ctx.key)
                .multipart(form)
                .send()
                .await;
            Ok(
                match answer(sent, StatusCode::OK, "cases save_file").await? {
                    Some(v) => Outcome::Completed(vec![(id_of(&v["id"]), names[0].clone())]),
                    None => Outcome::Interrupted,
                },
            )
        }
        Dialect::Chat => {
            let form = names.iter().fold(Form::new(), |form, name| {
                form.part("files", slow_part(name))
            });
            let sent = c
                .post(format!(
                    "{}/api/v1/messages/{}/attachments",
                    ctx.base, ctx.message
                ))
                .header("cookie", format!("clasp_session={}", ctx.cookie))
                .multipart(form)
                .send()
                .await;
            Ok(match answer(sent, StatusCode::OK, "chat upload").await? {
                Some(v) => Outcome::Completed(
                    v["attachments"]
                        .as_array()
                        .ok_or_else(|| format!("chat upload: no attachments in {v}"))?
                        .iter()
                        .map(|a| {
                            (
                                a["attachmentId"].to_string(),
                                a["fileName"].as_str().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect(),
                ),
                None => Outcome::Interrupted,
            })
        }
        Dialect::Workspaces => workspaces_upload(c, ctx, &names[0]).await,
    }
}

/// The workspaces flow for file `name`: upload-url, a slow PUT to Clasp's
/// signed upload URL, confirm.
async fn workspaces_upload(c: reqwest::Client, ctx: Ctx, name: &str) -> Result<Outcome, String> {
    let data = content(name);
    let ws = format!("{}/v1/workspaces/{TENANT}", ctx.base);
    let sent = c
        .post(format!(
            "{ws}/tickets/{}/attachments/upload-url",
            ctx.ws_ticket
        ))
        .bearer_auth(&ctx.key)
        .header("x-workspace-id", TENANT)
        .json(&json!({"filename": name, "contentType": "text/plain", "size": data.len()}))
        .send()
        .await;
    let Some(begun) = answer(sent, StatusCode::CREATED, "workspaces upload-url").await? else {
        return Ok(Outcome::Interrupted);
    };
    let id = begun["attachmentId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut put = c
        .put(begun["url"].as_str().unwrap_or_default())
        .header("content-length", data.len());
    for (header, value) in begun["headers"].as_object().into_iter().flatten() {
        if !header.eq_ignore_ascii_case("content-length") {
            put = put.header(header, value.as_str().unwrap_or_default());
        }
    }
    let pace = pace(name);
    let sent = put.body(slow_body(Arc::new(data), pace)).send().await;
    match sent {
        Err(_) => return Ok(Outcome::Begun(id)),
        Ok(res) if res.status() != StatusCode::OK => {
            let status = res.status();
            return Err(unexpected(
                "workspaces PUT",
                status,
                &res.text().await.unwrap_or_default(),
            ));
        }
        Ok(_) => {}
    }
    let sent = c
        .post(format!("{ws}/attachments/{id}/confirm"))
        .bearer_auth(&ctx.key)
        .header("x-workspace-id", TENANT)
        .json(&json!({}))
        .send()
        .await;
    Ok(
        match answer(sent, StatusCode::OK, "workspaces confirm").await? {
            Some(v) if v["status"] == "ready" => Outcome::Completed(vec![(id, name.to_owned())]),
            Some(v) => return Err(format!("workspaces confirm answered {v}")),
            None => Outcome::Begun(id),
        },
    )
}

/// GETs `url` with the tenant's credential for `dialect`; the body of a 200.
async fn get_bytes(c: &reqwest::Client, ctx: &Ctx, dialect: Dialect, url: &str) -> Vec<u8> {
    let req = match dialect {
        Dialect::Chat => c
            .get(url)
            .header("cookie", format!("clasp_session={}", ctx.cookie)),
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
                let res = c
                    .get(format!("{}/api/v1/attachments/{n}", ctx.base))
                    .header("cookie", format!("clasp_session={}", ctx.cookie))
                    .send()
                    .await
                    .unwrap();
                if res.status() == StatusCode::NOT_FOUND {
                    return None;
                }
                assert_eq!(res.status(), StatusCode::OK, "attachment number {n}");
                let meta: Value = res.json().await.unwrap();
                assert_eq!(
                    meta["attachmentState"], "ReadyForDownloadFromServerToClient",
                    "{meta}"
                );
                let name = meta["fileName"].as_str().unwrap().to_owned();
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
