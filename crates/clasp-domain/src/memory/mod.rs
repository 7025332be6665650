//! In-memory adapters of every port: for embedding without infrastructure, for
//! examples, and for tests of the services and of HTTP front ends. They keep
//! everything in process memory and lose it on exit.

use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::Bytes;
use time::OffsetDateTime;

use crate::ports::{Clock, NoScanner, ThumbnailError, Thumbnailer};
use crate::services::Ports;

mod attachments;
mod audit;
mod blobs;
mod faults;
mod identities;
mod offload;
mod outbox;
mod resumable;
mod scanner;
mod signer;

pub use attachments::MemoryAttachments;
pub use audit::MemoryAudit;
pub use blobs::MemoryBlobs;
pub use faults::{Fault, Faults};
pub use identities::MemoryIdentities;
pub use offload::ThreadOffload;
pub use outbox::MemoryOutbox;
pub use resumable::MemoryResumable;
pub use scanner::MemoryScanner;
pub use signer::MemorySigner;

/// Locks a mutex, recovering the data if another thread panicked while holding it
/// (every critical section here leaves the maps consistent).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A thumbnailer that makes none: the in-memory ports carry no image codecs.
/// Every image is `Unsupported`, so attachments simply have no thumbnail.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoThumbnails;

#[async_trait]
impl Thumbnailer for NoThumbnails {
    async fn thumbnail(&self, _image: Bytes, content_type: &str) -> Result<Bytes, ThumbnailError> {
        Err(ThumbnailError::Unsupported(content_type.to_owned()))
    }
}

/// A clock that stands still until moved.
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// A clock reading `at`.
    pub fn new(at: OffsetDateTime) -> Self {
        Self(Mutex::new(at))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: time::Duration) {
        *lock(&self.0) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *lock(&self.0)
    }
}

/// Every port backed by memory, plus handles on the adapters tests look into.
pub struct MemoryPorts {
    /// The ports, ready for the services.
    pub ports: Ports,
    /// The blob store, to count objects.
    pub blobs: Arc<MemoryBlobs>,
    /// Where the blob store and the attachment store fail, as a test arms it.
    pub faults: Arc<Faults>,
    /// The audit trail, to read what the services recorded.
    pub audit: Arc<MemoryAudit>,
    /// The events the stores recorded with their changes.
    pub outbox: Arc<MemoryOutbox>,
    /// Where large uploads are hashed, to count how many were.
    pub offload: Arc<ThreadOffload>,
}

impl MemoryPorts {
    /// In-memory ports with the system clock and signed URLs under `base_url`.
    pub fn new(base_url: &str) -> Self {
        Self::with_clock(base_url, Arc::new(crate::ports::SystemClock))
    }

    /// In-memory ports with the given clock.
    pub fn with_clock(base_url: &str, clock: Arc<dyn Clock>) -> Self {
        let faults = Arc::new(Faults::default());
        let blobs = Arc::new(MemoryBlobs::with_faults(faults.clone()));
        let signer = Arc::new(MemorySigner::new(base_url));
        let audit = Arc::new(MemoryAudit::default());
        let outbox = Arc::new(MemoryOutbox::default());
        let offload = Arc::new(ThreadOffload::default());
        let ports = Ports {
            attachments: Arc::new(MemoryAttachments::with_faults(
                faults.clone(),
                outbox.clone(),
            )),
            identities: Arc::new(MemoryIdentities::with_outbox(outbox.clone())),
            blobs: blobs.clone(),
            signer: signer.clone(),
            upload_signer: signer,
            thumbnailer: Arc::new(NoThumbnails),
            scanner: Arc::new(NoScanner),
            clock,
            audit: audit.clone(),
            resumable: Arc::new(MemoryResumable::default()),
            offload: offload.clone(),
        };
        Self {
            ports,
            blobs,
            faults,
            audit,
            outbox,
            offload,
        }
    }
}
