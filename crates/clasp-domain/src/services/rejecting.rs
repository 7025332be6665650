//! How an upload that fails its checks is let go: scanned, quarantined or
//! discarded, its rejection announced with the change that records it.

use crate::attachment::Attachment;
use crate::error::{AttachmentError, Outcome};
use crate::events::{Cause, Event, EventKind};
use crate::ports::Verdict;
use crate::services::AttachmentService;
use crate::state::AttachmentState;

/// What an upload that fails to be stored or checked leaves behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OnFailure {
    /// Nothing: its client sent the whole body in the request that failed
    /// and hears that it failed, so nothing of it may stay visible or
    /// charged.
    Discard,
    /// Its row, still uploading and still charged, when the service failed
    /// rather than the bytes ([`AttachmentError::is_transient`]): the bytes
    /// are kept elsewhere (a resumable upload's parts), and its client may
    /// finish it by asking again. Bytes refused are discarded all the same.
    KeepIfTransient,
}

impl AttachmentService {
    /// Lets `attachment` go after `refusal` (announcing `rejected`, if its
    /// bytes were refused) as `on_failure` says, and answers the refusal.
    /// What a kept upload wrote under its blob key is never served (its row
    /// is not ready), is replaced when it is finished, and is removed with
    /// it.
    pub(super) async fn let_go(
        &self,
        attachment: &Attachment,
        refusal: AttachmentError,
        rejected: Option<&Event>,
        on_failure: OnFailure,
    ) -> AttachmentError {
        if on_failure == OnFailure::Discard || !refusal.is_transient() {
            self.discard(attachment, rejected).await;
        }
        refusal
    }

    /// The scanner's verdict on the stored bytes `key`: `None` when clean (or
    /// when no scanner is configured), the signature found when infected, and
    /// [`AttachmentError::ScanFailed`] when there is no verdict — callers fail
    /// closed on it: nothing unscanned becomes `Ready`.
    pub(super) async fn scan_key(&self, key: &str) -> Outcome<Option<String>> {
        let scanner = &self.ports.scanner;
        if !scanner.scans() {
            return Ok(None);
        }
        let reader = self
            .ports
            .blobs
            .get(key)
            .await
            .map_err(|e| AttachmentError::ScanFailed(e.to_string()))?;
        match scanner.scan(reader).await {
            Ok(Verdict::Clean) => Ok(None),
            Ok(Verdict::Infected { signature }) => Ok(Some(signature)),
            Err(e) => Err(AttachmentError::ScanFailed(e.to_string())),
        }
    }

    /// Fails the `Verifying` `attachment` whose bytes carry `signature`: it
    /// becomes `VerificationFailed` with the reason recorded (its row stays, so
    /// the reason can be shown) and its bytes at `key` are deleted. Answers the
    /// error to return: [`AttachmentError::Infected`], or `NotFound` when the
    /// attachment was deleted meanwhile.
    pub(super) async fn quarantine(
        &self,
        attachment: &mut Attachment,
        key: &str,
        signature: String,
        cause: &Cause,
    ) -> AttachmentError {
        let now = self.ports.clock.now();
        let failed = attachment
            .transition(AttachmentState::VerificationFailed, now)
            .map_err(AttachmentError::from);
        attachment.upload_expires_at = None;
        attachment.failure_reason = Some(format!("infected: {signature}"));
        let rejected = Event::about(EventKind::AttachmentRejected, attachment, cause, now);
        let kept = match failed {
            Ok(()) => {
                self.ports
                    .attachments
                    .update(attachment, Some(&rejected))
                    .await
            }
            Err(e) => {
                self.delete_bytes(key).await;
                return e;
            }
        };
        self.delete_bytes(key).await;
        match kept {
            Ok(true) => AttachmentError::Infected {
                signature,
                number: attachment.number,
            },
            Ok(false) => AttachmentError::NotFound,
            Err(e) => e.into(),
        }
    }

    /// Forgets a refused upload: its bytes (if any) and its row. The row goes
    /// only once the bytes are gone: a row left behind (invisible, never
    /// `Ready`, with its upload deadline) is how the sweeper finds bytes a
    /// failing store would not delete now. `rejected`, when the upload was
    /// refused for its bytes, is announced with the row's removal.
    pub(super) async fn discard(&self, attachment: &Attachment, rejected: Option<&Event>) {
        if self
            .ports
            .blobs
            .delete(&attachment.blob_key())
            .await
            .is_ok()
        {
            // Best effort: a row left behind stays invisible and is swept.
            let _ = self
                .ports
                .attachments
                .delete(attachment.tenant_id, attachment.id, rejected)
                .await;
        }
    }

    /// The `attachment.rejected` of `attachment`, refused for `refusal`.
    pub(super) fn rejection(
        &self,
        attachment: &Attachment,
        refusal: &AttachmentError,
        cause: &Cause,
    ) -> Event {
        let mut refused = attachment.clone();
        refused.failure_reason = Some(refusal.to_string());
        let now = self.ports.clock.now();
        Event::about(EventKind::AttachmentRejected, &refused, cause, now)
    }

    pub(super) async fn delete_bytes(&self, key: &str) {
        // Best effort: orphaned bytes are unreachable (no Ready row points at them).
        let _ = self.ports.blobs.delete(key).await;
    }
}
