//! Signed URLs backed by remembered tokens.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::attachment::AttachmentId;
use crate::credentials::generate_session_token;
use crate::ports::{
    SignatureError, Signed, SignedRequest, SignedTarget, SignedUploadRequest, SignedUrl,
    UploadSigner, UploadTarget, UploadUrl, UrlSigner,
};
use crate::signed_url::{download_url, upload_url};
use crate::tenant::TenantId;

use super::lock;

/// Signs download and upload URLs by remembering a random token per URL:
/// nothing to configure, and the URLs have the same shape as those of Clasp's
/// HMAC signer. Download and upload tokens are kept apart, so neither kind of
/// URL verifies as the other.
pub struct MemorySigner {
    base_url: String,
    downloads: Tokens<(TenantId, AttachmentId, i64)>,
    uploads: Tokens<(TenantId, AttachmentId, i64, u64)>,
}

/// The grants of one kind of URL, by their token.
struct Tokens<G>(Mutex<HashMap<String, G>>);

impl<G: PartialEq + Copy> Tokens<G> {
    /// A fresh token for `grant`.
    fn issue(&self, grant: G) -> String {
        let token = generate_session_token();
        lock(&self.0).insert(token.clone(), grant);
        token
    }

    /// Whether `token` was issued for exactly `grant` and `expires` is after `now`.
    fn check(&self, token: &str, grant: G, expires: i64, now: OffsetDateTime) -> Signed<()> {
        if lock(&self.0).get(token) != Some(&grant) {
            return Err(SignatureError::Invalid);
        }
        if now.unix_timestamp() >= expires {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

impl MemorySigner {
    /// A signer whose URLs start with `base_url` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base_url: &str) -> Self {
        Self {
            base_url: base_url.to_owned(),
            downloads: Tokens(Mutex::default()),
            uploads: Tokens(Mutex::default()),
        }
    }
}

#[async_trait]
impl UploadSigner for MemorySigner {
    async fn upload_url(&self, target: &UploadTarget, end: OffsetDateTime) -> Signed<UploadUrl> {
        let expires = end.unix_timestamp();
        let token =
            self.uploads
                .issue((target.tenant_id, target.attachment_id, expires, target.size));
        Ok(upload_url(&self.base_url, target, end, &token))
    }

    fn verify_upload(&self, r: &SignedUploadRequest, now: OffsetDateTime) -> Signed<()> {
        let grant = (r.tenant_id, r.attachment_id, r.expires, r.size);
        self.uploads.check(&r.signature, grant, r.expires, now)
    }
}

#[async_trait]
impl UrlSigner for MemorySigner {
    async fn download_url(&self, target: &SignedTarget, end: OffsetDateTime) -> Signed<SignedUrl> {
        let expires = end.unix_timestamp();
        let token = self
            .downloads
            .issue((target.tenant_id, target.attachment_id, expires));
        Ok(download_url(&self.base_url, target, end, &token))
    }

    fn verify(&self, r: &SignedRequest, now: OffsetDateTime) -> Signed<()> {
        let grant = (r.tenant_id, r.attachment_id, r.expires);
        self.downloads.check(&r.signature, grant, r.expires, now)
    }
}
