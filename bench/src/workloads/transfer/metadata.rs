//! Authenticated metadata GETs against nginx serving a 4 KiB static file,
//! twice: with `wrk` and the servers sharing every core (where the
//! throughput ratio is judged), and with the servers of [`Apart`] (where the
//! 99th percentile is judged). Sharing cores, a server worker
//! preempted by the generator for one scheduler slice holds every connection
//! it serves for milliseconds: that 99th percentile measures the scheduler,
//! and swings between runs of one build, nginx's too.

use anyhow::Result;
use reqwest::header::HeaderMap;

use super::report::Role;
use super::target::pdf_bytes;
use super::{Apart, Config, Figure, KIB, Place, Report, Unit, nothing, pair};
use crate::wrk::Wrk;

/// The URLs one place's figure GETs, and Clasp's credential.
struct Urls {
    clasp: String,
    auth: HeaderMap,
    peer: String,
    ceiling: String,
}

impl Urls {
    /// Uploads the small file to `place`'s Clasp (nginx serves it as
    /// `small.pdf`).
    async fn of(place: &Place) -> Result<Urls> {
        let id = place.clasp.upload(&pdf_bytes(4 * KIB)).await?;
        Ok(Urls {
            clasp: format!("{}/{id}", place.clasp.attachments()),
            auth: place.clasp.auth.clone(),
            peer: format!("{}/small.pdf", place.nginx.base),
            ceiling: format!("{}/ceiling/empty", place.nginx.base),
        })
    }
}

/// Measures the shared figure against the servers of `disk` with `wrk`, and
/// the apart one against `apart`'s.
pub(super) async fn run(
    config: &Config,
    report: &mut Report,
    disk: &Place,
    wrk: &Wrk,
    apart: Option<&Apart>,
) -> Result<()> {
    let (c, d, none) = (
        config.metadata_concurrency,
        config.duration,
        HeaderMap::new(),
    );
    let get = |wrk: &Wrk, url: &str, headers: &HeaderMap| {
        let (wrk, url, headers) = (wrk.clone(), url.to_owned(), headers.clone());
        async move || wrk.get(&url, &headers, c, d).await
    };
    let figure = |role, workload: &str, goal| Figure {
        workload: workload.into(),
        role,
        bytes: 0,
        concurrency: c,
        unit: Unit::PerSec,
        peer: "nginx 4 KiB file",
        goal,
    };
    let urls = Urls::of(disk).await?;
    pair(
        config,
        report,
        figure(Role::Metadata, "metadata GET (tickets get)", Some(0.3)),
        get(wrk, &urls.clasp, &urls.auth),
        get(wrk, &urls.peer, &none),
        get(wrk, &urls.ceiling, &none),
        nothing,
    )
    .await?;

    let Some(apart) = apart else {
        return Ok(());
    };
    let urls = Urls::of(&apart.place).await?;
    pair(
        config,
        report,
        figure(
            Role::MetadataApart,
            "metadata GET, generator on its own core",
            None,
        ),
        get(&apart.wrk, &urls.clasp, &urls.auth),
        get(&apart.wrk, &urls.peer, &none),
        get(&apart.wrk, &urls.ceiling, &none),
        nothing,
    )
    .await
}
