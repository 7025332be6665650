//! Removing abandoned uploads: what the background sweeper and `clasp gc`
//! run, for rows past their upload deadline (direct uploads never confirmed,
//! streamed uploads whose request died, tombstones of deleted attachments).

use time::OffsetDateTime;

use crate::attachment::{Attachment, AttachmentId};
use crate::error::{AttachmentError, Outcome};
use crate::events::{Cause, Event, EventKind};
use crate::services::AttachmentService;
use crate::state::AttachmentState;

impl AttachmentService {
    /// Removes up to `limit` abandoned uploads — `Pending` attachments whose
    /// upload URL or upload deadline has passed, `Uploading` ones whose request
    /// died (a crash included), and those an earlier sweep claimed but could not
    /// finish — and reports what it did. Only rows with a deadline are looked
    /// at, through an index, so a sweep costs what was abandoned, not what is
    /// stored. One upload that cannot be removed is reported and skipped; it
    /// never stops the sweep of the others.
    /// The background sweeper and `clasp gc` call it until it removes nothing
    /// more or looks at fewer than `limit`.
    pub async fn sweep_expired(&self, limit: usize) -> Outcome<Swept> {
        let now = self.ports.clock.now();
        let expired = self.ports.attachments.expired_uploads(now, limit).await?;
        let mut swept = Swept {
            listed: expired.len(),
            ..Swept::default()
        };
        for abandoned in expired {
            let id = abandoned.id;
            match self.sweep_one(abandoned, now).await {
                Ok(true) => swept.removed += 1,
                Ok(false) => {}
                Err(e) => swept.failed.push((id, e)),
            }
        }
        Ok(swept)
    }

    /// How many rows are past their upload deadline now, counting at most
    /// `limit`: the sweeper's backlog, read after a sweep (what it could not
    /// remove, or had no time to).
    pub async fn sweep_backlog(&self, limit: usize) -> Outcome<usize> {
        let now = self.ports.clock.now();
        Ok(self
            .ports
            .attachments
            .expired_uploads(now, limit)
            .await?
            .len())
    }

    /// Visits one row past its deadline. A kept attachment (confirmed, or
    /// failed for a reason clients read) only has its staged object deleted a
    /// last time, now that its upload URL has expired, and its deadline
    /// forgotten. A deleted attachment's tombstone, or an abandoned upload, is
    /// removed; an abandoned upload is claimed first: compare-and-set to
    /// `UploadFailed`, keeping its deadline, so that a commit racing the sweep
    /// has either won already (and the claim changes nothing) or can no longer
    /// win. Then its bytes go, then its row; if the bytes cannot be deleted, the
    /// claimed row stays for the next sweep, so no bytes are left that nothing
    /// points to. Whether it was removed.
    async fn sweep_one(&self, mut abandoned: Attachment, now: OffsetDateTime) -> Outcome<bool> {
        let (tenant, id) = (abandoned.tenant_id, abandoned.id);
        if abandoned.state.is_kept() {
            self.ports.blobs.delete(&abandoned.upload_key()).await?;
            self.ports
                .attachments
                .clear_upload_deadline(tenant, id)
                .await?;
            return Ok(false);
        }
        let claimed = matches!(
            abandoned.state,
            AttachmentState::UploadFailed | AttachmentState::Deleted
        );
        if !claimed {
            abandoned.transition(AttachmentState::UploadFailed, now)?;
            abandoned.failure_reason =
                Some("abandoned: the upload did not finish by its deadline".into());
            let event = Event::about(EventKind::UploadAbandoned, &abandoned, &Cause::SYSTEM, now);
            if !self
                .ports
                .attachments
                .update(&abandoned, Some(&event))
                .await?
            {
                return Ok(false);
            }
        }
        self.remove_bytes(&abandoned).await?;
        Ok(self.ports.attachments.delete(tenant, id, None).await?)
    }
}

/// What one sweep of abandoned uploads did.
#[derive(Debug, Default, PartialEq)]
pub struct Swept {
    /// Abandoned uploads looked at.
    pub listed: usize,
    /// Of those, removed whole: bytes and row.
    pub removed: usize,
    /// Of those, the ones whose removal failed, and why. Each stays claimed
    /// (`UploadFailed`, past its deadline) for the next sweep.
    pub failed: Vec<(AttachmentId, AttachmentError)>,
}
