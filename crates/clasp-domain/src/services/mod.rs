//! The application services every front end calls.

mod attachments;
mod identity;

use std::sync::Arc;

pub use attachments::{AttachmentService, Download, Lookup, NewUpload};
pub use identity::IdentityService;

use crate::ports::{AttachmentRepository, BlobStore, Clock, IdentityStore, UrlSigner};

/// One adapter per port: what the services need to run. Cloning is cheap.
#[derive(Clone)]
pub struct Ports {
    /// Attachment metadata.
    pub attachments: Arc<dyn AttachmentRepository>,
    /// Tenants, keys, sessions.
    pub identities: Arc<dyn IdentityStore>,
    /// The bytes.
    pub blobs: Arc<dyn BlobStore>,
    /// Signed URLs.
    pub signer: Arc<dyn UrlSigner>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}
