//! Resumable uploads (see [`crate::resumable`]): announced with their length,
//! sent in parts, finished through the same checks as any upload.

use bytes::Bytes;
use futures::StreamExt;
use sha2::Digest;

use crate::attachment::{Attachment, AttachmentId};
use crate::audit::Change;
use crate::credentials::{Principal, Scope};
use crate::error::{AttachmentError, Outcome};
use crate::events::Cause;
use crate::inspect::{BodyError, BodyStream, Inspector};
use crate::ports::BlobError;
use crate::resumable::{MAX_ATTEMPTS, Progress, attempt_key};
use crate::services::attachments::require;
use crate::services::rejecting::OnFailure;
use crate::services::{AttachmentService, Lookup, NewUpload};
use crate::state::AttachmentState;
use crate::validation::ValidationError;

/// A checksum a client sent with one part (the tus `Upload-Checksum`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartChecksum {
    /// SHA-1 of the part's bytes.
    Sha1(Vec<u8>),
    /// SHA-256 of the part's bytes.
    Sha256(Vec<u8>),
}

/// Where a resumable upload stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Resumable {
    /// Its attachment (`Ready` once finished).
    pub attachment: Attachment,
    /// The length announced.
    pub length: u64,
    /// Bytes stored so far (the length once finished).
    pub offset: u64,
}

impl Resumable {
    /// Whether every byte arrived and the attachment is `Ready`.
    pub fn is_finished(&self) -> bool {
        self.attachment.is_ready()
    }
}

impl AttachmentService {
    /// Announces a resumable upload of `length` bytes as `upload` describes
    /// it: refused now for its type or its size (before any byte is sent),
    /// and charged to the tenant's quota for its whole length.
    pub async fn begin_resumable(
        &self,
        principal: &Principal,
        upload: NewUpload,
        length: u64,
    ) -> Outcome<Resumable> {
        require(principal, Scope::Write)?;
        if !principal.uploads_into(upload.subject.room_id.as_deref()) {
            return Err(AttachmentError::OutOfReach(
                "this session may not post into that room",
            ));
        }
        let this = self.scoped(principal.tenant_id).await?;
        let mut attachment = this.draft(principal, upload)?;
        this.policy.admits(&attachment.content_type, length)?;
        attachment.transition(AttachmentState::Uploading, attachment.created_at)?;
        attachment.upload_expires_at = Some(attachment.created_at + this.policy.upload_url_ttl);
        attachment.size_bytes = length;
        attachment.number = this.insert_charged(&attachment).await?;
        let progress = Progress {
            tenant_id: attachment.tenant_id,
            attachment_id: attachment.id,
            length,
            received: 0,
            parts: 0,
            attempts: 0,
            stored_by: Vec::new(),
        };
        if let Err(e) = self.ports.resumable.begin_resumable(&progress).await {
            let _ = self
                .ports
                .attachments
                .delete(attachment.tenant_id, attachment.id, None)
                .await;
            return Err(e.into());
        }
        Ok(Resumable {
            attachment,
            length,
            offset: 0,
        })
    }

    /// Where the resumable upload `id` stands: not found in another tenant,
    /// for another credential while unfinished, out of a session's reach, or
    /// once it failed; expired past its deadline.
    pub async fn resumable(&self, principal: &Principal, id: AttachmentId) -> Outcome<Resumable> {
        require(principal, Scope::Read)?;
        Ok(self.progress_of(principal, id).await?.0)
    }

    /// A part of no bytes for the resumable upload `id` at `offset`: stores
    /// nothing (an empty first part has no magic to check), but is held to
    /// the same offset as any part. Where the upload stands.
    pub async fn append_nothing(
        &self,
        principal: &Principal,
        id: AttachmentId,
        offset: u64,
    ) -> Outcome<Resumable> {
        require(principal, Scope::Write)?;
        let standing = self.progress_of(principal, id).await?.0;
        if standing.offset != offset {
            return Err(AttachmentError::OffsetMismatch {
                expected: standing.offset,
            });
        }
        Ok(standing)
    }

    async fn progress_of(
        &self,
        principal: &Principal,
        id: AttachmentId,
    ) -> Outcome<(Resumable, Option<Progress>)> {
        let attachment = self.find(principal, &Lookup::id(id)).await?;
        if !principal.reads(&attachment) {
            return Err(AttachmentError::NotFound);
        }
        if attachment.is_ready() {
            let length = attachment.size_bytes;
            let done = Resumable {
                attachment,
                length,
                offset: length,
            };
            return Ok((done, None));
        }
        // An unfinished upload is its uploader's: another credential of the
        // tenant cannot write into it, nor learn how far it got.
        if attachment.uploaded_by != principal.actor() {
            return Err(AttachmentError::NotFound);
        }
        let progress = self
            .ports
            .resumable
            .progress(principal.tenant_id, id)
            .await?
            .filter(|_| attachment.state == AttachmentState::Uploading)
            .ok_or(AttachmentError::NotFound)?;
        if attachment
            .upload_expires_at
            .is_some_and(|at| at <= self.ports.clock.now())
        {
            return Err(AttachmentError::UploadExpired);
        }
        // Its last part is in and it is not ready: the request that stored
        // that part is finishing it (or died doing so). Said as it is, not as
        // an offset at the length, which a client would take for done.
        if progress.received >= progress.length {
            return Err(AttachmentError::Finishing);
        }
        let resumable = Resumable {
            length: progress.length,
            offset: progress.received,
            attachment,
        };
        Ok((resumable, Some(progress)))
    }

    /// Stores the part `body` of the resumable upload `id`, which must start
    /// at `offset` (where the upload is) and not pass its length; checked
    /// against `checksum` if the client sent one. The first part's first
    /// bytes must be the declared type's magic (or the whole upload is
    /// refused and nothing of it kept). With the last byte the upload is
    /// finished as any upload is; the answer says where it now stands.
    ///
    /// The part is written to an object of this request's own
    /// ([`attempt_key`]), so a request racing this one for the same offset
    /// (a client retrying one it believes lost) never overwrites or deletes
    /// these bytes, nor this one its: whichever moves the upload on first
    /// keeps its part, the other deletes its own and is told the new offset.
    pub async fn append(
        &self,
        principal: &Principal,
        id: AttachmentId,
        offset: u64,
        body: BodyStream,
        checksum: Option<PartChecksum>,
    ) -> Outcome<Resumable> {
        require(principal, Scope::Write)?;
        let (mut standing, progress) = self.progress_of(principal, id).await?;
        let Some(progress) = progress.filter(|p| p.received == offset) else {
            return Err(AttachmentError::OffsetMismatch {
                expected: standing.offset,
            });
        };
        if progress.attempts >= MAX_ATTEMPTS {
            return Err(ValidationError::TooManyParts {
                limit: MAX_ATTEMPTS,
            }
            .into());
        }
        let attempt = self
            .ports
            .resumable
            .begin_attempt(principal.tenant_id, id)
            .await?
            .ok_or(AttachmentError::NotFound)?;
        let cause = Cause::from(principal);
        let key = attempt_key(&standing.attachment, attempt);
        let size = match self
            .store_part(
                &standing.attachment,
                &progress,
                &key,
                body,
                checksum,
                &cause,
            )
            .await
        {
            Ok(size) => size,
            Err(e) => {
                self.delete_bytes(&key).await;
                return Err(e);
            }
        };
        let received = offset + size;
        // A failed compare-and-set may still have been applied, so only a
        // refused one deletes the part; the sweeper finds one left behind.
        if !self
            .ports
            .resumable
            .advance(&progress, received, attempt)
            .await?
        {
            self.delete_bytes(&key).await;
            let now = self.progress_of(principal, id).await?.0;
            return Err(AttachmentError::OffsetMismatch {
                expected: now.offset,
            });
        }
        standing.offset = received;
        if received < progress.length {
            return Ok(standing);
        }
        let mut stored = progress.clone();
        stored.received = received;
        stored.parts += 1;
        stored.stored_by.push(attempt);
        let done = self
            .finish(standing.attachment, &progress, &stored, &cause)
            .await;
        self.ports.audit(
            Change::Upload,
            principal.into(),
            Some(principal.tenant_id),
            id.to_string(),
            &done,
        );
        let attachment = done?;
        Ok(Resumable {
            length: progress.length,
            offset: progress.length,
            attachment,
        })
    }

    /// Streams `body` into `key` as the part at `progress`, through the
    /// checks of any upload and the client's `checksum`: how many bytes it
    /// stored. A part whose bytes are refused (not the declared type) ends
    /// the whole upload; a part too large or broken off ends only itself.
    async fn store_part(
        &self,
        attachment: &Attachment,
        progress: &Progress,
        key: &str,
        body: BodyStream,
        checksum: Option<PartChecksum>,
        cause: &Cause,
    ) -> Outcome<u64> {
        let left = progress.length - progress.received;
        let mut inspector = Inspector::new(body, left, &attachment.content_type).unhashed();
        if progress.received > 0 {
            inspector = inspector.without_magic();
        }
        let mut digest = Digesting::new(inspector, checksum.as_ref());
        let stored = self.ports.blobs.put(key, &mut digest).await;
        let failure = digest.inner.failure().cloned();
        let size = match (stored, failure) {
            (Ok(size), None) => size,
            (_, Some(BodyError::Rejected(refusal @ ValidationError::TooLarge { .. }))) => {
                return Err(refusal.into());
            }
            (_, Some(BodyError::Rejected(refusal))) => {
                let refusal = AttachmentError::from(refusal);
                let rejected = self.rejection(attachment, &refusal, cause);
                self.remove_parts(attachment, progress).await;
                self.discard(attachment, Some(&rejected)).await;
                let _ = self
                    .ports
                    .resumable
                    .forget_resumable(attachment.tenant_id, attachment.id)
                    .await;
                return Err(refusal);
            }
            (Err(e), _) => return Err(e.into()),
            (Ok(_), Some(interrupted)) => return Err(BlobError::Body(interrupted).into()),
        };
        match digest.mismatch(checksum.as_ref()) {
            Some(mismatch) => Err(mismatch),
            None => Ok(size),
        }
    }

    /// Reads the parts of a fully received upload (at `progress`, one part
    /// past `before`) once, in order, through the checks of any upload into
    /// its blob key, and settles it; then its parts go. When the service
    /// fails on the way (a store, the scanner, the database:
    /// [`AttachmentError::is_transient`]) the upload is kept and its last
    /// part taken back, so that a client retrying, which first asks where
    /// the upload stands, sends that part again and finishes it; any other
    /// failure ends the upload.
    async fn finish(
        &self,
        attachment: Attachment,
        before: &Progress,
        progress: &Progress,
        cause: &Cause,
    ) -> Outcome<Attachment> {
        let done = self.settle_parts(attachment.clone(), progress, cause).await;
        if done.as_ref().is_err_and(AttachmentError::is_transient) {
            self.take_back_last_part(&attachment, before, progress)
                .await;
            return done;
        }
        // attempts begun since `progress` was read leave objects too
        let latest = self
            .ports
            .resumable
            .progress(attachment.tenant_id, attachment.id)
            .await
            .ok()
            .flatten();
        self.remove_parts(&attachment, latest.as_ref().unwrap_or(progress))
            .await;
        let _ = self
            .ports
            .resumable
            .forget_resumable(attachment.tenant_id, attachment.id)
            .await;
        done
    }

    /// The stored parts at `progress`, read in order into the attachment's
    /// blob key and settled, the attachment kept through a failure of the
    /// service's own.
    async fn settle_parts(
        &self,
        attachment: Attachment,
        progress: &Progress,
        cause: &Cause,
    ) -> Outcome<Attachment> {
        let this = self.scoped(attachment.tenant_id).await?;
        let blobs = self.ports.blobs.clone();
        let keys = progress.part_keys(&attachment);
        let body: BodyStream = Box::pin(
            futures::stream::iter(keys)
                .then(move |key| {
                    let blobs = blobs.clone();
                    async move { blobs.get(&key).await }
                })
                .flat_map(|opened| match opened {
                    Ok(reader) => reader.stream,
                    Err(e) => Box::pin(futures::stream::once(async move { Err(e) })),
                })
                .map(|chunk: Result<Bytes, BlobError>| {
                    chunk.map_err(|e| BodyError::Unavailable(format!("reading a stored part: {e}")))
                }),
        );
        let keep = OnFailure::KeepIfTransient;
        let inspected = this.receive_bytes(&attachment, body, cause, keep).await?;
        this.settle(attachment, &inspected, cause, keep).await
    }

    /// Moves the upload at `progress` back to `before`, and deletes the
    /// object of the part that takes away (its client sends it again). An
    /// upload that cannot be moved back (the database is what failed) keeps
    /// every part; unless its client finishes it, the sweeper removes it at
    /// its deadline.
    async fn take_back_last_part(
        &self,
        attachment: &Attachment,
        before: &Progress,
        progress: &Progress,
    ) {
        let Some(&last) = progress.stored_by.last() else {
            return;
        };
        let resumable = &self.ports.resumable;
        if let Ok(true) = resumable.take_back(before, progress.received).await {
            self.delete_bytes(&attempt_key(attachment, last)).await;
        }
    }

    /// Ends the resumable upload `id` before it finished (the tus
    /// termination): its parts and its row go.
    pub async fn terminate(&self, principal: &Principal, id: AttachmentId) -> Outcome<()> {
        require(principal, Scope::Write)?;
        let (standing, progress) = self.progress_of(principal, id).await?;
        let Some(progress) = progress else {
            return Err(AttachmentError::NotPending(standing.attachment.state));
        };
        let attachment = &standing.attachment;
        self.remove_parts(attachment, &progress).await;
        self.ports
            .attachments
            .delete(attachment.tenant_id, id, None)
            .await?;
        self.ports
            .resumable
            .forget_resumable(attachment.tenant_id, id)
            .await?;
        Ok(())
    }

    /// Deletes the stored parts of a resumable upload, if it is one, and
    /// forgets its progress (so an abandoned one leaves nothing when swept).
    pub(super) async fn remove_resumable(&self, attachment: &Attachment) -> Outcome<()> {
        let progress = self
            .ports
            .resumable
            .progress(attachment.tenant_id, attachment.id)
            .await?;
        if let Some(progress) = progress {
            for key in progress.written_keys(attachment) {
                self.ports.blobs.delete(&key).await?;
            }
            self.ports
                .resumable
                .forget_resumable(attachment.tenant_id, attachment.id)
                .await?;
        }
        Ok(())
    }

    /// Deletes every object the upload of `attachment` may have written, as
    /// far as `progress` knows, best effort (the sweeper deletes what is left
    /// of an upload that is not finished).
    async fn remove_parts(&self, attachment: &Attachment, progress: &Progress) {
        for key in progress.written_keys(attachment) {
            self.delete_bytes(&key).await;
        }
    }
}

/// A part's body, hashed as it streams for the checksum its client sent.
struct Digesting {
    inner: Inspector,
    sha1: Option<sha1::Sha1>,
    sha256: Option<sha2::Sha256>,
}

impl Digesting {
    fn new(inner: Inspector, checksum: Option<&PartChecksum>) -> Self {
        Self {
            inner,
            sha1: matches!(checksum, Some(PartChecksum::Sha1(_))).then(sha1::Sha1::new),
            sha256: matches!(checksum, Some(PartChecksum::Sha256(_))).then(sha2::Sha256::new),
        }
    }

    /// The refusal of a part whose bytes are not what `checksum` says.
    fn mismatch(self, checksum: Option<&PartChecksum>) -> Option<AttachmentError> {
        let (declared, actual) = match (checksum?, self.sha1, self.sha256) {
            (PartChecksum::Sha1(want), Some(h), _) => (want.clone(), h.finalize().to_vec()),
            (PartChecksum::Sha256(want), _, Some(h)) => (want.clone(), h.finalize().to_vec()),
            _ => return None,
        };
        (declared != actual).then(|| AttachmentError::ChecksumMismatch {
            declared: hex::encode(declared),
            actual: hex::encode(actual),
        })
    }
}

impl futures::Stream for Digesting {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let polled = self.inner.poll_next_unpin(cx);
        if let std::task::Poll::Ready(Some(Ok(chunk))) = &polled {
            let chunk = chunk.clone();
            if let Some(h) = &mut self.sha1 {
                h.update(&chunk);
            }
            if let Some(h) = &mut self.sha256 {
                h.update(&chunk);
            }
        }
        polled
    }
}
