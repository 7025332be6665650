//! Moving bytes over HTTP, Clasp beside the fastest peer that could do the same
//! work on this machine, in the same run (these machines are noisy, so only
//! ratios measured side by side mean something):
//!
//! - downloads of 1 MiB and 30 MiB (by default) through Clasp's signed download URL (local
//!   storage) against nginx serving the same file with sendfile;
//! - an authenticated metadata GET (`tickets` get) against nginx serving a
//!   4 KiB static file, with the 99th percentile latency;
//! - 30 MiB multipart uploads to the `tickets` dialect (SHA-256, magic check,
//!   local storage) against nginx's dav module writing a PUT to a file;
//! - the same with 4 KiB files, counted in requests per second: what each
//!   upload's fixed work (and, with `durability = fsync`, its syncs) costs;
//! - the peak resident memory of `clasp serve` during concurrent 30 MiB uploads;
//! - with an S3 server: the same uploads and downloads through Clasp on S3
//!   against the same bytes PUT to and GOT from the server directly.
//!
//! Each figure is measured `rounds` times, Clasp and its peer alternating, and
//! compared by medians.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

use crate::load;
use crate::procs::{self, Clasp, S3Target, Storage};

mod report;

use report::{KIB, MIB};
pub use report::{MEMORY_GOAL, Measurement, Memory, Report, Role, Unit, median, size_label};
/// The largest file Clasp accepts by default: the uploads' and large downloads' size.
pub const LARGE: usize = 30 * MIB;
/// The size of the smaller downloads.
pub const MEDIUM: usize = MIB;
/// The ticket every benchmark attachment belongs to.
const TICKET: &str = "7b0f4c2e-8d1a-4e59-9c3b-2a6d5e8f1b07";

/// The groups of transfer workloads, to run some of them while working on one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Group {
    /// 1 MiB and 30 MiB downloads, local storage, against nginx sendfile.
    Downloads,
    /// Authenticated metadata GETs against a 4 KiB static file.
    Metadata,
    /// 30 MiB uploads, local storage, against nginx PUT.
    Uploads,
    /// 4 KiB uploads, local storage, against nginx PUT: the cost per request,
    /// where a sync of the metadata commit weighs most.
    SmallUploads,
    /// Peak memory during concurrent 30 MiB uploads.
    Memory,
    /// Uploads and downloads through Clasp on S3 against the S3 server directly.
    S3,
}

impl Group {
    /// Every group, the default.
    pub const ALL: [Group; 6] = [
        Group::Downloads,
        Group::Metadata,
        Group::Uploads,
        Group::SmallUploads,
        Group::Memory,
        Group::S3,
    ];
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The workload groups to run.
    pub groups: Vec<Group>,
    /// The `clasp` binary (release build).
    pub clasp_bin: PathBuf,
    /// The `nginx` binary.
    pub nginx_bin: PathBuf,
    /// An S3 server for the S3 figures; without it they are skipped.
    pub s3: Option<S3Target>,
    /// Measurements per figure (the median is compared).
    pub rounds: usize,
    /// How long each measurement sends requests.
    pub duration: Duration,
    /// Concurrent requests of the download and upload sweeps (the plot's x).
    pub concurrency: Vec<usize>,
    /// Concurrent requests of the metadata GETs.
    pub metadata_concurrency: usize,
    /// Concurrent requests of the S3 transfers.
    pub s3_concurrency: Vec<usize>,
    /// Concurrent large uploads during which Clasp's peak memory is read.
    pub memory_uploads: usize,
    /// The size of the smaller downloads ([`MEDIUM`]; tests make it small).
    pub medium_bytes: usize,
    /// The size of uploads and large downloads ([`LARGE`]).
    pub large_bytes: usize,
    /// Clasp's `durability` setting: `fast` makes the same promise as the
    /// peers (nginx's dav module writes without syncing), `fsync` measures
    /// what syncing every upload to disk costs.
    pub durability: String,
}

/// Bytes that look like a PDF to Clasp's magic check and are incompressible.
fn pdf_bytes(len: usize) -> Bytes {
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(b"%PDF-1.7\n");
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

/// A Clasp instance under load, with what its workloads need.
struct Target {
    clasp: Clasp,
    client: reqwest::Client,
    auth: HeaderMap,
}

impl Target {
    fn new(clasp: Clasp, client: &reqwest::Client) -> Result<Target> {
        let mut auth = HeaderMap::new();
        auth.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {}", clasp.key))?,
        );
        Ok(Target {
            clasp,
            client: client.clone(),
            auth,
        })
    }

    fn attachments(&self) -> String {
        format!("{}/v1/tickets/{TICKET}/attachments", self.clasp.server.base)
    }

    /// Uploads `bytes` as a PDF; answers the attachment's id.
    async fn upload(&self, bytes: &[u8]) -> Result<String> {
        let (body, mut headers) = load::multipart("bench.pdf", "application/pdf", bytes);
        headers.extend(self.auth.clone());
        let answer = load::send(
            &self.client,
            Method::POST,
            &self.attachments(),
            headers,
            body,
        )
        .await?;
        id_of(&answer)
    }

    async fn signed_url(&self, id: &str) -> Result<String> {
        let url = format!("{}/{id}/download", self.attachments());
        let answer = load::send(
            &self.client,
            Method::GET,
            &url,
            self.auth.clone(),
            Bytes::new(),
        )
        .await?;
        let json: serde_json::Value = serde_json::from_slice(&answer)?;
        json["signed_url"]
            .as_str()
            .map(str::to_owned)
            .context("no signed_url in the download answer")
    }

    async fn delete_all(&self, ids: &Mutex<Vec<String>>) -> Result<()> {
        let ids = std::mem::take(&mut *ids.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
        for id in ids {
            let url = format!("{}/{id}", self.attachments());
            load::send(
                &self.client,
                Method::DELETE,
                &url,
                self.auth.clone(),
                Bytes::new(),
            )
            .await?;
        }
        Ok(())
    }

    /// A load operation uploading `bytes` as multipart; ids go to `ids`.
    fn upload_op(
        self: &Arc<Self>,
        bytes: &Bytes,
        ids: &Arc<Mutex<Vec<String>>>,
    ) -> impl Fn(usize) -> futures::future::BoxFuture<'static, Result<u64>> + Send + Sync + Clone + 'static
    {
        let (body, mut headers) = load::multipart("bench.pdf", "application/pdf", bytes);
        headers.extend(self.auth.clone());
        let len = bytes.len() as u64;
        let target = Arc::clone(self);
        let ids = Arc::clone(ids);
        move |_| {
            let target = Arc::clone(&target);
            let ids = Arc::clone(&ids);
            let body = body.clone();
            let headers = headers.clone();
            Box::pin(async move {
                let answer = load::send(
                    &target.client,
                    Method::POST,
                    &target.attachments(),
                    headers,
                    body,
                )
                .await?;
                let id = id_of(&answer)?;
                ids.lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .push(id);
                Ok(len)
            })
        }
    }
}

fn id_of(answer: &[u8]) -> Result<String> {
    let json: serde_json::Value = serde_json::from_slice(answer)?;
    json["id"]
        .as_str()
        .map(str::to_owned)
        .context("no id in the upload answer")
}

/// A load operation GETting `url` with `headers`.
fn get_op(
    client: &reqwest::Client,
    url: String,
    headers: HeaderMap,
) -> impl Fn(usize) -> futures::future::BoxFuture<'static, Result<u64>> + Send + Sync + Clone + 'static
{
    let client = client.clone();
    move |_| {
        let client = client.clone();
        let url = url.clone();
        let headers = headers.clone();
        Box::pin(async move { load::get(&client, &url, headers).await })
    }
}

/// A load operation PUTting `bytes` to nginx, one file per worker.
fn nginx_put_op(
    client: &reqwest::Client,
    base: &str,
    bytes: &Bytes,
) -> impl Fn(usize) -> futures::future::BoxFuture<'static, Result<u64>> + Send + Sync + Clone + 'static
{
    let client = client.clone();
    let base = base.to_owned();
    let bytes = bytes.clone();
    move |worker| {
        let client = client.clone();
        let url = format!("{base}/put/w{worker}.pdf");
        let bytes = bytes.clone();
        Box::pin(async move {
            let len = bytes.len() as u64;
            load::send(&client, Method::PUT, &url, HeaderMap::new(), bytes).await?;
            Ok(len)
        })
    }
}

/// Measures Clasp's `clasp` operation and its peer's `peer` `rounds` times,
/// alternating which goes first, and adds the figure to `report`.
#[allow(
    clippy::too_many_arguments,
    reason = "one figure's whole description, at its only call sites"
)]
async fn pair<C, P, CF, PF>(
    config: &Config,
    report: &mut Report,
    (workload, role, bytes): (&str, Role, usize),
    concurrency: usize,
    unit: Unit,
    (peer_name, goal): (&str, Option<f64>),
    clasp: C,
    peer: P,
    after_clasp: impl AsyncFn() -> Result<()>,
) -> Result<()>
where
    C: Fn(usize) -> CF + Send + Sync + Clone + 'static,
    CF: Future<Output = Result<u64>> + Send + 'static,
    P: Fn(usize) -> PF + Send + Sync + Clone + 'static,
    PF: Future<Output = Result<u64>> + Send + 'static,
{
    let mut m = Measurement {
        workload: workload.to_owned(),
        role,
        bytes,
        concurrency,
        unit,
        clasp: Vec::new(),
        clasp_p99: Vec::new(),
        peer: peer_name.to_owned(),
        peers: Vec::new(),
        peer_p99: Vec::new(),
        goal,
    };
    for round in 0..config.rounds.max(1) {
        for clasp_turn in [round % 2 == 0, round % 2 == 1] {
            if clasp_turn {
                let sample = load::run(concurrency, config.duration, clasp.clone())
                    .await
                    .with_context(|| format!("Clasp: {workload} ×{concurrency}"))?;
                after_clasp().await?;
                m.clasp.push(unit.of(&sample));
                m.clasp_p99.push(sample.p99());
            } else {
                let sample = load::run(concurrency, config.duration, peer.clone())
                    .await
                    .with_context(|| format!("{peer_name}: {workload} ×{concurrency}"))?;
                m.peers.push(unit.of(&sample));
                m.peer_p99.push(sample.p99());
            }
        }
    }
    eprintln!(
        "  {workload} ×{concurrency}: Clasp {:.1}, {peer_name} {:.1} {} (ratio {:.2})",
        median(&m.clasp),
        median(&m.peers),
        unit.label(),
        m.ratio()
    );
    report.measurements.push(m);
    Ok(())
}

async fn nothing() -> Result<()> {
    Ok(())
}

/// Runs every transfer workload; `work` holds the servers' files.
pub async fn run(config: &Config, work: &Path) -> Result<Report> {
    let mut report = Report::default();
    let www = work.join("www");
    std::fs::create_dir_all(&www)?;
    let small = pdf_bytes(4 * KIB);
    let medium = pdf_bytes(config.medium_bytes);
    let large = pdf_bytes(config.large_bytes);
    let big = size_label(large.len());
    for (name, bytes) in [
        ("small.pdf", &small),
        ("medium.pdf", &medium),
        ("large.pdf", &large),
    ] {
        std::fs::write(www.join(name), bytes)?;
    }
    let nginx = procs::nginx(&config.nginx_bin, &work.join("nginx"), &www)?;
    let client = load::client()?;
    let local = Arc::new(Target::new(
        Clasp::start(
            &config.clasp_bin,
            &work.join("clasp-local"),
            &Storage::Local,
            &config.durability,
        )?,
        &client,
    )?);

    let runs = |group| config.groups.contains(&group);
    if runs(Group::Downloads) {
        eprintln!("downloads (local storage) against nginx sendfile");
        for (name, bytes) in [("medium.pdf", &medium), ("large.pdf", &large)] {
            let id = local.upload(bytes).await?;
            let signed = local.signed_url(&id).await?;
            for &c in &config.concurrency {
                pair(
                    config,
                    &mut report,
                    (
                        &format!("download {}", size_label(bytes.len())),
                        Role::Download,
                        bytes.len(),
                    ),
                    c,
                    Unit::MibPerSec,
                    ("nginx sendfile", Some(0.8)),
                    get_op(&client, signed.clone(), HeaderMap::new()),
                    get_op(&client, format!("{}/{name}", nginx.base), HeaderMap::new()),
                    nothing,
                )
                .await?;
            }
        }
    }

    if runs(Group::Metadata) {
        eprintln!("authenticated metadata GET against a 4 KiB static file");
        let id = local.upload(&small).await?;
        pair(
            config,
            &mut report,
            ("metadata GET (tickets get)", Role::Metadata, 0),
            config.metadata_concurrency,
            Unit::PerSec,
            ("nginx 4 KiB file", Some(0.3)),
            get_op(
                &client,
                format!("{}/{id}", local.attachments()),
                local.auth.clone(),
            ),
            get_op(
                &client,
                format!("{}/small.pdf", nginx.base),
                HeaderMap::new(),
            ),
            nothing,
        )
        .await?;
    }

    let ids = Arc::new(Mutex::new(Vec::new()));
    // Large uploads in MiB/s, with the goal at 1 and 8 in flight; small
    // ones in requests per second, where each request's fixed work shows.
    let uploads = [
        (Group::Uploads, &large, Role::Upload, Unit::MibPerSec),
        (Group::SmallUploads, &small, Role::SmallUpload, Unit::PerSec),
    ];
    for (group, bytes, role, unit) in uploads.into_iter().filter(|u| runs(u.0)) {
        let size = size_label(bytes.len());
        eprintln!("{size} uploads (local storage) against nginx PUT to a file");
        for &c in &config.concurrency {
            let goal = (group == Group::Uploads && [1, 8].contains(&c)).then_some(1.0);
            pair(
                config,
                &mut report,
                (&format!("upload {size}"), role, bytes.len()),
                c,
                unit,
                ("nginx PUT", goal),
                local.upload_op(bytes, &ids),
                nginx_put_op(&client, &nginx.base, bytes),
                async || local.delete_all(&ids).await,
            )
            .await?;
        }
    }

    if runs(Group::Memory) {
        eprintln!(
            "peak memory during {} concurrent {big} uploads",
            config.memory_uploads
        );
        let pid = local.clasp.server.pid();
        let before = procs::peak_rss(pid)?;
        procs::reset_peak_rss(pid)?;
        load::run(
            config.memory_uploads,
            Duration::ZERO,
            local.upload_op(&large, &ids),
        )
        .await?;
        report.memory = Some(Memory {
            uploads: config.memory_uploads,
            bytes: large.len(),
            before,
            peak: procs::peak_rss(pid)?,
        });
        local.delete_all(&ids).await?;
    }
    drop(nginx);

    if let Some(s3) = config.s3.as_ref().filter(|_| runs(Group::S3)) {
        eprintln!("S3: through Clasp against straight to the S3 server");
        s3_workloads(config, &mut report, work, s3, &client, &large, &ids).await?;
    }
    Ok(report)
}

async fn s3_workloads(
    config: &Config,
    report: &mut Report,
    work: &Path,
    s3: &S3Target,
    client: &reqwest::Client,
    large: &Bytes,
    ids: &Arc<Mutex<Vec<String>>>,
) -> Result<()> {
    let clasp = Arc::new(Target::new(
        Clasp::start(
            &config.clasp_bin,
            &work.join("clasp-s3"),
            &Storage::S3(s3.clone()),
            &config.durability,
        )?,
        client,
    )?);
    let store: Arc<dyn ObjectStore> = Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(&s3.endpoint)
            .with_bucket_name(&s3.bucket)
            .with_region(&s3.region)
            .with_access_key_id(&s3.access_key_id)
            .with_secret_access_key(&s3.secret_access_key)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .build()?,
    );
    let direct_put = {
        let store = Arc::clone(&store);
        let large = large.clone();
        move |worker: usize| {
            let store = Arc::clone(&store);
            let payload = PutPayload::from(large.clone());
            let len = large.len() as u64;
            async move {
                let path = object_store::path::Path::from(format!("bench-direct/w{worker}.pdf"));
                store.put(&path, payload).await?;
                Ok(len)
            }
        }
    };
    for &c in &config.s3_concurrency {
        pair(
            config,
            report,
            (
                &format!("S3 upload {}", size_label(large.len())),
                Role::S3Upload,
                large.len(),
            ),
            c,
            Unit::MibPerSec,
            ("SeaweedFS PUT", Some(0.8)),
            clasp.upload_op(large, ids),
            direct_put.clone(),
            async || clasp.delete_all(ids).await,
        )
        .await?;
    }
    // With S3 storage Clasp's signed URLs are the bucket's presigned URLs, so
    // the download through Clasp is the `cases` dialect's raw download, which
    // streams the object through Clasp.
    let id = clasp.upload(large).await?;
    let through_clasp = format!(
        "{}/api-public/1.0/attachment/{id}/attachment",
        clasp.clasp.server.base
    );
    let object = object_store::path::Path::from("bench-direct/download.pdf");
    store.put(&object, PutPayload::from(large.clone())).await?;
    let direct_get = move |_| {
        let store = Arc::clone(&store);
        let object = object.clone();
        async move {
            let mut stream = store.get(&object).await?.into_stream();
            let mut bytes = 0;
            while let Some(chunk) = stream.next().await {
                bytes += chunk?.len() as u64;
            }
            Ok(bytes)
        }
    };
    for &c in &config.s3_concurrency {
        pair(
            config,
            report,
            (
                &format!("S3 download {}", size_label(large.len())),
                Role::S3Download,
                large.len(),
            ),
            c,
            Unit::MibPerSec,
            ("SeaweedFS GET", Some(0.8)),
            get_op(client, through_clasp.clone(), clasp.auth.clone()),
            direct_get.clone(),
            nothing,
        )
        .await?;
    }
    Ok(())
}
