//! Turns configuration into adapters and the adapters into domain services.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clasp_db::{PgSettings, PgStore, PoolUse, SqliteStore};
use clasp_domain::credential_cache::CachedIdentities;
use clasp_domain::ports::{
    AttachmentRepository, BlobStore, Clock, IdentityStore, NoScanner, Scanner, SystemClock,
    UploadSigner, UrlSigner,
};
use clasp_domain::resumable::ResumableStore;
use clasp_domain::webhooks::{WebhookService, WebhookStore};
use clasp_domain::{AttachmentService, IdentityService, Ports, UploadPolicy};
use clasp_http::Services;
use clasp_http::ops::Metrics;
use clasp_storage::{
    ClamdScanner, HmacSigner, ImageThumbnailer, ObjectBlobStore, S3Settings, S3UrlSigner,
    SpareCores, load_or_create_secret,
};

use crate::audit::LoggedAudit;
use crate::config::Config;
use crate::metered::{MeteredBlobs, MeteredMetadata, MeteredScanner};

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
    tracing::info!(database = %redacted(&config.database_url()), "migrations applied");
    Ok(())
}

/// How full a store's connection pools are now.
type PoolReading = Box<dyn Fn() -> Vec<PoolUse> + Send + Sync>;

/// The metadata store: one adapter serving both metadata ports.
struct Metadata {
    attachments: Arc<dyn AttachmentRepository>,
    identities: Arc<dyn IdentityStore>,
    webhooks: Arc<dyn WebhookStore>,
    resumable: Arc<dyn ResumableStore>,
    pools: PoolReading,
}

impl Metadata {
    fn of<S, const N: usize>(store: S, pools: fn(&S) -> [PoolUse; N]) -> Self
    where
        S: AttachmentRepository + IdentityStore + WebhookStore + ResumableStore + Send + 'static,
    {
        let store = Arc::new(store);
        let reading = store.clone();
        Self {
            attachments: store.clone(),
            webhooks: store.clone(),
            resumable: store.clone(),
            identities: store,
            pools: Box::new(move || pools(&reading).to_vec()),
        }
    }
}

/// A database URL safe for logs and messages: passwords are hidden, in the
/// authority and in the query.
fn redacted(url: &str) -> String {
    let (url, query) = match url.split_once('?') {
        Some((base, query)) if query.contains("password") => (base, "?***"),
        Some((base, _)) => (base, &url[base.len()..]),
        None => (url, ""),
    };
    let authority = match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, rest)), Some(at)) if at > scheme.len() + 3 => {
            match rest[..at - scheme.len() - 3].split_once(':') {
                Some((user, _password)) => format!("{scheme}://{user}:***@{}", &url[at + 1..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    };
    format!("{authority}{query}")
}

async fn open_database(config: &Config) -> anyhow::Result<Metadata> {
    let url = config.database_url();
    let shown = redacted(&url);
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    match scheme {
        None | Some("sqlite") => Ok(Metadata::of(
            SqliteStore::open_with(&url, config.durability.fsync())
                .await
                .context("opening the database")?,
            SqliteStore::pools,
        )),
        Some("postgres" | "postgresql") => {
            Ok(Metadata::of(
                PgStore::open(&url, &pg_settings(config))
                    .await
                    .context("opening the database")?,
                PgStore::pools,
            ))
        }
        Some(other) => Err(SetupError(format!(
            "unsupported database_url scheme {other:?} in {shown}: expected sqlite://PATH or postgres://…"
        ))
        .into()),
    }
}

/// The PostgreSQL settings of `config`, for any PostgreSQL store it opens.
pub fn pg_settings(config: &Config) -> PgSettings {
    let mut settings = PgSettings::default();
    settings.pool_size = config.database_pool_size;
    settings.connect_timeout = Duration::from_secs(config.database_connect_timeout_secs);
    settings.statement_timeout = Duration::from_secs(config.database_statement_timeout_secs);
    settings
}

/// The signing secret: configured, or generated once into the data directory.
/// `clasp serve` refuses shared stores without a configured one, so a generated
/// secret only ever signs for a single machine (or for commands that sign nothing).
fn signing_secret(config: &Config) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = &config.signing_secret {
        return Ok(secret.as_bytes().to_vec());
    }
    load_or_create_secret(&config.secret_path()).map_err(|e| SetupError(e.to_string()).into())
}

/// Creates the data directory, owner-only (`0700`), when the embedded defaults
/// keep anything in it (the SQLite file, the blobs, the generated signing
/// secret) and it does not exist yet: no other user of the machine may list or
/// read what it holds. An existing directory is left as its owner set it.
pub fn create_data_dir(config: &Config) -> Result<(), SetupError> {
    let used = config.database_url.is_none()
        || config.storage_url.is_none()
        || config.signing_secret.is_none();
    if !used || config.data_dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(&config.data_dir).map_err(|e| {
        SetupError(format!(
            "cannot create the data directory {}: {e}",
            config.data_dir.display()
        ))
    })
}

/// The blob store and the signers that go with it.
struct Storage {
    blobs: Arc<dyn BlobStore>,
    signer: Arc<dyn UrlSigner>,
    upload_signer: Arc<dyn UploadSigner>,
}

/// S3 presigns its own download and upload URLs, so those bytes never pass
/// through Clasp; other stores' bytes go through Clasp's signed routes.
fn storage(config: &Config) -> anyhow::Result<Storage> {
    let setup = |e: clasp_storage::StorageError| SetupError(e.to_string());
    let hmac = HmacSigner::new(&signing_secret(config)?, &config.public_url())
        .and_then(|signer| signer.with_previous(&config.previous_signing_secrets()))
        .map_err(setup)?;
    let url = config.storage_url();
    if !url.starts_with("s3://") {
        let blobs = blob_store(config, &url)?;
        let hmac = Arc::new(hmac);
        return Ok(Storage {
            blobs: Arc::new(blobs),
            signer: hmac.clone(),
            upload_signer: hmac,
        });
    }
    let settings = s3_settings(config, &url)?;
    let blobs = ObjectBlobStore::s3(&settings).map_err(setup)?;
    let signer = Arc::new(S3UrlSigner::new(&settings, hmac).map_err(setup)?);
    Ok(Storage {
        blobs: Arc::new(blobs),
        signer: signer.clone(),
        upload_signer: signer,
    })
}

/// The S3 settings for the bucket of `url`: Clasp's own settings win over the
/// standard AWS_* variables.
fn s3_settings(config: &Config, url: &str) -> Result<S3Settings, SetupError> {
    let mut settings = S3Settings::from_url(url)
        .map_err(|e| SetupError(e.to_string()))?
        .with_env_fallback();
    if let Some(endpoint) = &config.s3_endpoint {
        settings.allow_http = endpoint.starts_with("http://");
        settings.endpoint = Some(endpoint.clone());
    }
    settings.public_endpoint = config.s3_public_endpoint.clone();
    if let Some(region) = &config.s3_region {
        settings.region = region.clone();
    }
    if let (Some(id), Some(secret)) = (&config.s3_access_key_id, &config.s3_secret_access_key) {
        settings.access_key_id = Some(id.clone());
        settings.secret_access_key = Some(secret.clone());
    }
    settings.virtual_hosted_style = config.s3_virtual_hosted_style;
    Ok(settings)
}

/// The blob store of `url`: a directory, memory, or a bucket with the S3
/// settings of `config` (the configured store, or the target of a move).
pub fn blob_store(config: &Config, url: &str) -> Result<ObjectBlobStore, SetupError> {
    let built = if url.starts_with("s3://") {
        ObjectBlobStore::s3(&s3_settings(config, url)?)
    } else {
        ObjectBlobStore::from_url_with(url, config.durability.fsync())
    };
    built.map_err(|e| SetupError(e.to_string()))
}

/// The virus scanner `clamav_address` names, or none. clamd is not asked here:
/// a scanner that is down refuses uploads (fail closed) until it is back, which
/// `clasp serve` logs, rather than keeping the instance from starting.
fn scanner(config: &Config) -> anyhow::Result<Arc<dyn Scanner>> {
    Ok(match config.clamav() {
        Some(address) => Arc::new(ClamdScanner::new(
            address?,
            Duration::from_secs(config.scan_timeout_secs),
        )),
        None => Arc::new(NoScanner),
    })
}

/// Builds every adapter and the services over them; migrates the database.
pub async fn build(config: &Config, metrics: &Metrics) -> anyhow::Result<Services> {
    let storage = storage(config)?;
    let metadata = open_database(config).await?;
    let pools = metadata.pools;
    metrics.before_scrape(move |metrics| {
        for used in pools() {
            metrics.set_pool(used.pool, used.max, used.open, used.idle, used.waiting);
        }
    });
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let timed = MeteredMetadata::new(metadata.identities, metrics.clone());
    let identities: Arc<dyn IdentityStore> = match config.credential_cache_secs {
        0 => Arc::new(timed),
        _ => Arc::new(CachedIdentities::new(
            Arc::new(timed),
            clock.clone(),
            config.credential_cache_ttl(),
        )),
    };
    let ports = Ports {
        attachments: Arc::new(MeteredMetadata::new(metadata.attachments, metrics.clone())),
        identities,
        blobs: Arc::new(MeteredBlobs::new(storage.blobs, metrics.clone())),
        signer: storage.signer,
        upload_signer: storage.upload_signer,
        thumbnailer: Arc::new(ImageThumbnailer::default()),
        scanner: Arc::new(MeteredScanner::new(scanner(config)?, metrics.clone())),
        clock,
        audit: Arc::new(LoggedAudit {
            metrics: metrics.clone(),
        }),
        resumable: Arc::new(MeteredMetadata::new(metadata.resumable, metrics.clone())),
        offload: Arc::new(SpareCores::of_this_machine()),
    };
    let policy = UploadPolicy {
        max_bytes: config.max_upload_bytes,
        allowed_types: config.allowlist()?,
        upload_url_ttl: config.upload_url_ttl(),
    };
    let webhooks = WebhookService::new(metadata.webhooks, &ports, config.webhook_hosts());
    Ok(Services {
        attachments: AttachmentService::new(ports.clone(), policy),
        identities: IdentityService::new(ports),
        redirect_url_ttl: config.redirect_url_ttl(),
        webhooks,
    })
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(
            redacted("postgres://clasp:hunter2@db:5432/clasp"),
            "postgres://clasp:***@db:5432/clasp"
        );
        assert_eq!(
            redacted("postgres://clasp@db/clasp"),
            "postgres://clasp@db/clasp"
        );
        assert_eq!(
            redacted("sqlite://./data/clasp.db"),
            "sqlite://./data/clasp.db"
        );
        assert_eq!(
            redacted("postgres://db/clasp?user=u&password=p"),
            "postgres://db/clasp?***"
        );
        assert_eq!(
            redacted("postgres://db/clasp?sslmode=disable"),
            "postgres://db/clasp?sslmode=disable"
        );
    }
}
