//! Downloads of the medium and large file through Clasp's signed URL (local
//! storage) against nginx serving the same file with sendfile: at every
//! concurrency with `wrk` and the servers sharing the cores, then at the
//! largest with the generator apart ([`Apart`]), where how busy its CPU was
//! shows whether it or the server made the figure.

use std::time::Duration;

use anyhow::Result;
use reqwest::header::HeaderMap;

use super::report::{Role, Settled, size_label};
use super::{Apart, Config, Figure, Place, Report, Unit, nothing, pair};
use crate::procs;
use crate::wrk::Wrk;

/// How long the process gets to give memory back after the download sweep
/// before its resident size is read.
const AFTER_BURST: Duration = Duration::from_secs(1);

/// The two files downloaded (nginx serves them as `medium.pdf` and
/// `large.pdf`).
pub(super) struct Files<'a> {
    pub(super) medium: &'a [u8],
    pub(super) large: &'a [u8],
}

/// Measures every download figure; `disk` serves them, `tmpfs` gives the
/// generator's ceiling.
pub(super) async fn run(
    config: &Config,
    report: &mut Report,
    (disk, tmpfs): (&Place, &Place),
    wrk: &Wrk,
    apart: Option<&Apart>,
    files: &Files<'_>,
) -> Result<()> {
    let pid = disk.clasp.clasp.server.pid();
    let idle = procs::rss(pid)?;
    let d = config.duration;
    let get = |wrk: &Wrk, url: String, c: usize| {
        let wrk = wrk.clone();
        async move || wrk.get(&url, &HeaderMap::new(), c, d).await
    };
    let sizes = [
        ("medium.pdf", files.medium, 0.9),
        ("large.pdf", files.large, 0.7),
    ];
    let figure = |workload: String, role, bytes: &[u8], c, goal| Figure {
        workload,
        role,
        bytes: bytes.len(),
        concurrency: c,
        unit: Unit::MibPerSec,
        peer: "nginx sendfile",
        goal: Some(goal),
    };
    for (name, bytes, goal) in sizes {
        let id = disk.clasp.upload(bytes).await?;
        let signed = disk.clasp.signed_url(&id).await?;
        for &c in &config.concurrency {
            let workload = format!("download {}", size_label(bytes.len()));
            pair(
                config,
                report,
                figure(workload, Role::Download, bytes, c, goal),
                get(wrk, signed.clone(), c),
                get(wrk, format!("{}/{name}", disk.nginx.base), c),
                get(wrk, format!("{}/{name}", tmpfs.nginx.base), c),
                nothing,
            )
            .await?;
        }
    }
    tokio::time::sleep(AFTER_BURST).await;
    report.after_downloads = Some(Settled {
        idle,
        after: procs::rss(pid)?,
    });

    let (Some(apart), Some(&c)) = (apart, config.concurrency.iter().max()) else {
        return Ok(());
    };
    for (name, bytes, goal) in sizes {
        let id = apart.place.clasp.upload(bytes).await?;
        let signed = apart.place.clasp.signed_url(&id).await?;
        let workload = format!(
            "download {}, generator on its own core",
            size_label(bytes.len())
        );
        pair(
            config,
            report,
            figure(workload, Role::DownloadApart, bytes, c, goal),
            get(&apart.wrk, signed, c),
            get(&apart.wrk, format!("{}/{name}", apart.place.nginx.base), c),
            get(&apart.wrk, format!("{}/{name}", tmpfs.nginx.base), c),
            nothing,
        )
        .await?;
    }
    Ok(())
}
