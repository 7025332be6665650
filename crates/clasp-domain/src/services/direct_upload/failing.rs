//! How a direct upload that fails at confirm is let go: failed, its bytes
//! deleted and its rejection announced with the change that records it.

use crate::attachment::Attachment;
use crate::error::{AttachmentError, Outcome};
use crate::events::{Cause, Event, EventKind};
use crate::services::AttachmentService;
use crate::state::AttachmentState;
use crate::validation::ValidationError;

impl AttachmentService {
    /// Records a failed verification (`to` is `VerificationFailed` or
    /// `ChecksumMismatch`), deletes every byte of the attachment, and answers
    /// `refusal` — unless the attachment moved on meanwhile: a concurrent confirm
    /// that made it `Ready` wins (its verified bytes stay, and it is answered),
    /// and one that failed it already is not overwritten.
    /// Fails `attachment` at confirm: its bytes broke `refusal`.
    pub(super) async fn reject(
        &self,
        attachment: Attachment,
        refusal: ValidationError,
        cause: &Cause,
    ) -> Outcome<Attachment> {
        let failed = AttachmentError::VerificationFailed(refusal);
        self.fail(
            attachment,
            AttachmentState::VerificationFailed,
            failed,
            cause,
        )
        .await
    }

    /// Fails `attachment` at confirm: `actual` bytes arrived, not the size it declared.
    pub(super) async fn size_mismatch(
        &self,
        attachment: Attachment,
        actual: u64,
        cause: &Cause,
    ) -> Outcome<Attachment> {
        let declared = attachment.size_bytes;
        let refusal = ValidationError::SizeMismatch { declared, actual };
        self.reject(attachment, refusal, cause).await
    }

    pub(super) async fn fail(
        &self,
        mut attachment: Attachment,
        to: AttachmentState,
        refusal: AttachmentError,
        cause: &Cause,
    ) -> Outcome<Attachment> {
        match self
            .ports
            .attachments
            .get(attachment.tenant_id, attachment.id)
            .await?
        {
            None => return Err(AttachmentError::NotFound),
            Some(current) if current.is_ready() => return Ok(current),
            Some(current) if current.state != AttachmentState::Pending => {
                return Err(AttachmentError::NotPending(current.state));
            }
            Some(_) => {}
        }
        // The deadline stays, as for a confirmed upload (the staged object
        // is deleted a last time once the upload URL has expired).
        attachment.failure_reason = Some(match &refusal {
            AttachmentError::Infected { signature, .. } => format!("infected: {signature}"),
            other => other.to_string(),
        });
        let now = self.ports.clock.now();
        attachment.transition(to, now)?;
        let rejected = Event::about(EventKind::AttachmentRejected, &attachment, cause, now);
        let kept = self
            .ports
            .attachments
            .update(&attachment, Some(&rejected))
            .await?;
        self.delete_bytes(&attachment.upload_key()).await;
        self.delete_bytes(&attachment.blob_key()).await;
        Err(if kept {
            refusal
        } else {
            AttachmentError::NotFound
        })
    }
}
