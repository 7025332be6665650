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
    issued: Mutex<HashMap<String, (TenantId, AttachmentId, i64)>>,
    uploads: Mutex<HashMap<String, (TenantId, AttachmentId, i64, u64)>>,
}

impl MemorySigner {
    /// A signer whose URLs start with `base_url` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base_url: &str) -> Self {
        Self {
            base_url: base_url.to_owned(),
            issued: Mutex::default(),
            uploads: Mutex::default(),
        }
    }
}

#[async_trait]
impl UploadSigner for MemorySigner {
    async fn upload_url(
        &self,
        target: &UploadTarget,
        expires_at: OffsetDateTime,
    ) -> Signed<UploadUrl> {
        let token = generate_session_token();
        let expires = expires_at.unix_timestamp();
        lock(&self.uploads).insert(
            token.clone(),
            (target.tenant_id, target.attachment_id, expires, target.size),
        );
        Ok(upload_url(&self.base_url, target, expires_at, &token))
    }

    fn verify_upload(&self, request: &SignedUploadRequest, now: OffsetDateTime) -> Signed<()> {
        let uploads = lock(&self.uploads);
        let &issued = uploads
            .get(&request.signature)
            .ok_or(SignatureError::Invalid)?;
        if issued
            != (
                request.tenant_id,
                request.attachment_id,
                request.expires,
                request.size,
            )
        {
            return Err(SignatureError::Invalid);
        }
        if now.unix_timestamp() >= request.expires {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

#[async_trait]
impl UrlSigner for MemorySigner {
    async fn download_url(
        &self,
        target: &SignedTarget,
        expires_at: OffsetDateTime,
    ) -> Signed<SignedUrl> {
        let token = generate_session_token();
        let expires = expires_at.unix_timestamp();
        lock(&self.issued).insert(
            token.clone(),
            (target.tenant_id, target.attachment_id, expires),
        );
        Ok(download_url(&self.base_url, target, expires_at, &token))
    }

    fn verify(&self, request: &SignedRequest, now: OffsetDateTime) -> Signed<()> {
        let issued = lock(&self.issued);
        let &(tenant, attachment, expires) = issued
            .get(&request.signature)
            .ok_or(SignatureError::Invalid)?;
        if (tenant, attachment, expires)
            != (request.tenant_id, request.attachment_id, request.expires)
        {
            return Err(SignatureError::Invalid);
        }
        if now.unix_timestamp() >= expires {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}
