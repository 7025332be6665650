//! Reading attachments back: signed URLs for a client to fetch, redirects to
//! them, and the bytes themselves, whole or a range.

use std::ops::Range;
use std::sync::Arc;

use time::Duration;

use super::attachments::{AttachmentService, Lookup, require};
use crate::attachment::Attachment;
use crate::credentials::{Principal, Scope};
use crate::error::{AttachmentError, Outcome};
use crate::ports::{BlobReader, BlobStore, SignedRequest, SignedTarget, SignedUrl};

/// An attachment opened for download.
pub struct Download {
    /// Its metadata (for headers).
    pub attachment: Attachment,
    /// Its bytes.
    pub body: BlobReader,
    /// The store and the object the body comes from, for a ranged read
    /// instead of the whole body.
    blobs: Arc<dyn BlobStore>,
    key: String,
}

impl Download {
    /// The object `key` of `blobs`, opened as `body`, served as `attachment`.
    pub(crate) fn new(
        attachment: Attachment,
        body: BlobReader,
        blobs: Arc<dyn BlobStore>,
        key: String,
    ) -> Self {
        Self {
            attachment,
            body,
            blobs,
            key,
        }
    }

    /// Just the bytes `range` (end exclusive, within the attachment's size)
    /// instead of the whole body: a ranged read of the store, so serving the
    /// last second of a video reads only that.
    pub async fn range(self, range: Range<u64>) -> Outcome<BlobReader> {
        Ok(self.blobs.get_range(&self.key, range).await?)
    }
}

impl AttachmentService {
    /// A URL that downloads the attachment without other credentials for `ttl`.
    pub async fn download_url(
        &self,
        principal: &Principal,
        lookup: &Lookup,
        ttl: Duration,
    ) -> Outcome<(Attachment, SignedUrl)> {
        require(principal, Scope::Read)?;
        let attachment = self.find_ready(principal, lookup).await?;
        let url = self.sign(&attachment, ttl).await?;
        Ok((attachment, url))
    }

    /// A download URL of `attachment`, valid for `ttl`.
    async fn sign(&self, attachment: &Attachment, ttl: Duration) -> Outcome<SignedUrl> {
        let target = SignedTarget {
            tenant_id: attachment.tenant_id,
            attachment_id: attachment.id,
            blob_key: attachment.blob_key(),
            filename: attachment.filename.clone(),
            content_type: attachment.content_type.clone(),
        };
        Ok(self
            .ports
            .signer
            .download_url(&target, self.ports.clock.now() + ttl)
            .await?)
    }

    /// Like [`AttachmentService::download_url`], for a client about to be
    /// redirected to the URL: the store is asked first whether it holds the
    /// bytes, so an unreachable store (or missing bytes) is a `Storage` error
    /// here rather than a broken URL later.
    pub async fn download_redirect(
        &self,
        principal: &Principal,
        lookup: &Lookup,
        ttl: Duration,
    ) -> Outcome<SignedUrl> {
        require(principal, Scope::Read)?;
        let attachment = self.find_ready(principal, lookup).await?;
        if self
            .ports
            .blobs
            .head(&attachment.blob_key())
            .await?
            .is_none()
        {
            return Err(AttachmentError::Storage(format!(
                "the bytes of ready attachment {} are missing",
                attachment.id
            )));
        }
        self.sign(&attachment, ttl).await
    }

    /// Opens a ready attachment's bytes for streaming.
    pub async fn open(&self, principal: &Principal, lookup: &Lookup) -> Outcome<Download> {
        require(principal, Scope::Read)?;
        let attachment = self.find_ready(principal, lookup).await?;
        self.open_bytes(attachment).await
    }

    /// Opens the bytes a Clasp-signed URL grants, after checking its signature
    /// and expiry. A URL outlives nothing: once the attachment is deleted, it fails.
    pub async fn open_signed(&self, request: &SignedRequest) -> Outcome<Download> {
        self.ports.signer.verify(request, self.ports.clock.now())?;
        let attachment = self
            .ports
            .attachments
            .get(request.tenant_id, request.attachment_id)
            .await?
            .filter(Attachment::is_ready)
            .ok_or(AttachmentError::NotFound)?;
        self.open_bytes(attachment).await
    }

    pub(super) async fn open_bytes(&self, attachment: Attachment) -> Outcome<Download> {
        let key = attachment.blob_key();
        let body = self.ports.blobs.get(&key).await?;
        Ok(Download::new(
            attachment,
            body,
            self.ports.blobs.clone(),
            key,
        ))
    }
}
