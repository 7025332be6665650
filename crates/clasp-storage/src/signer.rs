//! HMAC-SHA256 signed URLs that Clasp serves itself.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clasp_domain::ports::{
    SignatureError, SignedRequest, SignedTarget, SignedUrl, UrlSigner, clasp_signed_url,
};
use clasp_domain::{AttachmentId, TenantId};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::{MIN_SECRET_BYTES, StorageError};

type HmacSha256 = Hmac<Sha256>;

/// Signs download URLs with a shared secret, so any instance holding the same
/// secret honours a URL minted by another, and nothing needs to be stored.
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
        Ok(SignedUrl {
            url: clasp_signed_url(
                &self.base_url,
                target.tenant_id,
                target.attachment_id,
                expires,
                &URL_SAFE_NO_PAD.encode(tag),
            ),
            expires_at,
        })
    }

    fn verify(&self, request: &SignedRequest, now: OffsetDateTime) -> Result<(), SignatureError> {
        let given = URL_SAFE_NO_PAD
            .decode(request.signature.as_bytes())
            .map_err(|_| SignatureError::Invalid)?;
        let expected = self
            .mac(request.tenant_id, request.attachment_id, request.expires)
            .finalize()
            .into_bytes();
        // A forged URL learns nothing, not even whether its time is up.
        if !bool::from(expected.as_slice().ct_eq(&given)) {
            return Err(SignatureError::Invalid);
        }
        if now.unix_timestamp() >= request.expires {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}
