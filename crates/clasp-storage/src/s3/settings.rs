//! Where an S3-compatible bucket is, how Clasp authenticates to it, and the
//! `AmazonS3` client built from that.

use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::{BackoffConfig, ClientOptions, RetryConfig};

use crate::StorageError;

/// Region used when none is configured: what AWS SDKs and most S3-compatible
/// servers (SeaweedFS, MinIO) assume.
pub const DEFAULT_S3_REGION: &str = "us-east-1";

/// The longest validity S3 accepts for a presigned URL (SigV4: 7 days).
pub const MAX_PRESIGNED_SECS: i64 = 7 * 24 * 60 * 60;

/// Time allowed to open a TCP connection: an endpoint that is down or
/// unroutable must fail a request in seconds, not hang it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Longest silence from the server while sending a request, waiting for its
/// answer or reading its body. A stalled server fails; a slow *consumer* of a
/// download does not (the clock only runs while a read is pending).
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Upper bound on one whole request, including streaming a body out to a slow
/// client: generous, because a 30 MiB download to a phone may take minutes.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Retries of a failed request (object_store's default is 10 over 3 minutes,
/// which turns an unreachable endpoint into a minutes-long hang).
const MAX_RETRIES: usize = 2;

/// No retry starts later than this after the first attempt.
const RETRY_WINDOW: Duration = Duration::from_secs(5);

/// Where an S3-compatible bucket is and how to authenticate to it.
///
/// Built by [`S3Settings::from_url`] from `s3://BUCKET`, then completed by the
/// caller's configuration and [`S3Settings::with_env_fallback`]. Shared by
/// [`ObjectBlobStore::s3`](crate::ObjectBlobStore::s3) and [`S3UrlSigner`](crate::S3UrlSigner), so
/// the URLs handed to clients are signed for the same endpoint Clasp talks to.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct S3Settings {
    /// The bucket (must already exist).
    pub bucket: String,
    /// The S3 endpoint, e.g. `http://127.0.0.1:8333` (SeaweedFS, MinIO); `None`
    /// means AWS itself (`https://s3.{region}.amazonaws.com`). Presigned URLs
    /// name this host unless `public_endpoint` is set.
    pub endpoint: Option<String>,
    /// The endpoint presigned URLs name, when clients reach the store at
    /// another address than Clasp does (`http://minio:9000` inside, a public
    /// name outside); `None`: `endpoint`.
    pub public_endpoint: Option<String>,
    /// The signing region; `us-east-1` unless configured.
    pub region: String,
    /// The access key id; `None`: the AWS credential chain (see
    /// [`S3Settings::with_env_fallback`]).
    pub access_key_id: Option<String>,
    /// The secret access key; set together with `access_key_id`.
    pub secret_access_key: Option<String>,
    /// Address the bucket as `BUCKET.host` instead of `host/BUCKET`. With a
    /// custom endpoint, the endpoint must then already name the bucket's host.
    pub virtual_hosted_style: bool,
    /// Allow plain HTTP. An endpoint spelled `http://…` implies it: naming a
    /// plaintext endpoint is already the choice.
    pub allow_http: bool,
}

/// The secret never reaches a log line.
impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("public_endpoint", &self.public_endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "***"),
            )
            .field("virtual_hosted_style", &self.virtual_hosted_style)
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

impl S3Settings {
    /// Settings for the storage URL `s3://BUCKET` (a trailing `/` is allowed):
    /// region `us-east-1`, path-style addressing, no endpoint (AWS) and no
    /// credentials yet.
    ///
    /// A key prefix (`s3://BUCKET/some/prefix`), credentials, a port or a query
    /// are refused rather than ignored: objects would otherwise land somewhere
    /// other than the operator asked. Give Clasp a bucket of its own.
    pub fn from_url(url: &str) -> Result<Self, StorageError> {
        let bad = |reason: &str| StorageError::S3Url {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| StorageError::NotAUrl(url.to_owned()))?;
        if !scheme.eq_ignore_ascii_case("s3") {
            return Err(bad("the scheme must be s3://"));
        }
        let bucket = rest.strip_suffix('/').unwrap_or(rest);
        if bucket.is_empty() {
            return Err(bad("no bucket named: expected s3://BUCKET"));
        }
        if bucket.contains('/') {
            return Err(bad(
                "a key prefix is not supported: expected s3://BUCKET (give Clasp a bucket of its own)",
            ));
        }
        if !bucket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(bad(
                "a bucket name holds only letters, digits, '.', '-' and '_' \
                 (credentials, ports and queries go in the S3 settings, not the URL)",
            ));
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            endpoint: None,
            public_endpoint: None,
            region: DEFAULT_S3_REGION.to_owned(),
            access_key_id: None,
            secret_access_key: None,
            virtual_hosted_style: false,
            allow_http: false,
        })
    }

    /// Fills what the configuration left unset from the standard AWS variables,
    /// so an operator with a working AWS setup configures nothing twice:
    /// endpoint from `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`; region from
    /// `AWS_REGION` or `AWS_DEFAULT_REGION`. Empty variables count as unset.
    ///
    /// Credentials are not copied: without a configured key pair,
    /// the client starts from object_store's
    /// `AmazonS3Builder::from_env`, the AWS credential chain — static keys with
    /// `AWS_SESSION_TOKEN`, web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` with
    /// `AWS_ROLE_ARN`, as EKS sets them), container credentials
    /// (`AWS_CONTAINER_CREDENTIALS_*`, ECS), then instance metadata.
    ///
    /// The region is a plain string, so the default `us-east-1` counts as unset:
    /// call this right after [`S3Settings::from_url`], before applying configured
    /// values, when an explicit `us-east-1` must beat `AWS_REGION`.
    pub fn with_env_fallback(self) -> Self {
        self.with_fallback(|name| std::env::var(name).ok())
    }

    /// [`S3Settings::with_env_fallback`] over any variable lookup (tests cannot
    /// safely change the process environment).
    fn with_fallback(mut self, var: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        if self.endpoint.is_none() {
            self.endpoint = var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL"));
        }
        if self.region.is_empty() || self.region == DEFAULT_S3_REGION {
            self.region = var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| DEFAULT_S3_REGION.to_owned());
        }
        self
    }

    /// These settings with presigned URLs' endpoint in place of Clasp's own:
    /// what the URL signer builds its client from (signing needs no traffic,
    /// so that client never connects).
    pub(super) fn for_presigning(&self) -> S3Settings {
        let mut public = self.clone();
        if let Some(endpoint) = &self.public_endpoint {
            public.allow_http = self.allow_http || is_http(endpoint);
            public.endpoint = Some(endpoint.clone());
        }
        public
    }

    /// Whether plain HTTP is allowed: asked for, or implied by an `http://` endpoint.
    fn http_allowed(&self) -> bool {
        self.allow_http || self.endpoint.as_deref().is_some_and(is_http)
    }

    /// The region requests are signed for.
    pub(super) fn signing_region(&self) -> &str {
        if self.region.is_empty() {
            DEFAULT_S3_REGION
        } else {
            &self.region
        }
    }

    /// The object_store client for these settings, with bounded retries and
    /// timeouts.
    pub(crate) fn build(&self) -> Result<AmazonS3, StorageError> {
        let bad = |reason: &str| StorageError::S3Settings(reason.to_owned());
        if self.bucket.is_empty() {
            return Err(bad("no bucket configured"));
        }
        if self.access_key_id.is_some() != self.secret_access_key.is_some() {
            return Err(bad(
                "set both the access key id and the secret access key, or neither",
            ));
        }
        let region = self.signing_region();
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(1),
                base: 2.,
            },
            max_retries: MAX_RETRIES,
            retry_timeout: RETRY_WINDOW,
        };
        let client = ClientOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_read_timeout(READ_TIMEOUT)
            .with_timeout(REQUEST_TIMEOUT)
            .with_allow_http(self.http_allowed());
        // A configured key pair alone (never with a session token of another
        // credential from the environment); otherwise the AWS chain.
        let chain = match (&self.access_key_id, &self.secret_access_key) {
            (Some(id), Some(secret)) => AmazonS3Builder::new()
                .with_access_key_id(id)
                .with_secret_access_key(secret),
            _ => AmazonS3Builder::from_env(),
        };
        let mut builder = chain
            .with_bucket_name(&self.bucket)
            .with_region(region)
            .with_virtual_hosted_style_request(self.virtual_hosted_style)
            .with_allow_http(self.http_allowed())
            .with_retry(retry)
            .with_client_options(client);
        if let Some(endpoint) = &self.endpoint {
            // `AWS_ENDPOINT_URL_S3` from the environment would otherwise win.
            let endpoint = endpoint.trim_end_matches('/');
            builder = builder
                .with_endpoint(endpoint)
                .with_config(AmazonS3ConfigKey::S3Endpoint, endpoint);
        }
        Ok(builder.build()?)
    }
}

/// Whether `endpoint` is spelled `http://…`.
fn is_http(endpoint: &str) -> bool {
    endpoint
        .get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is how a test fails"
)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn base() -> S3Settings {
        S3Settings::from_url("s3://clasp").unwrap()
    }

    #[test]
    fn the_environment_fills_only_what_is_unset() {
        let aws = env(&[
            ("AWS_ENDPOINT_URL", "http://aws-endpoint"),
            ("AWS_REGION", "eu-west-3"),
            ("AWS_DEFAULT_REGION", "eu-central-1"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "SECRET"),
        ]);
        let filled = base().with_fallback(&aws);
        assert_eq!(filled.endpoint.as_deref(), Some("http://aws-endpoint"));
        assert_eq!(filled.region, "eu-west-3");
        assert_eq!(
            (
                filled.access_key_id.as_deref(),
                filled.secret_access_key.as_deref()
            ),
            (None, None),
            "credentials are the AWS chain's, at build"
        );
        assert!(filled.http_allowed(), "an http:// endpoint allows http");

        let configured = S3Settings {
            endpoint: Some("https://mine".into()),
            region: "ap-south-1".into(),
            access_key_id: Some("MINE".into()),
            secret_access_key: Some("MYSECRET".into()),
            ..base()
        };
        assert_eq!(configured.clone().with_fallback(&aws), configured);
        assert!(!configured.http_allowed());
    }

    #[test]
    fn half_a_configured_key_pair_is_refused() {
        let half = S3Settings {
            access_key_id: Some("MINE".into()),
            ..base()
        };
        let err = half.build().unwrap_err();
        assert!(err.to_string().contains("or neither"), "{err}");
    }

    #[test]
    fn presigned_urls_name_the_public_endpoint() {
        let internal = S3Settings {
            endpoint: Some("https://minio.internal:9000".into()),
            public_endpoint: Some("http://files.example.com".into()),
            ..base()
        };
        let public = internal.for_presigning();
        assert_eq!(public.endpoint.as_deref(), Some("http://files.example.com"));
        assert!(public.http_allowed() && !internal.http_allowed());
        let plain = S3Settings {
            endpoint: Some("https://s3.example.com".into()),
            ..base()
        };
        assert_eq!(plain.for_presigning(), plain);
    }

    #[test]
    fn fallbacks_and_empty_variables() {
        let filled = base().with_fallback(env(&[
            ("AWS_ENDPOINT_URL", "http://general"),
            ("AWS_ENDPOINT_URL_S3", "http://s3-specific"),
            ("AWS_REGION", " "),
            ("AWS_DEFAULT_REGION", "eu-north-1"),
        ]));
        assert_eq!(filled.endpoint.as_deref(), Some("http://s3-specific"));
        assert_eq!(filled.region, "eu-north-1");
        let nothing = base().with_fallback(env(&[]));
        assert_eq!(nothing, base());
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let s = S3Settings {
            secret_access_key: Some("hunter2".into()),
            access_key_id: Some("AKID".into()),
            ..base()
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("AKID"), "{shown}");
    }
}
