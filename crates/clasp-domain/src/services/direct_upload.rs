//! Direct uploads and messages — the flow of the `workspaces` dialect:
//!
//! 1. [`AttachmentService::begin_upload`] checks what the client declares (name,
//!    type, size), records a `Pending` attachment and mints an upload URL;
//! 2. the client sends the bytes to that URL — straight to the object store when
//!    it presigns uploads, or to Clasp, which takes them in
//!    [`AttachmentService::receive_upload`];
//! 3. [`AttachmentService::confirm`] verifies what arrived and makes it `Ready`;
//! 4. [`AttachmentService::post_message`] links ready attachments to a message.
//!
//! Abandoned uploads are removed by [`AttachmentService::sweep_expired`] (`sweep.rs`).
//!
//! Uploaded bytes land under [`Attachment::upload_key`], never under the key
//! downloads read: confirm streams them through the [`Inspector`] into
//! [`Attachment::blob_key`], so what becomes downloadable is exactly what was
//! verified, whatever a client sends to its upload URL meanwhile or afterwards.
//!
//! [`Inspector`]: crate::inspect::Inspector

use futures::StreamExt;
use time::OffsetDateTime;

use crate::attachment::{Attachment, AttachmentId, Subject};
use crate::audit::Change;
use crate::credentials::{Principal, Scope};
use crate::error::{AttachmentError, LinkRefusal, Outcome};
use crate::events::{Cause, Event, EventKind};
use crate::inspect::{BodyError, BodyStream};
use crate::message::{Message, MessageId};
use crate::ports::{BlobError, SignedUploadRequest, UploadTarget, UploadUrl};
use crate::services::attachments::require;
use crate::services::{AttachmentService, Lookup};
use crate::state::AttachmentState;
use crate::validation::is_md5;

/// Longest message body accepted, in bytes of UTF-8.
pub const MAX_MESSAGE_BODY_BYTES: usize = 65_536;

/// Most attachments one message may link.
pub const MAX_MESSAGE_ATTACHMENTS: usize = 100;

/// What a client declares when it asks for an upload URL.
#[derive(Debug, Clone, Default)]
pub struct NewDirectUpload {
    /// What the attachment hangs on (the ticket, for the `workspaces` dialect).
    pub subject: Subject,
    /// The filename as the client gave it (sanitised here).
    pub filename: String,
    /// The declared media type; when absent, the filename's extension decides.
    pub content_type: Option<String>,
    /// The exact size of the file in bytes, which the upload must match.
    pub size: u64,
}

/// A direct upload begun: the `Pending` attachment and where to send its bytes.
#[derive(Debug, Clone)]
pub struct BegunUpload {
    /// The new attachment, `Pending` until confirmed.
    pub attachment: Attachment,
    /// Where and how to upload the bytes, and until when.
    pub url: UploadUrl,
}

/// Bytes taken in on a Clasp-served upload URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedUpload {
    /// The attachment they are for (still `Pending`: confirm makes it `Ready`).
    pub attachment_id: AttachmentId,
    /// How many bytes were stored.
    pub size: u64,
    /// The stored object's entity tag, which the client may quote at confirm.
    pub etag: Option<String>,
}

/// A message a client posts on a ticket.
#[derive(Debug, Clone, Default)]
pub struct NewMessage {
    /// The ticket it is posted on.
    pub ticket_id: String,
    /// Its text.
    pub body: String,
    /// Ready attachments of the same ticket to link (duplicates count once).
    pub attachment_ids: Vec<AttachmentId>,
}

impl AttachmentService {
    /// Begins a direct upload: checks the declared name, type and size before any
    /// byte exists, records a `Pending` attachment that nobody can see or
    /// download, and returns it with an upload URL valid for the policy's
    /// `upload_url_ttl` (rounded up to a whole second, as URLs carry seconds).
    /// The attachment is charged its declared size of the tenant's quota now,
    /// since its bytes may go straight to the object store: a quota that does
    /// not admit it refuses the URL ([`AttachmentError::QuotaExceeded`]).
    pub async fn begin_upload(
        &self,
        principal: &Principal,
        upload: NewDirectUpload,
    ) -> Outcome<BegunUpload> {
        require(principal, Scope::Write)?;
        let this = self.scoped(principal.tenant_id).await?;
        this.begin_scoped(principal, upload).await
    }

    /// [`AttachmentService::begin_upload`] on a service scoped to the principal's tenant.
    async fn begin_scoped(
        &self,
        principal: &Principal,
        upload: NewDirectUpload,
    ) -> Outcome<BegunUpload> {
        let (filename, content_type) = self.name_and_type(&upload.filename, upload.content_type)?;
        self.policy.check_declared_size(upload.size)?;
        let mut attachment = self.pending(principal, upload.subject, filename, content_type);
        attachment.size_bytes = upload.size;
        let expires_at = ceil_to_second(attachment.created_at + self.policy.upload_url_ttl);
        attachment.upload_expires_at = Some(expires_at);
        let target = UploadTarget {
            tenant_id: attachment.tenant_id,
            attachment_id: attachment.id,
            blob_key: attachment.upload_key(),
            size: attachment.size_bytes,
            content_type: attachment.content_type.clone(),
        };
        // Signed first: a signer failure leaves no row behind.
        let url = self
            .ports
            .upload_signer
            .upload_url(&target, expires_at)
            .await?;
        // Charged its declared size now: the bytes may go straight to the store.
        attachment.number = self.insert_charged(&attachment).await?;
        Ok(BegunUpload { attachment, url })
    }

    /// Whether `request` is a valid, unexpired upload URL: what a front end
    /// asks before it judges anything else of the request (its length).
    pub fn check_upload_url(&self, request: &SignedUploadRequest) -> Outcome<()> {
        Ok(self
            .ports
            .upload_signer
            .verify_upload(request, self.ports.clock.now())?)
    }

    /// Takes in the bytes sent to a Clasp-served upload URL, after checking its
    /// signature and expiry: the attachment must still be `Pending` and its URL
    /// unexpired, and the body may not exceed the declared size (refused while
    /// streaming) nor contradict the declared type. A refused body stores
    /// nothing; an accepted one replaces any earlier upload of the attachment.
    /// The upload must also end before the URL expires.
    pub async fn receive_upload(
        &self,
        request: &SignedUploadRequest,
        body: BodyStream,
    ) -> Outcome<ReceivedUpload> {
        self.check_upload_url(request)?;
        let attachment = self
            .ports
            .attachments
            .get(request.tenant_id, request.attachment_id)
            .await?
            .ok_or(AttachmentError::NotFound)?;
        awaiting_upload(&attachment, self.ports.clock.now())?;
        if request.size != attachment.size_bytes {
            // Clasp signed another size than it recorded: trust neither.
            return Err(crate::ports::SignatureError::Invalid.into());
        }
        let key = attachment.upload_key();
        let mut inspector = self.inspector(body, &attachment);
        let stored = self.ports.blobs.put(&key, &mut inspector).await;
        let size = match (stored, inspector.summary()) {
            (Ok(_), Some(inspected)) => inspected.size,
            (Ok(_), None) => {
                self.delete_bytes(&key).await;
                return Err(AttachmentError::Interrupted(
                    "the body did not end cleanly".into(),
                ));
            }
            (Err(e), _) => {
                return Err(inspector
                    .failure()
                    .cloned()
                    .map_or_else(|| e.into(), |f| BlobError::Body(f).into()));
            }
        };
        // The attachment may have moved on while the bytes arrived (confirmed,
        // deleted, expired and swept): then these bytes belong to nothing.
        let current = self
            .ports
            .attachments
            .get(attachment.tenant_id, attachment.id)
            .await?;
        let still_awaited = match current {
            Some(a) => awaiting_upload(&a, self.ports.clock.now()),
            None => Err(AttachmentError::NotFound),
        };
        if let Err(e) = still_awaited {
            self.delete_bytes(&key).await;
            return Err(e);
        }
        let etag = self.ports.blobs.etag(&key).await.ok().flatten();
        Ok(ReceivedUpload {
            attachment_id: attachment.id,
            size,
            etag,
        })
    }

    /// Confirms a direct upload. A `Ready` attachment is returned again
    /// (idempotent). A `Pending` one must have an unexpired upload URL and
    /// uploaded bytes (otherwise [`AttachmentError::NotUploaded`], and it stays
    /// `Pending`); it then goes through `Verifying`: when the client quotes the
    /// store's entity tag (`etag`, quotes ignored) it must be the stored object's
    /// (else `ChecksumMismatch`); the bytes stream through the [`Inspector`] into
    /// the downloadable key, and must be exactly the declared size and agree with
    /// the declared type (else `VerificationFailed`); their SHA-256 is recorded and
    /// the attachment becomes `Ready`. A failed attachment keeps its row (so the
    /// client can see why) but loses its bytes. A storage failure while checking
    /// leaves it `Pending`, so confirming again may succeed.
    ///
    /// [`Inspector`]: crate::inspect::Inspector
    pub async fn confirm(
        &self,
        principal: &Principal,
        lookup: &Lookup,
        etag: Option<&str>,
    ) -> Outcome<Attachment> {
        let done = self.confirm_unaudited(principal, lookup, etag).await;
        self.ports.audit(
            Change::Upload,
            principal.into(),
            Some(principal.tenant_id),
            lookup.id.to_string(),
            &done,
        );
        done
    }

    /// [`AttachmentService::confirm`], before its audit record.
    async fn confirm_unaudited(
        &self,
        principal: &Principal,
        lookup: &Lookup,
        etag: Option<&str>,
    ) -> Outcome<Attachment> {
        require(principal, Scope::Write)?;
        let cause = &Cause::from(principal);
        let mut attachment = self.find(principal, lookup).await?;
        if attachment.is_ready() {
            return Ok(attachment);
        }
        let now = self.ports.clock.now();
        awaiting_upload(&attachment, now)?;
        // The tenant's rules may have changed since the URL was handed out.
        let rules = self.scoped(attachment.tenant_id).await?;
        if let Err(refusal) = rules
            .policy()
            .admits(&attachment.content_type, attachment.size_bytes)
        {
            attachment.transition(AttachmentState::Verifying, now)?;
            return self.reject(attachment, refusal, cause).await;
        }
        let staged = attachment.upload_key();
        let Some(stored_etag) = self.ports.blobs.etag(&staged).await? else {
            return self.not_uploaded(principal, lookup).await;
        };
        attachment.transition(AttachmentState::Verifying, now)?;
        let declared_etag = etag.map(unquote).filter(|e| !e.is_empty());
        // S3's entity tag of a single-part upload is the MD5 of its bytes, and
        // clients compute it so; another store's tag is not, so a declared
        // MD5 that is not the store's tag is checked against the bytes.
        let by_md5 = declared_etag
            .as_deref()
            .is_some_and(|d| d != unquote(&stored_etag) && is_md5(d));
        if let Some(declared) = declared_etag.as_ref().filter(|_| !by_md5) {
            let actual = unquote(&stored_etag);
            if *declared != actual {
                let mismatch = AttachmentError::ETagMismatch {
                    declared: declared.clone(),
                    actual,
                };
                return self
                    .fail(
                        attachment,
                        AttachmentState::ChecksumMismatch,
                        mismatch,
                        cause,
                    )
                    .await;
            }
        }
        let reader = match self.ports.blobs.get(&staged).await {
            Ok(reader) => reader,
            Err(BlobError::NotFound) => return self.not_uploaded(principal, lookup).await,
            Err(e) => return Err(e.into()),
        };
        if reader.size != attachment.size_bytes {
            let actual = reader.size;
            return self.size_mismatch(attachment, actual, cause).await;
        }
        let bytes: BodyStream = Box::pin(
            reader
                .stream
                .map(|chunk| chunk.map_err(|e| BodyError::Interrupted(e.to_string()))),
        );
        let key = attachment.blob_key();
        let mut inspector = self.inspector(bytes, &attachment);
        if by_md5 {
            inspector = inspector.with_md5();
        }
        let copied = self.ports.blobs.put(&key, &mut inspector).await;
        let inspected = match (copied, inspector.summary()) {
            (Ok(_), Some(inspected)) => inspected,
            (Ok(_), None) => {
                self.delete_bytes(&key).await;
                return Err(AttachmentError::Storage(
                    "the uploaded object did not read to its end".into(),
                ));
            }
            (Err(e), _) => {
                return match inspector.failure().cloned() {
                    Some(BodyError::Rejected(refusal)) => {
                        self.reject(attachment, refusal, cause).await
                    }
                    // The store failed, not the file: it stays Pending.
                    Some(BodyError::Interrupted(m) | BodyError::Unavailable(m)) => {
                        Err(AttachmentError::Storage(m))
                    }
                    None => Err(e.into()),
                };
            }
        };
        if inspected.size != attachment.size_bytes {
            return self.size_mismatch(attachment, inspected.size, cause).await;
        }
        if let Some(declared) = declared_etag {
            // Replaced while being read: what was verified may not be what the
            // client vouched for.
            let now_stored = self.ports.blobs.etag(&staged).await?.map(|e| unquote(&e));
            let vouched = if by_md5 {
                inspected
                    .md5
                    .as_deref()
                    .is_some_and(|md5| md5.eq_ignore_ascii_case(&declared))
                    && now_stored.as_deref() == Some(unquote(&stored_etag).as_str())
            } else {
                now_stored.as_deref() == Some(declared.as_str())
            };
            if !vouched {
                let actual = match (by_md5, inspected.md5.clone()) {
                    (true, Some(md5)) => md5,
                    _ => now_stored.unwrap_or_default(),
                };
                let mismatch = AttachmentError::ETagMismatch { declared, actual };
                return self
                    .fail(
                        attachment,
                        AttachmentState::ChecksumMismatch,
                        mismatch,
                        cause,
                    )
                    .await;
            }
        }
        match self.scan_key(&key).await {
            Ok(None) => {}
            Ok(Some(signature)) => {
                let infected = AttachmentError::Infected {
                    signature,
                    number: attachment.number,
                };
                return self
                    .fail(
                        attachment,
                        AttachmentState::VerificationFailed,
                        infected,
                        cause,
                    )
                    .await;
            }
            Err(e) => {
                // No verdict: like a store failure, it stays Pending and
                // confirming again may succeed.
                self.delete_bytes(&key).await;
                return Err(e);
            }
        }
        let now = self.ports.clock.now();
        attachment.sniffed_type = inspected.sniffed_type;
        attachment.sha256 = Some(inspected.sha256);
        // The deadline stays: until the upload URL expires, a replayed upload
        // may write the staged object again, and the sweeper deletes it then.
        attachment.transition(AttachmentState::Ready, now)?;
        let ready = Event::about(EventKind::AttachmentReady, &attachment, cause, now);
        let committed = match self.commit(&attachment, &ready).await {
            Ok(committed) => committed,
            Err(e) => {
                // Still `Pending` with its upload: a retried confirm copies
                // again, and the sweeper deletes both objects if none comes.
                self.delete_bytes(&key).await;
                return Err(e);
            }
        };
        if !committed {
            // Deleted (or swept) while being verified: the delete wins.
            self.delete_bytes(&key).await;
            self.delete_bytes(&staged).await;
            return Err(AttachmentError::NotFound);
        }
        self.delete_bytes(&staged).await;
        Ok(attachment)
    }

    /// Posts a message on a ticket linking ready attachments of that ticket, all
    /// or none: each must be a `Ready` attachment of the principal's tenant and of
    /// `message.ticket_id` that is on no message yet; otherwise the first one that
    /// is not is named in [`AttachmentError::NotLinkable`] and nothing is linked.
    /// A message needs a body or at least one attachment.
    pub async fn post_message(
        &self,
        principal: &Principal,
        message: NewMessage,
    ) -> Outcome<Message> {
        require(principal, Scope::Write)?;
        if message.body.len() > MAX_MESSAGE_BODY_BYTES {
            return Err(AttachmentError::InvalidMessage(format!(
                "the body is longer than {MAX_MESSAGE_BODY_BYTES} bytes"
            )));
        }
        let mut ids: Vec<AttachmentId> = Vec::with_capacity(message.attachment_ids.len());
        for id in message.attachment_ids {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if ids.len() > MAX_MESSAGE_ATTACHMENTS {
            return Err(AttachmentError::InvalidMessage(format!(
                "a message links at most {MAX_MESSAGE_ATTACHMENTS} attachments"
            )));
        }
        if ids.is_empty() && message.body.trim().is_empty() {
            return Err(AttachmentError::InvalidMessage(
                "a message needs a body or attachments".into(),
            ));
        }
        self.check_linkable(principal, &message.ticket_id, &ids)
            .await?;
        let created = Message {
            id: MessageId::new(),
            tenant_id: principal.tenant_id,
            ticket_id: message.ticket_id,
            body: message.body,
            attachment_ids: ids,
            created_at: self.ports.clock.now(),
        };
        if self.ports.attachments.create_message(&created).await? {
            return Ok(created);
        }
        // Something changed between the check and the write: say what, if it
        // still holds.
        self.check_linkable(principal, &created.ticket_id, &created.attachment_ids)
            .await?;
        match created.attachment_ids.first() {
            Some(&id) => Err(AttachmentError::NotLinkable {
                id,
                reason: LinkRefusal::Changed,
            }),
            None => Err(crate::ports::RepoError::Backend(
                "the store refused a message without attachments".into(),
            )
            .into()),
        }
    }

    /// Confirm found no uploaded bytes: none were sent — or a concurrent confirm
    /// just verified them and removed the upload, in which case this confirm, too,
    /// answers the ready attachment.
    async fn not_uploaded(&self, principal: &Principal, lookup: &Lookup) -> Outcome<Attachment> {
        match self
            .ports
            .attachments
            .get(principal.tenant_id, lookup.id)
            .await?
        {
            Some(a) if a.is_ready() => Ok(a),
            _ => Err(AttachmentError::NotUploaded),
        }
    }

    /// The first of `ids` a message on `ticket` cannot link, as an error.
    async fn check_linkable(
        &self,
        principal: &Principal,
        ticket: &str,
        ids: &[AttachmentId],
    ) -> Outcome<()> {
        for &id in ids {
            let refusal = match self.ports.attachments.get(principal.tenant_id, id).await? {
                None => Some(LinkRefusal::Unknown),
                Some(a) if !a.is_ready() => Some(LinkRefusal::NotReady),
                Some(a) if a.subject.ticket_id.as_deref() != Some(ticket) => {
                    Some(LinkRefusal::OtherTicket)
                }
                Some(a) if a.subject.message_id.is_some() => Some(LinkRefusal::AlreadyLinked),
                Some(_) => None,
            };
            if let Some(reason) = refusal {
                return Err(AttachmentError::NotLinkable { id, reason });
            }
        }
        Ok(())
    }
}

mod failing;

/// Whether `attachment` still accepts bytes and confirmation at `now`.
fn awaiting_upload(attachment: &Attachment, now: OffsetDateTime) -> Outcome<()> {
    match (attachment.state, attachment.upload_expires_at) {
        (AttachmentState::Pending, Some(until)) if now < until => Ok(()),
        (AttachmentState::Pending, Some(_)) => Err(AttachmentError::UploadExpired),
        (state, _) => Err(AttachmentError::NotPending(state)),
    }
}

/// `at`, rounded up to a whole second.
fn ceil_to_second(at: OffsetDateTime) -> OffsetDateTime {
    if at.nanosecond() == 0 {
        return at;
    }
    let next = at + time::Duration::seconds(1);
    next.replace_nanosecond(0).unwrap_or(next)
}

/// An entity tag without the double quotes HTTP puts around it.
fn unquote(etag: &str) -> String {
    etag.trim().trim_matches('"').to_owned()
}

#[cfg(test)]
mod tests;
