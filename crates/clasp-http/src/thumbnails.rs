//! The queue of thumbnails made after chat uploads, in the background once the
//! upload has answered. Making one reads the whole image into memory (up to
//! `max_upload_bytes`) before it is decoded, so a turn is taken *before* the
//! image is read: at most [`ThumbnailQueue::turns`] images are in memory for
//! thumbnails at once, however many are uploaded. Waiting costs a task of a few
//! hundred bytes; at most [`MAX_WAITING`] wait, and images beyond it get no
//! thumbnail (logged) rather than growing the queue without bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use clasp_domain::{Attachment, AttachmentService};
use tokio::sync::Semaphore;

/// Thumbnails that may wait for a turn at once.
pub const MAX_WAITING: usize = 1_000;

/// Turns to make thumbnails, shared by all workers.
#[derive(Debug)]
pub struct ThumbnailQueue {
    turns: Arc<Semaphore>,
    size: usize,
    waiting: Arc<AtomicUsize>,
}

impl ThumbnailQueue {
    /// A queue making at most `turns` thumbnails at once (at least one).
    pub fn new(turns: usize) -> Self {
        let size = turns.max(1);
        Self {
            turns: Arc::new(Semaphore::new(size)),
            size,
            waiting: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// How many thumbnails are made at once.
    pub fn turns(&self) -> usize {
        self.size
    }

    /// Makes the thumbnails of the ready ones of `created` in the background,
    /// each once it has a turn.
    pub(crate) fn enqueue(&self, attachments: &AttachmentService, created: &[Attachment]) {
        let ready: Vec<_> = created
            .iter()
            .filter(|a| a.is_ready())
            .map(|a| (a.tenant_id, a.id))
            .collect();
        let count = ready.len();
        if self.waiting.fetch_add(count, Ordering::SeqCst) + count > MAX_WAITING {
            self.waiting.fetch_sub(count, Ordering::SeqCst);
            tracing::warn!(count, "thumbnail queue full: these images get no thumbnail");
            return;
        }
        let (turns, waiting) = (Arc::clone(&self.turns), Arc::clone(&self.waiting));
        let attachments = attachments.clone();
        actix_web::rt::spawn(async move {
            for (tenant, id) in ready {
                let turn = turns.acquire().await;
                waiting.fetch_sub(1, Ordering::SeqCst);
                if turn.is_err() {
                    continue;
                }
                if let Err(e) = attachments.make_thumbnail(tenant, id).await {
                    tracing::warn!(error = %e, attachment = %id, "making a thumbnail failed");
                }
            }
        });
    }
}

impl Default for ThumbnailQueue {
    /// One turn per core: decoding is CPU work.
    fn default() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, usize::from))
    }
}
