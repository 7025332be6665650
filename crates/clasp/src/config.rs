//! Layered configuration: embedded `config/default.toml`, then the file named by
//! `CLASP_CONFIG`, then `CLASP_*` environment variables.

use std::path::PathBuf;

use clasp_domain::PolicyError;
use clasp_domain::policy::allowlist;
use clasp_domain::webhooks::{HostAllowlist, RetrySchedule};
use clasp_storage::{ClamdAddress, ClamdAddressError};
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Deserializer, Serialize};

mod check;
mod database;
mod environment;
mod secrets;

/// The embedded defaults, so a bare `clasp serve` needs no file on disk.
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

/// Shortest accepted signing secret, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// Longest accepted upload URL lifetime: a week, beyond which an abandoned
/// upload would hold its bytes for longer than anyone waits for it.
pub const MAX_UPLOAD_URL_TTL_SECS: u64 = 7 * 24 * 3600;

/// Longest a revocation elsewhere may go unseen by an instance's credential cache.
pub const MAX_CREDENTIAL_CACHE_SECS: u64 = 60;

/// Everything an operator can set. Field names are the TOML keys and, upper-cased
/// with a `CLASP_` prefix, the environment variables.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// Address of the admin listener: the admin API, `/readyz`, `/metrics`.
    pub admin_listen: String,
    /// Bearer token of the admin API (≥ 32 bytes); unset: it refuses every request.
    #[serde(default, deserialize_with = "lenient_string")]
    pub admin_token: Option<String>,
    /// A file holding `admin_token` (see `secrets`).
    #[serde(default, skip_serializing)]
    pub admin_token_file: Option<PathBuf>,
    /// Directory for the embedded defaults' files.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; unset: `sqlite://<data_dir>/clasp.db`.
    pub database_url: Option<String>,
    /// The PostgreSQL password, put into `database_url` (which then names
    /// none), so it can come from a file of its own.
    #[serde(default, deserialize_with = "lenient_string")]
    pub database_password: Option<String>,
    /// A file holding `database_password`.
    #[serde(default, skip_serializing)]
    pub database_password_file: Option<PathBuf>,
    /// libpq's `sslmode` for PostgreSQL, added to `database_url`.
    pub database_sslmode: Option<String>,
    /// libpq's `sslrootcert` (a PEM file of trusted CAs), added to `database_url`.
    pub database_sslrootcert: Option<String>,
    /// PostgreSQL connections each instance keeps.
    pub database_pool_size: usize,
    /// Seconds to wait for a PostgreSQL connection before failing.
    pub database_connect_timeout_secs: u64,
    /// Longest a PostgreSQL statement may run, in seconds; 0: no limit.
    pub database_statement_timeout_secs: u64,
    /// `file://…`, `memory://` or `s3://bucket`; unset: `file://<data_dir>/blobs`.
    pub storage_url: Option<String>,
    /// S3 endpoint (e.g. `http://127.0.0.1:8333`); unset: `AWS_ENDPOINT_URL`, then AWS.
    pub s3_endpoint: Option<String>,
    /// Endpoint presigned URLs name, when clients reach the store at another
    /// address than Clasp; unset: `s3_endpoint`.
    pub s3_public_endpoint: Option<String>,
    /// S3 region; unset: `AWS_REGION`, `AWS_DEFAULT_REGION`, then `us-east-1`.
    pub s3_region: Option<String>,
    /// S3 access key id; unset: the AWS credential chain.
    #[serde(default, deserialize_with = "lenient_string")]
    pub s3_access_key_id: Option<String>,
    /// S3 secret access key; unset: the AWS credential chain.
    #[serde(default, deserialize_with = "lenient_string")]
    pub s3_secret_access_key: Option<String>,
    /// A file holding `s3_secret_access_key`.
    #[serde(default, skip_serializing)]
    pub s3_secret_access_key_file: Option<PathBuf>,
    /// Virtual-hosted-style bucket addressing (AWS); off: path style (SeaweedFS, MinIO).
    pub s3_virtual_hosted_style: bool,
    /// Base of handed-out URLs; unset: `http://<listen>`.
    pub public_url: Option<String>,
    /// URL-signing secret (≥ 32 bytes); unset: generated into the data directory.
    #[serde(default, deserialize_with = "lenient_string")]
    pub signing_secret: Option<String>,
    /// A file holding `signing_secret`.
    #[serde(default, skip_serializing)]
    pub signing_secret_file: Option<PathBuf>,
    /// Secrets that signed URLs before the current one, comma-separated: URLs
    /// they signed still verify until they expire, so a secret can be rotated.
    pub signing_secret_previous: String,
    /// A file holding `signing_secret_previous`.
    #[serde(default, skip_serializing)]
    pub signing_secret_previous_file: Option<PathBuf>,
    /// Largest accepted upload in bytes, for tenants without their own.
    pub max_upload_bytes: u64,
    /// Media types accepted, comma-separated, for tenants without their own.
    pub allowed_types: String,
    /// Whether `allowed_types` may name types Clasp has no magic-byte rule
    /// for, whose files are then taken as their uploader declares them.
    pub trust_declared_types: bool,
    /// How long an upload URL of a direct upload works, in seconds.
    pub upload_url_ttl_secs: u64,
    /// How long the URL a `redirect` download answers with works, in seconds.
    pub redirect_url_ttl_secs: u64,
    /// Seconds between two sweeps of abandoned direct uploads by `clasp serve`.
    pub sweep_interval_secs: u64,
    /// HTTP workers; 0 = one per core.
    pub workers: usize,
    /// Seconds a request body may send nothing before it is cut off.
    pub body_idle_timeout_secs: u64,
    /// Seconds a request body may take in all, however steadily it sends.
    pub upload_deadline_secs: u64,
    /// Uploads (requests with a body) received at once; more get 503. 0: no cap.
    pub max_concurrent_uploads: usize,
    /// Of those, what one tenant may hold at once; more get 503. 0: no cap.
    pub max_uploads_per_tenant: usize,
    /// Of those, what one credential (an API key, an end user's sessions) may
    /// hold at once; more get 503. 0: no cap.
    pub max_uploads_per_credential: usize,
    /// Requests per second each credential may sustain; more get 429. 0: no limit.
    pub rate_limit_per_second: u32,
    /// Requests a credential may send in a burst above its rate.
    pub rate_limit_burst: u32,
    /// Seconds a live credential is trusted without asking the database again;
    /// 0: never (see `credential_cache`).
    pub credential_cache_secs: u64,
    /// Grace period for in-flight requests on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Origins whose pages may call Clasp (CORS), comma-separated; `*`: any
    /// origin, without cookies; empty: none.
    pub cors_allowed_origins: String,
    /// clamd to scan every upload with: `tcp://HOST:PORT` or `unix:/PATH`;
    /// empty: no virus scanning.
    pub clamav_address: String,
    /// Longest one virus scan may take, in seconds, before the upload is
    /// refused as unscanned.
    pub scan_timeout_secs: u64,
    /// Hosts webhook URLs may name, comma-separated (`*.example.com` for any
    /// host below one); empty: none.
    pub webhook_allowed_hosts: String,
    /// The waits between webhook delivery attempts, comma-separated humantime.
    pub webhook_retry_schedule: String,
    /// Longest one webhook delivery attempt may take, in seconds.
    pub webhook_timeout_secs: u64,
    /// Webhook deliveries attempted at once by this instance.
    pub webhook_concurrency: usize,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// Whether a stored upload is synced to disk before Clasp answers it.
    pub durability: Durability,
    /// Default log filter (RUST_LOG wins).
    pub log_level: String,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log pipelines.
    Json,
}

/// What a success answer to an upload promises of the local stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// The bytes (a local directory) and the row (SQLite) are synced to disk
    /// before the answer: they survive a power cut.
    Fsync,
    /// They are written, not synced: they survive a crash of Clasp, not of the
    /// machine, and uploads cost less.
    Fast,
}

impl Durability {
    /// Whether stores sync to disk before answering.
    pub fn fsync(self) -> bool {
        self == Durability::Fsync
    }
}

/// A configuration that cannot be used; the binary exits with code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Parsing or merging failed.
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// The file named by CLASP_CONFIG does not exist.
    #[error("CLASP_CONFIG names {0}, which does not exist")]
    MissingFile(PathBuf),
    /// The signing secret is too short.
    #[error("{0} must be at least {MIN_SECRET_BYTES} bytes (got {1})")]
    ShortSecret(&'static str, usize),
}

/// Accepts a string, or a number or boolean as written (environment values that
/// look like numbers must still be usable as secrets).
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        S(String),
        I(i64),
        U(u64),
        F(f64),
        B(bool),
    }
    Ok(Option::<Raw>::deserialize(d)?.map(|r| match r {
        Raw::S(s) => s,
        Raw::I(i) => i.to_string(),
        Raw::U(u) => u.to_string(),
        Raw::F(f) => f.to_string(),
        Raw::B(b) => b.to_string(),
    }))
}

impl Config {
    /// Loads the layers from the process environment; also answers the
    /// Kubernetes service-link variables it ignored, for the caller to log
    /// once logging is set up (they are not configuration, see `environment`).
    pub fn load() -> Result<(Config, Vec<String>), ConfigError> {
        Self::load_from(
            std::env::var_os("CLASP_CONFIG").map(PathBuf::from),
            Env::prefixed("CLASP_"),
        )
    }

    fn load_from(file: Option<PathBuf>, env: Env) -> Result<(Config, Vec<String>), ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::MissingFile(path));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let env = env.ignore(&["config"]);
        let (mut env_keys, mut links) = (Vec::new(), Vec::new());
        for (key, value) in env.iter() {
            if environment::is_service_link(key.as_str(), &value) {
                links.push(key.as_str().to_owned());
            } else {
                env_keys.push(key.as_str().to_owned());
            }
        }
        let link_keys: Vec<&str> = links.iter().map(String::as_str).collect();
        let mut config: Config = figment
            .merge(env.ignore(&link_keys))
            .extract()
            .map_err(|e| environment::extraction_error(e, &env_keys))?;
        config.read_secret_files()?;
        config.check()?;
        let mut ignored: Vec<String> = links
            .iter()
            .map(|k| format!("CLASP_{}", k.to_ascii_uppercase()))
            .collect();
        ignored.sort();
        Ok((config, ignored))
    }

    /// The secrets of `signing_secret_previous`, trimmed, empty ones dropped.
    pub fn previous_signing_secrets(&self) -> Vec<&str> {
        self.signing_secret_previous
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// The media types of `allowed_types`, each checked as a tenant's are.
    pub fn allowlist(&self) -> Result<Vec<String>, PolicyError> {
        let types: Vec<&str> = self
            .allowed_types
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        allowlist(&types, self.trust_declared_types)
    }

    /// The CORS origins in force (none when the setting is empty).
    pub fn cors_origins(&self) -> Vec<String> {
        self.cors_allowed_origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The clamd to scan uploads with, if any (`clamav_address` not empty).
    pub fn clamav(&self) -> Option<Result<ClamdAddress, ClamdAddressError>> {
        let address = self.clamav_address.trim();
        (!address.is_empty()).then(|| address.parse())
    }

    /// The metadata store URL in force, with `database_password`,
    /// `database_sslmode` and `database_sslrootcert` in it.
    pub fn database_url(&self) -> String {
        // Checked on load, so what does not fit is refused there.
        self.composed_database_url()
            .unwrap_or_else(|_| self.database_url_without_password())
    }

    /// `database_url` (or the embedded default) with the password and the TLS
    /// settings put in; what does not fit is refused.
    pub(super) fn composed_database_url(&self) -> Result<String, ConfigError> {
        self.url_with_tls(self.url_with_password(self.database_url_without_password())?)
    }

    fn database_url_without_password(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("clasp.db").display()))
    }

    /// The blob store URL in force.
    pub fn storage_url(&self) -> String {
        self.storage_url
            .clone()
            .unwrap_or_else(|| format!("file://{}", self.data_dir.join("blobs").display()))
    }

    /// The public base URL in force.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    /// Whether this instance may share its data with others (PostgreSQL or S3),
    /// so its signing secret should be configured, not generated.
    pub fn is_shared(&self) -> bool {
        let db = self.database_url();
        db.starts_with("postgres://")
            || db.starts_with("postgresql://")
            || self.storage_url().starts_with("s3://")
    }

    /// The hosts webhook URLs may name.
    pub fn webhook_hosts(&self) -> HostAllowlist {
        HostAllowlist::new(self.webhook_allowed_hosts.split(',').map(str::to_owned))
    }

    /// The waits between webhook delivery attempts, or why they cannot be read.
    pub fn webhook_retries(&self) -> Result<RetrySchedule, String> {
        let waits = self
            .webhook_retry_schedule
            .split(',')
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .map(|w| humantime::parse_duration(w).map_err(|e| format!("{w:?}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        if waits.len() > 30 || waits.iter().any(|w| w.as_secs() > 7 * 24 * 3600) {
            return Err("at most 30 waits, each at most 7 days".into());
        }
        Ok(RetrySchedule(waits))
    }

    /// How long an upload URL of a direct upload works.
    pub fn upload_url_ttl(&self) -> time::Duration {
        // At most a week (checked on load), so the conversion cannot fail.
        time::Duration::seconds(i64::try_from(self.upload_url_ttl_secs).unwrap_or(i64::MAX))
    }

    /// How long a live credential is trusted without asking the database again.
    pub fn credential_cache_ttl(&self) -> time::Duration {
        // At most a minute (checked on load), so the conversion cannot fail.
        time::Duration::seconds(i64::try_from(self.credential_cache_secs).unwrap_or(i64::MAX))
    }

    /// How long the URL a `redirect` download answers with works.
    pub fn redirect_url_ttl(&self) -> time::Duration {
        // At most a week (checked on load), so the conversion cannot fail.
        time::Duration::seconds(i64::try_from(self.redirect_url_ttl_secs).unwrap_or(i64::MAX))
    }

    /// Where a generated signing secret is kept.
    pub fn secret_path(&self) -> PathBuf {
        self.data_dir.join("signing.key")
    }
}

#[cfg(test)]
#[allow(
    clippy::result_large_err,
    reason = "figment::Jail fixes the closure's error type"
)]
mod tests;
