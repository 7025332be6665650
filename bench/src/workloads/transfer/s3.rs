//! The S3 figures: uploads and downloads through Clasp on S3, against the
//! same bytes PUT to and GOT from the S3 server directly.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use bytes::Bytes;
use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use reqwest::header::HeaderMap;

use super::target::{Target, put_op};
use super::{Config, Figure, Report, Role, Unit, nothing, pair_loops, size_label};
use crate::load;
use crate::procs::{Clasp, S3Target, Storage};

/// Where the generator's ceilings of the S3 figures are measured (nginx's
/// cheapest answers).
pub(super) struct Sinks {
    /// A body read into memory and dropped.
    pub(super) upload: String,
    /// The same file from tmpfs with sendfile.
    pub(super) download: String,
}

/// A load operation GETting `url` with `headers` through reqwest, as
/// object_store GETs from the S3 server (so both sides use one client).
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

/// Uploads and downloads through Clasp on S3 against the S3 server directly.
pub(super) async fn workloads(
    config: &Config,
    report: &mut Report,
    work: &Path,
    s3: &S3Target,
    client: &reqwest::Client,
    large: &Bytes,
    sinks: &Sinks,
) -> Result<()> {
    let ids = &Arc::new(Mutex::new(Vec::new()));
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
        let figure = Figure {
            workload: format!("S3 upload {}", size_label(large.len())),
            role: Role::S3Upload,
            bytes: large.len(),
            concurrency: c,
            unit: Unit::MibPerSec,
            peer: "SeaweedFS PUT",
            goal: Some(0.8),
        };
        let sink = sinks.upload.clone();
        let (through, direct, ceiling) = (
            clasp.upload_op(large, ids),
            direct_put.clone(),
            put_op(client, move |_| sink.clone(), large),
        );
        pair_loops(
            config,
            report,
            figure,
            (through, direct, ceiling),
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
        let figure = Figure {
            workload: format!("S3 download {}", size_label(large.len())),
            role: Role::S3Download,
            bytes: large.len(),
            concurrency: c,
            unit: Unit::MibPerSec,
            peer: "SeaweedFS GET",
            goal: Some(0.8),
        };
        let (through, direct, ceiling) = (
            get_op(client, through_clasp.clone(), clasp.auth.clone()),
            direct_get.clone(),
            get_op(client, sinks.download.clone(), HeaderMap::new()),
        );
        pair_loops(config, report, figure, (through, direct, ceiling), nothing).await?;
    }
    Ok(())
}
