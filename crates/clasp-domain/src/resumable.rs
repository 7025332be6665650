//! Resumable uploads (the tus protocol's model): a file announced with its
//! length, then sent in parts, each a request of its own, on any instance,
//! across restarts. How far one has got lives in the metadata store
//! ([`ResumableStore`]); each part's bytes are an object of the blob store
//! ([`part_key`]), so nothing of an upload in progress is held in memory.
//! When the last byte arrives the parts are read once, in order, through the
//! same checks as any upload (type and magic, size, SHA-256, scan, quota).

use async_trait::async_trait;

use crate::attachment::{Attachment, AttachmentId};
use crate::ports::Stored;
use crate::tenant::TenantId;

/// How far a resumable upload has got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The attachment's tenant.
    pub tenant_id: TenantId,
    /// The attachment being uploaded.
    pub attachment_id: AttachmentId,
    /// The length the client announced (the tus `Upload-Length`).
    pub length: u64,
    /// Bytes stored so far (the tus `Upload-Offset`).
    pub received: u64,
    /// Parts stored so far, numbered from 0.
    pub parts: u32,
}

/// Where part `index` of the resumable upload of `attachment` is stored:
/// beside its direct-upload key, under `uploads/` (which a bucket's lifecycle
/// rule may expire, README "S3"), never under the tenant's own prefix.
pub fn part_key(attachment: &Attachment, index: u32) -> String {
    format!("{}.part-{index:05}", attachment.upload_key())
}

/// The progress of resumable uploads, durably.
///
/// Contract: `advance` is compare-and-set, so of two requests racing to store
/// the same part only one moves the upload on; every read is scoped by tenant.
#[async_trait]
pub trait ResumableStore: Send + Sync {
    /// Records a new resumable upload (nothing received yet).
    async fn begin_resumable(&self, progress: &Progress) -> Stored<()>;
    /// How far the upload of attachment `id` of `tenant` has got, if it is one.
    async fn progress(&self, tenant: TenantId, id: AttachmentId) -> Stored<Option<Progress>>;
    /// Moves the upload on by one part, to `received` bytes, only if it is
    /// still where `from` says (received and parts); whether it did.
    async fn advance(&self, from: &Progress, received: u64) -> Stored<bool>;
    /// Forgets the upload's progress (it finished, or is being removed).
    async fn forget_resumable(&self, tenant: TenantId, id: AttachmentId) -> Stored<()>;
}
