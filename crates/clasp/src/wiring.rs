//! Turns configuration into adapters and the adapters into domain services.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use clasp_db::SqliteStore;
use clasp_domain::ports::SystemClock;
use clasp_domain::{AttachmentService, IdentityService, Ports, UploadPolicy};
use clasp_http::Services;
use clasp_storage::{HmacSigner, ObjectBlobStore, load_or_create_secret};

use crate::config::Config;

/// A problem with what the operator configured (exit code 2), as opposed to a
/// failure while running.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(pub String);

/// Runs a future on a fresh multi-threaded runtime (admin and migrate commands).
pub fn block_on<F: Future<Output = anyhow::Result<()>>>(f: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(f)
}

/// Applies migrations to the configured database.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    open_database(config).await?;
    tracing::info!(database = %config.database_url(), "migrations applied");
    Ok(())
}

async fn open_database(config: &Config) -> anyhow::Result<SqliteStore> {
    let url = config.database_url();
    if !url.starts_with("sqlite:") && url.contains("://") {
        return Err(SetupError(format!(
            "unsupported database_url {url:?}: expected sqlite://PATH"
        ))
        .into());
    }
    SqliteStore::open(&url)
        .await
        .with_context(|| format!("opening the database {url}"))
}

/// The signing secret: configured, or generated once into the data directory.
fn signing_secret(config: &Config) -> anyhow::Result<Vec<u8>> {
    match &config.signing_secret {
        Some(secret) => Ok(secret.as_bytes().to_vec()),
        None => load_or_create_secret(&config.secret_path())
            .map_err(|e| SetupError(e.to_string()).into()),
    }
}

/// Builds every adapter and the services over them; migrates the database.
pub async fn build(config: &Config) -> anyhow::Result<Services> {
    let db = Arc::new(open_database(config).await?);
    let blobs =
        ObjectBlobStore::from_url(&config.storage_url()).map_err(|e| SetupError(e.to_string()))?;
    let signer = Arc::new(
        HmacSigner::new(&signing_secret(config)?, &config.public_url())
            .map_err(|e| SetupError(e.to_string()))?,
    );
    let ports = Ports {
        attachments: db.clone(),
        identities: db,
        blobs: Arc::new(blobs),
        signer: signer.clone(),
        // Clasp-served upload URLs: the bytes of direct uploads come to Clasp.
        upload_signer: signer,
        clock: Arc::new(SystemClock),
    };
    let policy = UploadPolicy {
        max_bytes: config.max_upload_bytes,
        upload_url_ttl: config.upload_url_ttl(),
        ..UploadPolicy::default()
    };
    Ok(Services {
        attachments: AttachmentService::new(ports.clone(), policy),
        identities: IdentityService::new(ports),
    })
}
