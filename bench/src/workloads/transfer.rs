//! Moving bytes over HTTP, Clasp beside the fastest peer that could do the same
//! work on this machine, in the same run (these machines are noisy, so only
//! ratios measured side by side mean something):
//!
//! - downloads of 1 MiB and 30 MiB (by default) through Clasp's signed download
//!   URL (local storage) against nginx serving the same file with sendfile,
//!   and again at the largest concurrency on cores apart from the generator,
//!   judged by how busy the generator's core was (`transfer/downloads.rs`);
//! - an authenticated metadata GET (`tickets` get) against nginx serving a
//!   4 KiB static file, with the 99th percentile latency, twice: sharing the
//!   cores with the generator, and on cores of their own (`transfer/metadata.rs`);
//! - 30 MiB multipart uploads to the `tickets` dialect (SHA-256, magic check,
//!   local storage) against nginx's dav module writing a PUT to a file, twice:
//!   both servers writing to one tmpfs (the software's own cost, steady), and
//!   both writing to disk (where page-cache writeback swings every figure);
//! - the same with 4 KiB files on disk, counted in requests per second: what
//!   each upload's fixed work (and, with `durability = fsync`, its syncs) costs;
//! - the peak resident memory of `clasp serve` during concurrent 30 MiB uploads;
//! - with an S3 server: the same uploads and downloads through Clasp on S3
//!   against the same bytes PUT to and GOT from the server directly.
//!
//! GETs are sent by `wrk` ([`crate::wrk`]), uploads by the reqwest loop of
//! [`crate::load`]. Every figure comes with the generator's own ceiling: the
//! same requests, at the same concurrency, against the cheapest answer nginx
//! can give (an empty `204` for metadata; for uploads a body read into memory
//! and dropped; for downloads the same file from tmpfs with sendfile). A figure
//! within 20 % of it measures the generator, not the server, and its row says
//! so instead of giving a ratio. Each figure is measured `rounds` times,
//! Clasp, peer and ceiling alternating, and compared by medians.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use reqwest::header::HeaderMap;

use crate::load::{self, Sample};
use crate::procs::{self, Clasp, Cpus, S3Target, Storage};
use crate::wrk::Wrk;

mod chunked;
mod downloads;
mod metadata;
mod report;
mod s3;
pub(crate) mod target;

pub use report::{
    GENERATOR_MARGIN, MEMORY_GOAL, Measurement, Memory, Report, Role, Settled, Unit, median,
    min_max, size_label,
};
use report::{KIB, MIB};
use target::{Target, empty_dir, pdf_bytes, put_op, tus_op};

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
    /// 30 MiB uploads, local storage, against nginx PUT, on tmpfs and on disk.
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
    /// The `wrk` binary, which sends the GETs.
    pub wrk_bin: PathBuf,
    /// The tus peer's start script (bench/tus/server.mjs beside its packages).
    pub tus_script: PathBuf,
    /// A directory on tmpfs for the servers of the tmpfs figures.
    pub tmpfs: PathBuf,
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

/// What one figure is, before it is measured.
struct Figure<'a> {
    workload: String,
    role: Role,
    bytes: usize,
    concurrency: usize,
    unit: Unit,
    peer: &'a str,
    goal: Option<f64>,
}

/// Measures Clasp, its peer and the generator's ceiling `rounds` times, Clasp
/// and the peer swapping places each round, and adds the figure to `report`;
/// `tidy` runs after each measurement, outside its time.
async fn pair(
    config: &Config,
    report: &mut Report,
    figure: Figure<'_>,
    clasp: impl AsyncFn() -> Result<Sample>,
    peer: impl AsyncFn() -> Result<Sample>,
    ceiling: impl AsyncFn() -> Result<Sample>,
    tidy: impl AsyncFn() -> Result<()>,
) -> Result<()> {
    let Figure {
        workload,
        role,
        bytes,
        concurrency,
        unit,
        peer: peer_name,
        goal,
    } = figure;
    let mut m = Measurement {
        workload,
        role,
        bytes,
        concurrency,
        unit,
        clasp: Vec::new(),
        clasp_p99: Vec::new(),
        peer: peer_name.to_owned(),
        peers: Vec::new(),
        peer_p99: Vec::new(),
        ceiling: Vec::new(),
        clasp_busy: Vec::new(),
        peer_busy: Vec::new(),
        goal,
    };
    let what = |who: &str| format!("{who}: {} ×{concurrency}", m.workload);
    for round in 0..config.rounds.max(1) {
        for turn in 0..3 {
            // even rounds: Clasp, peer, ceiling; odd rounds: ceiling, peer, Clasp
            match if round % 2 == 0 { turn } else { 2 - turn } {
                0 => {
                    let sample = clasp().await.map_err(|e| e.context(what("Clasp")))?;
                    m.clasp.push(unit.of(&sample));
                    m.clasp_p99.push(sample.p99);
                    m.clasp_busy.extend(sample.generator_busy);
                }
                1 => {
                    let sample = peer().await.map_err(|e| e.context(what(peer_name)))?;
                    m.peers.push(unit.of(&sample));
                    m.peer_p99.push(sample.p99);
                    m.peer_busy.extend(sample.generator_busy);
                }
                _ => {
                    let sample = ceiling().await.map_err(|e| e.context(what("ceiling")))?;
                    m.ceiling.push(unit.of(&sample));
                }
            }
            tidy().await?;
        }
    }
    eprintln!(
        "  {} ×{concurrency}: Clasp {:.1}, {peer_name} {:.1}, ceiling {:.1} {} ({})",
        m.workload,
        median(&m.clasp),
        median(&m.peers),
        median(&m.ceiling),
        unit.label(),
        m.verdict_ratio()
    );
    report.measurements.push(m);
    Ok(())
}

/// [`pair`] where each side is the bench's own closed loop ([`load::run`]) of
/// its operation, at the figure's concurrency for the configured time: how
/// the uploads and the S3 transfers are sent.
async fn pair_loops<C, P, K, CF, PF, KF>(
    config: &Config,
    report: &mut Report,
    figure: Figure<'_>,
    (clasp, peer, ceiling): (C, P, K),
    tidy: impl AsyncFn() -> Result<()>,
) -> Result<()>
where
    C: Fn(usize) -> CF + Clone + Send + Sync + 'static,
    P: Fn(usize) -> PF + Clone + Send + Sync + 'static,
    K: Fn(usize) -> KF + Clone + Send + Sync + 'static,
    CF: Future<Output = Result<u64>> + Send + 'static,
    PF: Future<Output = Result<u64>> + Send + 'static,
    KF: Future<Output = Result<u64>> + Send + 'static,
{
    let (c, d) = (figure.concurrency, config.duration);
    pair(
        config,
        report,
        figure,
        async || load::run(c, d, clasp.clone()).await,
        async || load::run(c, d, peer.clone()).await,
        async || load::run(c, d, ceiling.clone()).await,
        tidy,
    )
    .await
}

async fn nothing() -> Result<()> {
    Ok(())
}

/// Where a set of servers keeps its files: the same directory for Clasp and
/// nginx, so both write to one file system.
struct Place {
    name: &'static str,
    clasp: Arc<Target>,
    nginx: procs::Server,
    /// Where nginx's PUTs land.
    puts: PathBuf,
}

impl Place {
    fn start(
        config: &Config,
        client: &reqwest::Client,
        root: &Path,
        name: &'static str,
        cpus: Option<&Cpus>,
    ) -> Result<Place> {
        let www = root.join("www");
        std::fs::create_dir_all(&www)?;
        let (bin, dir) = (&config.clasp_bin, &root.join("clasp"));
        let clasp = match cpus {
            Some(cpus) => {
                Clasp::start_confined(bin, dir, &Storage::Local, &config.durability, cpus)?
            }
            None => Clasp::start(bin, dir, &Storage::Local, &config.durability)?,
        };
        Ok(Place {
            name,
            clasp: Arc::new(Target::new(clasp, client)?),
            nginx: procs::nginx(&config.nginx_bin, &root.join("nginx"), &www, cpus)?,
            puts: www.join("put"),
        })
    }

    fn www(&self, root: &Path, name: &str, bytes: &[u8]) -> Result<()> {
        Ok(std::fs::write(root.join("www").join(name), bytes)?)
    }
}

/// Servers confined to every core but the last, and `wrk` confined to the
/// last: for the figures whose judgement needs the generator kept off the
/// servers' cores (the metadata tail, and whether downloads are the
/// generator's or the server's). Each server runs one worker per core it has.
struct Apart {
    place: Place,
    wrk: Wrk,
}

impl Apart {
    /// Starts the servers under `work`, nginx serving `files`, and confines
    /// a copy of `wrk`; `None` on one CPU.
    fn start(
        config: &Config,
        client: &reqwest::Client,
        work: &Path,
        wrk: &Wrk,
        files: &[(&str, &[u8])],
    ) -> Result<Option<Apart>> {
        let Some((servers, generator)) = Cpus::split() else {
            eprintln!("one CPU: no core to keep the generator apart on");
            return Ok(None);
        };
        let root = work.join("apart");
        let place = Place::start(config, client, &root, "apart", Some(&servers))?;
        for (name, bytes) in files {
            place.www(&root, name, bytes)?;
        }
        let wrk = wrk.on_cpus(&generator);
        Ok(Some(Apart { place, wrk }))
    }
}

/// Runs every transfer workload; `work` holds the servers' files on disk, and
/// a directory made under the configured tmpfs those on tmpfs.
pub async fn run(config: &Config, work: &Path) -> Result<Report> {
    let mut report = Report::default();
    let small = pdf_bytes(4 * KIB);
    let medium = pdf_bytes(config.medium_bytes);
    let large = pdf_bytes(config.large_bytes);
    let client = load::client()?;
    let wrk = Wrk::new(&config.wrk_bin, work)?;
    let shm = tempfile::tempdir_in(&config.tmpfs)?;
    let (disk_root, tmpfs_root) = (work.join("disk"), shm.path().to_owned());
    let disk = Place::start(config, &client, &disk_root, "disk", None)?;
    let tmpfs = Place::start(config, &client, &tmpfs_root, "tmpfs", None)?;
    let tus_dir = tmpfs_root.join("tus");
    let tus = procs::tus(&config.tus_script, &tus_dir)?;
    let tus_files = format!("{}/files", tus.base);
    let files: [(&str, &[u8]); 3] = [
        ("small.pdf", &small),
        ("medium.pdf", &medium),
        ("large.pdf", &large),
    ];
    for (name, bytes) in files {
        disk.www(&disk_root, name, bytes)?;
        tmpfs.www(&tmpfs_root, name, bytes)?;
    }
    let d = config.duration;
    let runs = |group| config.groups.contains(&group);
    let apart = if runs(Group::Downloads) || runs(Group::Metadata) {
        Apart::start(config, &client, work, &wrk, &files)?
    } else {
        None
    };
    if runs(Group::Downloads) {
        eprintln!("downloads (local storage) against nginx sendfile");
        let files = downloads::Files {
            medium: &medium,
            large: &large,
        };
        downloads::run(
            config,
            &mut report,
            (&disk, &tmpfs),
            &wrk,
            apart.as_ref(),
            &files,
        )
        .await?;
    }

    if runs(Group::Metadata) {
        eprintln!("authenticated metadata GET against a 4 KiB static file");
        metadata::run(config, &mut report, &disk, &wrk, apart.as_ref()).await?;
    }

    let ids = Arc::new(Mutex::new(Vec::new()));
    // Large uploads in MiB/s, on tmpfs (with the goals at 1 and 8 in
    // flight) and on disk, against nginx; on tmpfs at 1 and 8 against tus's
    // own server too; small ones in requests per second, on disk, where each
    // request's fixed work shows.
    let uploads = [
        (
            Group::Uploads,
            &tmpfs,
            &large,
            Role::Upload,
            Unit::MibPerSec,
        ),
        (
            Group::Uploads,
            &disk,
            &large,
            Role::DiskUpload,
            Unit::MibPerSec,
        ),
        (
            Group::SmallUploads,
            &disk,
            &small,
            Role::SmallUpload,
            Unit::PerSec,
        ),
    ];
    for (_, place, bytes, role, unit) in uploads.into_iter().filter(|u| runs(u.0)) {
        let size = size_label(bytes.len());
        eprintln!(
            "{size} uploads (local storage, {}) against nginx PUT to a file",
            place.name
        );
        for &c in &config.concurrency {
            let goal = match c {
                1 if role == Role::Upload => Some(0.8),
                8 if role == Role::Upload => Some(1.0),
                _ => None,
            };
            let figure = Figure {
                workload: format!("upload {size} ({})", place.name),
                role,
                bytes: bytes.len(),
                concurrency: c,
                unit,
                peer: "nginx PUT",
                goal,
            };
            let base = place.nginx.base.clone();
            let sink = format!("{base}/ceiling/sink");
            // Every PUT is a new file, as every upload is a new object in
            // Clasp, and both are cleared after each measurement: the same
            // job. (nginx replacing one file per connection measured a third
            // of this on disk; see performance.md.)
            let next = Arc::new(AtomicU64::new(0));
            let (clasp, peer, ceiling) = (
                place.clasp.upload_op(bytes, &ids),
                put_op(
                    &client,
                    move |_| format!("{base}/put/{}.pdf", next.fetch_add(1, Ordering::Relaxed)),
                    bytes,
                ),
                put_op(&client, move |_| sink.clone(), bytes),
            );
            let tidy = async || {
                place.clasp.delete_all(&ids).await?;
                empty_dir(&place.puts)
            };
            pair_loops(config, &mut report, figure, (clasp, peer, ceiling), tidy).await?;
        }
    }
    if runs(Group::Uploads) {
        eprintln!(
            "{} uploads (tmpfs) against @tus/server",
            size_label(large.len())
        );
        for c in [1, 8] {
            let figure = Figure {
                workload: format!("upload {} (tmpfs)", size_label(large.len())),
                role: Role::TusUpload,
                bytes: large.len(),
                concurrency: c,
                unit: Unit::MibPerSec,
                peer: "@tus/server",
                goal: Some(2.0),
            };
            let sink = format!("{}/ceiling/sink", tmpfs.nginx.base);
            let (clasp, peer, ceiling) = (
                tmpfs.clasp.upload_op(&large, &ids),
                tus_op(
                    &client,
                    &tus_files,
                    HeaderMap::new(),
                    (&large, large.len()),
                    &ids,
                ),
                put_op(&client, move |_| sink.clone(), &large),
            );
            let tidy = async || {
                tmpfs.clasp.delete_all(&ids).await?;
                empty_dir(&tus_dir)
            };
            pair_loops(config, &mut report, figure, (clasp, peer, ceiling), tidy).await?;
        }
    }
    if runs(Group::Uploads) {
        let on = chunked::Chunked {
            client: &client,
            clasp: &tmpfs.clasp,
            tus: (&tus_files, &tus_dir),
            sink: format!("{}/ceiling/sink", tmpfs.nginx.base),
            bytes: &large,
            ids: &ids,
            duration: d,
        };
        chunked::rows(config, &mut report, on).await?;
    }

    if runs(Group::Memory) {
        eprintln!(
            "peak memory during {} concurrent {} uploads",
            config.memory_uploads,
            size_label(large.len())
        );
        let pid = disk.clasp.clasp.server.pid();
        let before = procs::peak_rss(pid)?;
        let n = config.memory_uploads;
        procs::reset_peak_rss(pid)?;
        load::run(n, Duration::ZERO, disk.clasp.upload_op(&large, &ids)).await?;
        let peak = procs::peak_rss(pid)?;
        procs::reset_peak_rss(tus.pid())?;
        let one_patch = tus_op(
            &client,
            &tus_files,
            HeaderMap::new(),
            (&large, large.len()),
            &ids,
        );
        load::run(n, Duration::ZERO, one_patch).await?;
        let tus_peak = procs::peak_rss(tus.pid())?;
        empty_dir(&tus_dir)?;
        report.memory = Some(Memory {
            uploads: config.memory_uploads,
            bytes: large.len(),
            before,
            peak,
            tus_peak,
        });
        disk.clasp.delete_all(&ids).await?;
    }

    if let Some(s3_target) = config.s3.as_ref().filter(|_| runs(Group::S3)) {
        eprintln!("S3: through Clasp against straight to the S3 server");
        let sinks = s3::Sinks {
            upload: format!("{}/ceiling/sink", tmpfs.nginx.base),
            download: format!("{}/large.pdf", tmpfs.nginx.base),
        };
        s3::workloads(
            config,
            &mut report,
            work,
            s3_target,
            &client,
            &large,
            &sinks,
        )
        .await?;
    }
    Ok(report)
}
