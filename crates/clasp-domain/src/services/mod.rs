//! The application services every front end calls.

mod attachments;
#[cfg(test)]
mod audit_tests;
mod direct_upload;
mod downloads;
#[cfg(test)]
mod events_tests;
mod identity;
mod message_upload;
#[cfg(test)]
mod offloading_tests;
mod policy;
mod quota;
mod rejecting;
mod resumable;
#[cfg(test)]
mod resumable_tests;
#[cfg(test)]
mod scanning_tests;
mod sweep;
mod tenant_purge;

use std::sync::Arc;

pub use attachments::{AttachmentService, Lookup, MAX_LISTED, NewUpload};
pub use direct_upload::{BegunUpload, NewDirectUpload, NewMessage, ReceivedUpload};
pub use downloads::Download;
pub use identity::{IdentityService, MAX_TENANTS_LISTED};
pub use message_upload::{MAX_FILES_PER_MESSAGE, MessageFile, MessageUpload};
pub use quota::QuotaChange;
pub use resumable::{PartChecksum, Resumable};
pub use sweep::Swept;
pub use tenant_purge::PURGE_BATCH;

use crate::audit::{Actor, AuditRecord, Change, Refusal};
use crate::offload::Offload;
use crate::ports::{
    AttachmentRepository, AuditLog, BlobStore, Clock, IdentityStore, Scanner, Thumbnailer,
    UploadSigner, UrlSigner,
};
use crate::resumable::ResumableStore;
use crate::tenant::TenantId;

/// One adapter per port: what the services need to run. Cloning is cheap.
#[derive(Clone)]
pub struct Ports {
    /// Attachment metadata.
    pub attachments: Arc<dyn AttachmentRepository>,
    /// Tenants, keys, sessions.
    pub identities: Arc<dyn IdentityStore>,
    /// The bytes.
    pub blobs: Arc<dyn BlobStore>,
    /// Signed download URLs.
    pub signer: Arc<dyn UrlSigner>,
    /// Upload URLs of direct uploads (Clasp-served, or presigned by the store).
    pub upload_signer: Arc<dyn UploadSigner>,
    /// Thumbnails of images.
    pub thumbnailer: Arc<dyn Thumbnailer>,
    /// Virus scanning of every upload before it becomes `Ready`
    /// ([`crate::ports::NoScanner`] when there is none).
    pub scanner: Arc<dyn Scanner>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// The audit trail ([`crate::ports::NoAudit`] keeps none).
    pub audit: Arc<dyn AuditLog>,
    /// How far resumable uploads have got.
    pub resumable: Arc<dyn ResumableStore>,
    /// Spare cores for the hashing of large uploads
    /// ([`crate::offload::NoOffload`] keeps it on the receiving thread).
    pub offload: Arc<dyn Offload>,
}

impl Ports {
    /// Records `change` on `object` with the outcome of `result`.
    pub(crate) fn audit<T, E: Refusal>(
        &self,
        change: Change,
        actor: Actor,
        tenant: Option<TenantId>,
        object: impl Into<String>,
        result: &Result<T, E>,
    ) {
        self.audit
            .record(AuditRecord::of(change, actor, tenant, object, result));
    }
}
