//! S3-compatible storage: the settings that reach a bucket, the `AmazonS3` client
//! built from them, and presigned download and upload URLs.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use clasp_domain::ports::{
    SignatureError, Signed, SignedRequest, SignedTarget, SignedUploadRequest, SignedUrl,
    UploadForm, UploadSigner, UploadTarget, UploadUrl, UrlSigner,
};
use clasp_domain::safety::{active_in_browser, content_disposition};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::signer::{Method, SignedUrlOptions, Signer};
use object_store::{BackoffConfig, ClientOptions, RetryConfig};
use time::OffsetDateTime;

use crate::{HmacSigner, StorageError};

mod post_policy;

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
/// [`ObjectBlobStore::s3`](crate::ObjectBlobStore::s3) and [`S3UrlSigner`], so
/// the URLs handed to clients are signed for the same endpoint Clasp talks to.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// The bucket (must already exist).
    pub bucket: String,
    /// The S3 endpoint, e.g. `http://127.0.0.1:8333` (SeaweedFS, MinIO); `None`
    /// means AWS itself (`https://s3.{region}.amazonaws.com`). Presigned URLs
    /// name this host, so it must be the address clients can reach.
    pub endpoint: Option<String>,
    /// The signing region; `us-east-1` unless configured.
    pub region: String,
    /// The access key id; `None` falls back to the environment, then to
    /// object_store's instance credentials.
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
    /// `AWS_REGION` or `AWS_DEFAULT_REGION`; the key pair from
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    ///
    /// Empty variables count as unset. The key pair is taken only when neither
    /// key is set, so halves of two different pairs are never mixed. The region
    /// is a plain string, so the default `us-east-1` counts as unset: call this
    /// right after [`S3Settings::from_url`], before applying configured values,
    /// when an explicit `us-east-1` must beat `AWS_REGION`.
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
        if self.access_key_id.is_none()
            && self.secret_access_key.is_none()
            && let (Some(id), Some(secret)) =
                (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
        {
            self.access_key_id = Some(id);
            self.secret_access_key = Some(secret);
        }
        self
    }

    /// Whether plain HTTP is allowed: asked for, or implied by an `http://` endpoint.
    fn http_allowed(&self) -> bool {
        self.allow_http
            || self.endpoint.as_deref().is_some_and(|e| {
                e.get(..7)
                    .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
            })
    }

    /// The region requests are signed for.
    fn signing_region(&self) -> &str {
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
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&self.bucket)
            .with_region(region)
            .with_virtual_hosted_style_request(self.virtual_hosted_style)
            .with_allow_http(self.http_allowed())
            .with_retry(retry)
            .with_client_options(client);
        if let Some(endpoint) = &self.endpoint {
            builder = builder.with_endpoint(endpoint.trim_end_matches('/'));
        }
        if let (Some(id), Some(secret)) = (&self.access_key_id, &self.secret_access_key) {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret);
        }
        Ok(builder.build()?)
    }
}

/// Hands out S3 presigned GET and PUT URLs, so downloads and direct uploads go
/// straight between the bucket and the client and never through Clasp; still honours Clasp's own `/signed/…`
/// URLs (minted before a move to S3, or by local-storage instances) through the
/// HMAC signer it wraps.
#[derive(Debug, Clone)]
pub struct S3UrlSigner {
    store: Arc<AmazonS3>,
    /// The signing region, as the client was built with.
    region: String,
    /// The bucket, which a POST policy names.
    bucket: String,
    fallback: HmacSigner,
}

impl S3UrlSigner {
    /// A signer for the bucket in `settings`, signing for its configured
    /// endpoint (the host a client must use); `fallback` verifies Clasp-served URLs.
    pub fn new(settings: &S3Settings, fallback: HmacSigner) -> Result<Self, StorageError> {
        Ok(Self {
            store: Arc::new(settings.build()?),
            region: settings.signing_region().to_owned(),
            bucket: settings.bucket.clone(),
            fallback,
        })
    }
}

/// The disposition of every presigned download: always `attachment`, since the
/// URL does not know the content type and the bucket's origin must never render
/// HTML a user uploaded.
fn attachment_disposition(filename: &str) -> String {
    content_disposition(filename, false)
}

/// When a presigned URL really stops working: its `X-Amz-Date` plus `X-Amz-Expires`.
fn presigned_expiry(url: &object_store::signer::Url) -> Option<OffsetDateTime> {
    let mut date = None;
    let mut expires = None;
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "X-Amz-Date" => date = Some(v.into_owned()),
            "X-Amz-Expires" => expires = v.parse::<i64>().ok(),
            _ => {}
        }
    }
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let signed_at = time::PrimitiveDateTime::parse(&date?, format)
        .ok()?
        .assume_utc();
    Some(signed_at + time::Duration::seconds(expires?))
}

#[async_trait]
impl UrlSigner for S3UrlSigner {
    /// A presigned GET of `target.blob_key` that saves as `target.filename` and
    /// answers with `target.content_type`.
    /// S3 caps validity at 7 days: a later `end` is clamped, and the
    /// returned `expires_at` is when the URL really stops working.
    async fn download_url(&self, target: &SignedTarget, end: OffsetDateTime) -> Signed<SignedUrl> {
        let now = OffsetDateTime::now_utc();
        let secs = presign_secs(now, end)?;
        let path = object_path(&target.blob_key)?;
        // Always a download, never a page rendered at the bucket's address, with
        // the stored type (objects carry none of their own) — but a type a
        // browser would render or run is served as plain bytes: the bucket
        // cannot add `nosniff` or a sandbox as Clasp's own answers do.
        let served_type = if active_in_browser(&target.content_type) {
            "application/octet-stream".to_owned()
        } else {
            target.content_type.clone()
        };
        let options = SignedUrlOptions::new().with_query([
            (
                "response-content-disposition",
                attachment_disposition(&target.filename),
            ),
            ("response-content-type", served_type),
        ]);
        let url = self
            .store
            .signed_url_opts(
                Method::GET,
                &path,
                Duration::from_secs(secs.unsigned_abs()),
                &options,
            )
            .await
            .map_err(|e| SignatureError::Backend(e.to_string()))?;
        let real_expiry = presigned_expiry(&url).unwrap_or(now + time::Duration::seconds(secs));
        Ok(SignedUrl {
            url: url.to_string(),
            expires_at: real_expiry.min(end),
        })
    }

    /// Clasp's own signed URLs: delegated to the HMAC signer (S3 checks its
    /// presigned URLs itself).
    fn verify(&self, request: &SignedRequest, now: OffsetDateTime) -> Signed<()> {
        self.fallback.verify(request, now)
    }
}

/// Seconds from now until `expires_at`, clamped to what S3 accepts; an expiry
/// in the past cannot be signed.
fn presign_secs(now: OffsetDateTime, expires_at: OffsetDateTime) -> Signed<i64> {
    let secs = (expires_at - now).whole_seconds();
    if secs < 1 {
        return Err(SignatureError::Backend(format!(
            "a presigned URL must expire in the future (asked for {expires_at})"
        )));
    }
    Ok(secs.min(MAX_PRESIGNED_SECS))
}

/// The bucket's own address, where S3 takes form POSTs: `url`, the object's
/// address, without the object key at the end of its path.
fn bucket_url(url: &object_store::signer::Url, key: &str) -> String {
    let mut bucket = url.clone();
    let path = url.path();
    bucket.set_path(path.strip_suffix(key).unwrap_or(path));
    bucket.to_string()
}

/// The object key of a blob key, as object_store addresses it.
fn object_path(key: &str) -> Signed<Path> {
    Path::parse(key).map_err(|e| SignatureError::Backend(format!("bad object key {key:?}: {e}")))
}

#[async_trait]
impl UploadSigner for S3UrlSigner {
    /// A presigned PUT of `target.blob_key` whose signature covers
    /// `Content-Length` (the declared size) and `Content-Type` (the declared
    /// type): S3 answers any other length or type with a signature mismatch, so
    /// the bucket never takes more than was declared. The client must send both
    /// headers as given.
    ///
    /// object_store leaves `Content-Length` out of every signature, so this URL
    /// is signed with `aws-sigv4` (which signs it) for the very address
    /// object_store would use.
    ///
    /// Its `form` is the same upload as S3's browser-form POST, to the bucket's
    /// address, under a POST policy bound to the same key, type and size.
    async fn upload_url(&self, target: &UploadTarget, end: OffsetDateTime) -> Signed<UploadUrl> {
        let backend = |e: &dyn std::fmt::Display| SignatureError::Backend(e.to_string());
        let signed_at = std::time::SystemTime::now();
        let now = OffsetDateTime::from(signed_at);
        let secs = presign_secs(now, end)?;
        let expires_in = Duration::from_secs(secs.unsigned_abs());
        let mut url = self
            .store
            .signed_url(Method::PUT, &object_path(&target.blob_key)?, expires_in)
            .await
            .map_err(|e| backend(&e))?;
        url.set_query(None);

        let credential = self
            .store
            .credentials()
            .get_credential()
            .await
            .map_err(|e| backend(&e))?;
        let identity = Credentials::new(
            &credential.key_id,
            &credential.secret_key,
            credential.token.clone(),
            None,
            "clasp",
        )
        .into();
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires_in);
        // S3 signs the path as sent: encoded once, never normalised.
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(signed_at)
            .settings(settings)
            .build()
            .map_err(|e| backend(&e))?
            .into();
        let expires_at = (now + time::Duration::seconds(secs)).min(end);
        let key = object_path(&target.blob_key)?;
        let form = UploadForm {
            url: bucket_url(&url, key.as_ref()),
            fields: post_policy::PostPolicy {
                bucket: &self.bucket,
                key: key.as_ref(),
                content_type: &target.content_type,
                size: target.size,
                expires_at,
            }
            .fields(&post_policy::Signer {
                key_id: &credential.key_id,
                secret_key: &credential.secret_key,
                token: credential.token.as_deref(),
                region: &self.region,
                signed_at,
            }),
        };
        let size = target.size.to_string();
        let headers = [
            ("content-length", size.as_str()),
            ("content-type", target.content_type.as_str()),
        ];
        let request = SignableRequest::new(
            "PUT",
            url.as_str(),
            headers.into_iter(),
            SignableBody::UnsignedPayload,
        )
        .map_err(|e| backend(&e))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|e| backend(&e))?
            .into_parts();
        url.query_pairs_mut()
            .extend_pairs(instructions.params().iter().map(|(k, v)| (*k, v.as_ref())));
        Ok(UploadUrl {
            url: url.to_string(),
            method: "PUT".into(),
            headers: vec![
                ("Content-Type".into(), target.content_type.clone()),
                ("Content-Length".into(), size),
            ],
            form,
            expires_at,
        })
    }

    /// Clasp's own upload URLs (minted before a move to S3): delegated to the
    /// HMAC signer (S3 checks its presigned URLs itself).
    fn verify_upload(&self, request: &SignedUploadRequest, now: OffsetDateTime) -> Signed<()> {
        self.fallback.verify_upload(request, now)
    }
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
        assert_eq!(filled.access_key_id.as_deref(), Some("AKID"));
        assert_eq!(filled.secret_access_key.as_deref(), Some("SECRET"));
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
    fn key_halves_from_two_sources_are_never_mixed() {
        let aws = env(&[
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "S"),
        ]);
        let half = S3Settings {
            access_key_id: Some("MINE".into()),
            ..base()
        };
        let filled = half.with_fallback(&aws);
        assert_eq!(filled.access_key_id.as_deref(), Some("MINE"));
        assert_eq!(filled.secret_access_key, None);
        let err = filled.build().unwrap_err();
        assert!(err.to_string().contains("or neither"), "{err}");
        // half a pair in the environment is not taken either
        let filled = base().with_fallback(env(&[("AWS_ACCESS_KEY_ID", "AKID")]));
        assert_eq!(filled.access_key_id, None);
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
