//! HMAC-SHA256 signed URLs that Clasp serves itself.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clasp_domain::ports::{
    SignatureError, SignedRequest, SignedTarget, SignedUploadRequest, SignedUrl, UploadSigner,
    UploadTarget, UploadUrl, UrlSigner,
};
use clasp_domain::signed_url::{download_url, upload_url};
use clasp_domain::{AttachmentId, TenantId};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::{MIN_SECRET_BYTES, StorageError};

type HmacSha256 = Hmac<Sha256>;

/// Signs download and upload URLs with a shared secret, so any instance holding
/// the same secret honours a URL minted by another, and nothing needs to be
/// stored. Downloads and uploads sign differently tagged messages, so neither
/// signature is ever valid as the other.
#[derive(Clone)]
pub struct HmacSigner {
    keyed: HmacSha256,
    base_url: String,
}

impl std::fmt::Debug for HmacSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HmacSigner")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl HmacSigner {
    /// A signer whose URLs start with `base_url`; `secret` must be at least
    /// [`MIN_SECRET_BYTES`] long.
    pub fn new(secret: &[u8], base_url: &str) -> Result<Self, StorageError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(StorageError::ShortSecret {
                min: MIN_SECRET_BYTES,
                got: secret.len(),
            });
        }
        let keyed = HmacSha256::new_from_slice(secret).map_err(|_| StorageError::ShortSecret {
            min: MIN_SECRET_BYTES,
            got: secret.len(),
        })?;
        Ok(Self {
            keyed,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    fn mac(&self, tenant: TenantId, attachment: AttachmentId, expires: i64) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        mac.update(format!("v1\nGET\n{tenant}\n{attachment}\n{expires}").as_bytes());
        mac
    }

    /// The MAC of an upload URL: another tag and method than downloads, and the
    /// size the URL accepts.
    fn upload_mac(
        &self,
        tenant: TenantId,
        attachment: AttachmentId,
        expires: i64,
        size: u64,
    ) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        mac.update(format!("v1-upload\nPUT\n{tenant}\n{attachment}\n{expires}\n{size}").as_bytes());
        mac
    }
}

/// Checks `given` (base64url) against `expected` in constant time, then the
/// expiry: a forged URL learns nothing, not even whether its time is up.
fn check(
    expected: &[u8],
    given: &str,
    expires: i64,
    now: OffsetDateTime,
) -> Result<(), SignatureError> {
    let given = URL_SAFE_NO_PAD
        .decode(given.as_bytes())
        .map_err(|_| SignatureError::Invalid)?;
    if !bool::from(expected.ct_eq(&given)) {
        return Err(SignatureError::Invalid);
    }
    if now.unix_timestamp() >= expires {
        return Err(SignatureError::Expired);
    }
    Ok(())
}

#[async_trait]
impl UploadSigner for HmacSigner {
    async fn upload_url(
        &self,
        target: &UploadTarget,
        expires_at: OffsetDateTime,
    ) -> Result<UploadUrl, SignatureError> {
        let expires = expires_at.unix_timestamp();
        let tag = self
            .upload_mac(target.tenant_id, target.attachment_id, expires, target.size)
            .finalize()
            .into_bytes();
        let signature = URL_SAFE_NO_PAD.encode(tag);
        Ok(upload_url(&self.base_url, target, expires_at, &signature))
    }

    fn verify_upload(
        &self,
        request: &SignedUploadRequest,
        now: OffsetDateTime,
    ) -> Result<(), SignatureError> {
        let expected = self
            .upload_mac(
                request.tenant_id,
                request.attachment_id,
                request.expires,
                request.size,
            )
            .finalize()
            .into_bytes();
        check(&expected, &request.signature, request.expires, now)
    }
}

#[async_trait]
impl UrlSigner for HmacSigner {
    async fn download_url(
        &self,
        target: &SignedTarget,
        expires_at: OffsetDateTime,
    ) -> Result<SignedUrl, SignatureError> {
        let expires = expires_at.unix_timestamp();
        let tag = self
            .mac(target.tenant_id, target.attachment_id, expires)
            .finalize()
            .into_bytes();
        let signature = URL_SAFE_NO_PAD.encode(tag);
        Ok(download_url(&self.base_url, target, expires_at, &signature))
    }

    fn verify(&self, request: &SignedRequest, now: OffsetDateTime) -> Result<(), SignatureError> {
        let expected = self
            .mac(request.tenant_id, request.attachment_id, request.expires)
            .finalize()
            .into_bytes();
        check(&expected, &request.signature, request.expires, now)
    }
}
