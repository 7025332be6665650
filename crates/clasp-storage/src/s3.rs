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
use object_store::aws::AmazonS3;
use object_store::path::Path;
use object_store::signer::{Method, SignedUrlOptions, Signer};
use time::OffsetDateTime;

use crate::{HmacSigner, StorageError};

mod post_policy;
mod settings;

pub use settings::{DEFAULT_S3_REGION, MAX_PRESIGNED_SECS, S3Settings};

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
    /// A signer for the bucket in `settings`, signing for the endpoint clients
    /// use (its `public_endpoint`, else its `endpoint`); `fallback` verifies
    /// Clasp-served URLs.
    pub fn new(settings: &S3Settings, fallback: HmacSigner) -> Result<Self, StorageError> {
        Ok(Self {
            store: Arc::new(settings.for_presigning().build()?),
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
