//! The resumable-upload rows: a file sent through tus in 5 MiB `PATCH`es, by
//! Clasp's `/tus/` against `@tus/server` taking the same parts, and against
//! Clasp's own one-shot upload of the same file (what resuming costs Clasp:
//! a request per part, and the parts read back once at the end).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use reqwest::header::HeaderMap;

use super::report::{Report, Role, Unit};
use super::target::{Target, empty_dir, put_op, tus_op};
use super::{Config, Figure, pair, size_label};
use crate::load;

/// The part size tus clients are set to (tus-js-client, Uppy, tuspy: 5 MiB).
const PART: usize = 5 * 1024 * 1024;

/// Where the chunked rows send their bytes.
pub(super) struct Chunked<'a> {
    pub(super) client: &'a reqwest::Client,
    pub(super) clasp: &'a Arc<Target>,
    /// `@tus/server`'s creation endpoint and where it stores.
    pub(super) tus: (&'a str, &'a Path),
    /// nginx's PUT sink on tmpfs: the generator's ceiling.
    pub(super) sink: String,
    pub(super) bytes: &'a Bytes,
    pub(super) ids: &'a Arc<Mutex<Vec<String>>>,
    pub(super) duration: Duration,
}

/// Adds the chunked rows, at one upload in flight, to `report`.
pub(super) async fn rows(config: &Config, report: &mut Report, on: Chunked<'_>) -> Result<()> {
    eprintln!(
        "{} uploads through tus in {} PATCHes (tmpfs)",
        size_label(on.bytes.len()),
        size_label(PART)
    );
    let (d, c) = (on.duration, 1);
    let workload = format!(
        "upload {} via tus, {} parts (tmpfs)",
        size_label(on.bytes.len()),
        size_label(PART)
    );
    let clasp = tus_op(
        on.client,
        &on.clasp.tus_endpoint(),
        on.clasp.tus_headers()?,
        (on.bytes, PART),
        on.ids,
    );
    let sink = on.sink.clone();
    let ceiling = put_op(on.client, move |_| sink.clone(), on.bytes);
    let peers: [(&str, _); 2] = [
        ("@tus/server, same parts", Peer::Tus),
        ("Clasp one-shot upload", Peer::OneShot),
    ];
    for (peer_name, which) in peers {
        let figure = Figure {
            workload: workload.clone(),
            role: Role::TusChunked,
            bytes: on.bytes.len(),
            concurrency: c,
            unit: Unit::MibPerSec,
            peer: peer_name,
            goal: None,
        };
        let tus_peer = tus_op(
            on.client,
            on.tus.0,
            HeaderMap::new(),
            (on.bytes, PART),
            on.ids,
        );
        let one_shot = on.clasp.upload_op(on.bytes, on.ids);
        let tidy = async || {
            on.clasp.delete_all(on.ids).await?;
            empty_dir(on.tus.1)
        };
        pair(
            config,
            report,
            figure,
            async || load::run(c, d, clasp.clone()).await,
            async || match which {
                Peer::Tus => load::run(c, d, tus_peer.clone()).await,
                Peer::OneShot => load::run(c, d, one_shot.clone()).await,
            },
            async || load::run(c, d, ceiling.clone()).await,
            tidy,
        )
        .await?;
    }
    Ok(())
}

/// Which peer a chunked row compares Clasp's tus uploads with.
#[derive(Clone, Copy)]
enum Peer {
    Tus,
    OneShot,
}
