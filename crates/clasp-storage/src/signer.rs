//! HMAC-SHA256 signed URLs that Clasp serves itself.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clasp_domain::ports::{
    SignatureError, Signed, SignedRequest, SignedTarget, SignedUploadRequest, SignedUrl,
    UploadSigner, UploadTarget, UploadUrl, UrlSigner,
};
use clasp_domain::signed_url::{download_url, upload_url};
use clasp_domain::{AttachmentId, TenantId};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::{MIN_SECRET_BYTES, StorageError};

type HmacSha256 = Hmac<Sha256>;

/// One secret and the id URLs name it by: the first 8 hex digits of its
/// SHA-256, so the id tells nothing of the secret and needs no configuring.
#[derive(Clone)]
struct Key {
    id: String,
    keyed: HmacSha256,
}

impl Key {
    fn new(secret: &[u8]) -> Result<Self, StorageError> {
        let short = || StorageError::ShortSecret {
            min: MIN_SECRET_BYTES,
            got: secret.len(),
        };
        if secret.len() < MIN_SECRET_BYTES {
            return Err(short());
        }
        let keyed = HmacSha256::new_from_slice(secret).map_err(|_| short())?;
        let digest = Sha256::digest(secret);
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self { id, keyed })
    }

    /// The MAC of `message` under this key.
    fn tag(&self, message: &str) -> Vec<u8> {
        let mut mac = self.keyed.clone();
        mac.update(message.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// Signs download and upload URLs with a shared secret, so any instance holding
/// the same secret honours a URL minted by another, and nothing needs to be
/// stored. Downloads and uploads sign differently tagged messages, so neither
/// signature is ever valid as the other.
///
/// A signature names the key that made it (`KEYID.MAC`). URLs are signed with
/// the current secret and verified with it or with any previous one
/// ([`HmacSigner::with_previous`]), so a secret is rotated without breaking the
/// URLs already handed out: they keep working until they expire, and the old
/// secret can be dropped once the longest of them has.
#[derive(Clone)]
pub struct HmacSigner {
    /// The current key first, then the previous ones.
    keys: Vec<Key>,
    base_url: String,
}

impl std::fmt::Debug for HmacSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("HmacSigner")
            .field("base_url", &self.base_url)
            .field("key_ids", &ids)
            .finish_non_exhaustive()
    }
}

impl HmacSigner {
    /// A signer whose URLs start with `base_url`; `secret` must be at least
    /// [`MIN_SECRET_BYTES`] long.
    pub fn new(secret: &[u8], base_url: &str) -> Result<Self, StorageError> {
        Ok(Self {
            keys: vec![Key::new(secret)?],
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// The same, also honouring URLs signed with the `previous` secrets (each
    /// at least [`MIN_SECRET_BYTES`] long).
    pub fn with_previous<S: AsRef<[u8]>>(mut self, previous: &[S]) -> Result<Self, StorageError> {
        for secret in previous {
            self.keys.push(Key::new(secret.as_ref())?);
        }
        Ok(self)
    }

    /// The signature of `message` with the current key: `KEYID.MAC`.
    fn sign(&self, message: &str) -> String {
        let current = &self.keys[0];
        let tag = URL_SAFE_NO_PAD.encode(current.tag(message));
        format!("{}.{tag}", current.id)
    }

    /// Checks `given` against the MAC of `message` by the key it names (by
    /// every key, for a signature made before signatures named keys), in
    /// constant time, then the expiry: a forged URL learns nothing, not even
    /// whether its time is up.
    fn check(&self, message: &str, given: &str, expires: i64, now: OffsetDateTime) -> Signed<()> {
        let (named, mac) = match given.split_once('.') {
            Some((id, mac)) => (Some(id), mac),
            None => (None, given),
        };
        let mac = URL_SAFE_NO_PAD
            .decode(mac.as_bytes())
            .map_err(|_| SignatureError::Invalid)?;
        let signed_by = |key: &&Key| named.is_none_or(|id| id == key.id);
        let genuine = self
            .keys
            .iter()
            .filter(signed_by)
            .any(|key| bool::from(key.tag(message).ct_eq(&mac)));
        if !genuine {
            return Err(SignatureError::Invalid);
        }
        if now.unix_timestamp() >= expires {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

/// What a download URL signs.
fn download_message(tenant: TenantId, attachment: AttachmentId, expires: i64) -> String {
    format!("v1\nGET\n{tenant}\n{attachment}\n{expires}")
}

/// What an upload URL signs: another tag and method than downloads, and the
/// size the URL accepts.
fn upload_message(tenant: TenantId, attachment: AttachmentId, expires: i64, size: u64) -> String {
    format!("v1-upload\nPUT\n{tenant}\n{attachment}\n{expires}\n{size}")
}

#[async_trait]
impl UploadSigner for HmacSigner {
    async fn upload_url(&self, target: &UploadTarget, end: OffsetDateTime) -> Signed<UploadUrl> {
        let expires = end.unix_timestamp();
        let message = upload_message(target.tenant_id, target.attachment_id, expires, target.size);
        let signature = self.sign(&message);
        Ok(upload_url(&self.base_url, target, end, &signature))
    }

    fn verify_upload(&self, r: &SignedUploadRequest, now: OffsetDateTime) -> Signed<()> {
        let message = upload_message(r.tenant_id, r.attachment_id, r.expires, r.size);
        self.check(&message, &r.signature, r.expires, now)
    }
}

#[async_trait]
impl UrlSigner for HmacSigner {
    async fn download_url(&self, target: &SignedTarget, end: OffsetDateTime) -> Signed<SignedUrl> {
        let expires = end.unix_timestamp();
        let signature = self.sign(&download_message(
            target.tenant_id,
            target.attachment_id,
            expires,
        ));
        Ok(download_url(&self.base_url, target, end, &signature))
    }

    fn verify(&self, r: &SignedRequest, now: OffsetDateTime) -> Signed<()> {
        let message = download_message(r.tenant_id, r.attachment_id, r.expires);
        self.check(&message, &r.signature, r.expires, now)
    }
}
