//! Attachments addressed by number, several files uploaded to one message at
//! once (all or none), and thumbnails — what the `chat` dialect needs.
//!
//! A message upload stages each file as a `Pending` attachment with a deadline
//! (`upload_expires_at`, the policy's upload URL lifetime) and its bytes already
//! in place, invisible to everyone; only [`MessageUpload::commit`] makes them
//! `Ready` (or `ChecksumMismatch`). A request that is refused is aborted and
//! leaves nothing; one that dies half-way (crash, disconnect) leaves `Pending`
//! rows past their deadline, which the sweeper of abandoned direct uploads
//! removes with their bytes.

use bytes::Bytes;
use futures::StreamExt;

use crate::attachment::{Attachment, AttachmentId, Subject};
use crate::audit::Change;
use crate::credentials::{Principal, Scope};
use crate::error::{AttachmentError, Outcome};
use crate::events::{Cause, Event, EventKind};
use crate::inspect::{BodyError, BodyStream};
use crate::ports::{BlobError, THUMBNAIL_CONTENT_TYPE};
use crate::services::attachments::require;
use crate::services::rejecting::OnFailure;
use crate::services::{AttachmentService, Download, Lookup, NewUpload};
use crate::state::AttachmentState;
use crate::tenant::TenantId;
use crate::validation::{THUMBNAIL_TYPES, sanitize_filename, served_name};

/// The most files one message upload may carry.
pub const MAX_FILES_PER_MESSAGE: usize = 20;

/// One file of a message upload, as the client described it.
#[derive(Debug, Clone, Default)]
pub struct MessageFile {
    /// The filename as the client gave it (sanitised here).
    pub filename: String,
    /// The declared media type, if any.
    pub content_type: Option<String>,
    /// A checksum the client computed (an MD5 of 32 hex digits, or a SHA-256
    /// in hex or base64), verified against the bytes.
    pub declared_checksum: Option<String>,
}

/// Files being uploaded to one message: staged one by one, then committed
/// together or aborted together. Dropping it without either leaves the staged
/// files to the sweeper.
pub struct MessageUpload {
    service: AttachmentService,
    principal: Principal,
    subject: Subject,
    staged: Vec<Attachment>,
    size_hint: Option<u64>,
}

impl AttachmentService {
    /// Starts uploading files to the message `message_id`, optionally inside the
    /// room `room_id`, which the principal must reach ([`Principal::uploads_into`]).
    pub async fn message_upload(
        &self,
        principal: &Principal,
        message_id: &str,
        room_id: Option<&str>,
    ) -> Outcome<MessageUpload> {
        require(principal, Scope::Write)?;
        may_upload_into(principal, room_id)?;
        Ok(MessageUpload {
            service: self.scoped(principal.tenant_id).await?.into_owned(),
            principal: principal.clone(),
            subject: Subject {
                message_id: Some(message_id.to_owned()),
                room_id: room_id.map(str::to_owned),
                ..Subject::default()
            },
            staged: Vec::new(),
            size_hint: None,
        })
    }

    /// The attachment numbered `number`, once its upload has finished — ready,
    /// or failed for a reason the client may read (a checksum mismatch).
    /// Attachments still on their way, and those the principal does not reach
    /// ([`Principal::reads`]: a session's rooms and own uploads), are not found.
    pub async fn find_numbered(&self, principal: &Principal, number: i64) -> Outcome<Attachment> {
        require(principal, Scope::Read)?;
        self.ports
            .attachments
            .get_by_number(principal.tenant_id, number)
            .await?
            .filter(|a| a.state.is_final() && principal.reads(a))
            .ok_or(AttachmentError::NotFound)
    }

    /// Opens the bytes of the ready attachment numbered `number`, only when
    /// one of `filenames` is its name: a download URL names the file it
    /// serves, and a front end may read the name from it more than one way.
    pub async fn open_numbered(
        &self,
        principal: &Principal,
        number: i64,
        filenames: &[&str],
    ) -> Outcome<Download> {
        let found = self.find_numbered(principal, number).await?;
        if !filenames.iter().any(|asked| names(&found, asked)) {
            return Err(AttachmentError::NotFound);
        }
        self.open(principal, &Lookup::id(found.id)).await
    }

    /// Deletes the attachment numbered `number` (see [`AttachmentService::delete`]):
    /// its uploader or an all-rooms session may; another member of its room
    /// reads it but is refused.
    pub async fn delete_numbered(&self, principal: &Principal, number: i64) -> Outcome<()> {
        let mut object = format!("number {number}");
        let done = async {
            require(principal, Scope::Delete)?;
            let found = self.find_numbered(principal, number).await?;
            object = found.id.to_string();
            if !principal.deletes(&found) {
                return Err(AttachmentError::OutOfReach(
                    "only its uploader or an all-rooms session may delete an attachment",
                ));
            }
            self.delete_unaudited(principal, &Lookup::id(found.id))
                .await
        }
        .await;
        self.ports.audit(
            Change::Delete,
            principal.into(),
            Some(principal.tenant_id),
            object,
            &done,
        );
        done
    }

    /// Opens the thumbnail of the ready attachment numbered `number`. The
    /// download describes the thumbnail: its type is [`THUMBNAIL_CONTENT_TYPE`],
    /// its name the attachment's with `.webp` appended.
    pub async fn open_thumbnail(&self, principal: &Principal, number: i64) -> Outcome<Download> {
        let mut found = self.find_numbered(principal, number).await?;
        let key = match (&found.thumbnail_key, found.is_ready()) {
            (Some(key), true) => key.clone(),
            _ => return Err(AttachmentError::NotFound),
        };
        let body = match self.ports.blobs.get(&key).await {
            Ok(body) => body,
            Err(BlobError::NotFound) => return Err(AttachmentError::NotFound),
            Err(e) => return Err(e.into()),
        };
        found.filename = format!("{}.webp", found.filename);
        found.content_type = THUMBNAIL_CONTENT_TYPE.to_owned();
        found.size_bytes = body.size;
        found.sha256 = None;
        Ok(Download::new(found, body, self.ports.blobs.clone(), key))
    }

    /// Makes the thumbnail of a ready image attachment that has none, stores it
    /// beside the original and records it; meant to run in the background after
    /// an upload. Returns whether a thumbnail was made: images that are not of
    /// [`THUMBNAIL_TYPES`], fail to decode or are too large get none, and that is
    /// no error. An attachment deleted meanwhile keeps no thumbnail bytes.
    pub async fn make_thumbnail(&self, tenant: TenantId, id: AttachmentId) -> Outcome<bool> {
        let Some(attachment) = self.ports.attachments.get(tenant, id).await? else {
            return Ok(false);
        };
        if !attachment.is_ready()
            || attachment.thumbnail_key.is_some()
            || !THUMBNAIL_TYPES.contains(&attachment.content_type.as_str())
            || attachment.size_bytes > self.policy.max_bytes
        {
            return Ok(false);
        }
        let mut reader = match self.ports.blobs.get(&attachment.blob_key()).await {
            Ok(reader) => reader,
            Err(BlobError::NotFound) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let capacity = usize::try_from(reader.size.min(self.policy.max_bytes)).unwrap_or(0);
        let mut image = Vec::with_capacity(capacity);
        while let Some(chunk) = reader.stream.next().await {
            image.extend_from_slice(&chunk?);
            if image.len() as u64 > self.policy.max_bytes {
                return Ok(false);
            }
        }
        let Ok(thumbnail) = self
            .ports
            .thumbnailer
            .thumbnail(Bytes::from(image), &attachment.content_type)
            .await
        else {
            return Ok(false);
        };
        let key = attachment.thumbnail_blob_key();
        let now = self.ports.clock.now();
        let mut made = attachment.clone();
        made.thumbnail_key = Some(key.clone());
        let made = Event::about(EventKind::ThumbnailReady, &made, &Cause::SYSTEM, now);
        let mut body = futures::stream::iter([Ok::<_, BodyError>(thumbnail)]);
        self.ports.blobs.put(&key, &mut body).await?;
        let recorded = self
            .ports
            .attachments
            .set_thumbnail(tenant, id, &key, now, Some(&made))
            .await?;
        if !recorded {
            self.delete_bytes(&key).await;
        }
        Ok(recorded)
    }
}

impl MessageUpload {
    /// Records the room the message is in (a form field may name it after the
    /// first file); it applies to every file of the upload, and the principal
    /// must reach it.
    pub fn set_room(&mut self, room_id: &str) -> Outcome<()> {
        may_upload_into(&self.principal, Some(room_id))?;
        self.subject.room_id = Some(room_id.to_owned());
        Ok(())
    }

    /// Records the most bytes the request can carry (its `Content-Length`): no
    /// file is larger, so none reserves more of the tenant's quota.
    pub fn set_size_hint(&mut self, bytes: Option<u64>) {
        self.size_hint = bytes;
    }

    /// How many files are staged so far.
    pub fn len(&self) -> usize {
        self.staged.len()
    }

    /// Whether no file is staged yet.
    pub fn is_empty(&self) -> bool {
        self.staged.is_empty()
    }

    /// Streams one file in, checking it as a single upload is checked (type
    /// before any byte, size and magic while streaming). On an error the file
    /// leaves nothing behind; the caller should then [`MessageUpload::abort`].
    pub async fn add(&mut self, file: MessageFile, body: BodyStream) -> Outcome<()> {
        let filename = file.filename.clone();
        let done = self.stage(file, body).await;
        if done.is_err() {
            // A staged file is recorded when the message is committed.
            self.audit(filename, &done);
        }
        done
    }

    /// Records the upload of `object` with the outcome of `result`.
    fn audit<T>(&self, object: String, result: &Outcome<T>) {
        self.service.ports.audit(
            Change::Upload,
            (&self.principal).into(),
            Some(self.principal.tenant_id),
            object,
            result,
        );
    }

    /// [`MessageUpload::add`], before its audit record.
    async fn stage(&mut self, file: MessageFile, body: BodyStream) -> Outcome<()> {
        if self.staged.len() >= MAX_FILES_PER_MESSAGE {
            return Err(AttachmentError::InvalidMessage(format!(
                "a message carries at most {MAX_FILES_PER_MESSAGE} files"
            )));
        }
        let service = &self.service;
        let upload = NewUpload {
            subject: self.subject.clone(),
            filename: file.filename,
            content_type: file.content_type,
            declared_checksum: file.declared_checksum,
            ..NewUpload::default()
        };
        let mut attachment = service.draft(&self.principal, upload)?;
        attachment.upload_expires_at = Some(attachment.created_at + service.policy.upload_url_ttl);
        service
            .insert_streamed(&mut attachment, self.size_hint)
            .await?;
        let cause = Cause::from(&self.principal);
        let inspected = service
            .receive_bytes(&attachment, body, &cause, OnFailure::Discard)
            .await?;
        attachment.size_bytes = inspected.size;
        attachment.sniffed_type = inspected.sniffed_type.clone();
        attachment.sha256 = Some(inspected.sha256.clone());
        super::attachments::settle_md5(&mut attachment, &inspected);
        // Settles the quota to the real size before the next file reserves.
        if !service.ports.attachments.update(&attachment, None).await? {
            service.delete_bytes(&attachment.blob_key()).await;
            return Err(AttachmentError::Interrupted(
                "the upload took longer than its deadline".into(),
            ));
        }
        // Scanned while staged, so an infected file refuses the whole message
        // before anything of it is visible; the infected one keeps its row
        // (`VerificationFailed`, with the reason) for the client to look up.
        let key = attachment.blob_key();
        match service.scan_key(&key).await {
            Ok(None) => {}
            Ok(Some(signature)) => {
                attachment.transition(AttachmentState::Verifying, service.ports.clock.now())?;
                return Err(service
                    .quarantine(&mut attachment, &key, signature, &cause)
                    .await);
            }
            Err(e) => {
                service.discard(&attachment, None).await;
                return Err(e);
            }
        }
        self.staged.push(attachment);
        Ok(())
    }

    /// Makes every staged file visible: `Ready`, or `ChecksumMismatch` (without
    /// its bytes) when it differs from the checksum declared for it. When a
    /// staged file vanished meanwhile (swept past its deadline) or the store
    /// fails, nothing is kept.
    pub async fn commit(self) -> Outcome<Vec<Attachment>> {
        let mut committed = Vec::with_capacity(self.staged.len());
        for attachment in &self.staged {
            match self.publish(attachment.clone()).await {
                Ok(done) => committed.push(done),
                Err(e) => {
                    self.abort().await;
                    return Err(e);
                }
            }
        }
        Ok(committed)
    }

    /// Moves one staged file to its final state.
    async fn publish(&self, attachment: Attachment) -> Outcome<Attachment> {
        let object = attachment.id.to_string();
        let done = self.publish_unaudited(attachment).await;
        self.audit(object, &done);
        done
    }

    /// [`MessageUpload::publish`], before its audit record.
    async fn publish_unaudited(&self, mut attachment: Attachment) -> Outcome<Attachment> {
        let service = &self.service;
        let now = service.ports.clock.now();
        attachment.subject = self.subject.clone();
        attachment.upload_expires_at = None;
        attachment.transition(AttachmentState::Verifying, now)?;
        let mismatch = attachment.declared_checksum.is_some()
            && attachment.declared_checksum != attachment.sha256;
        let last = if mismatch {
            AttachmentState::ChecksumMismatch
        } else {
            AttachmentState::Ready
        };
        attachment.transition(last, now)?;
        let cause = Cause::from(&self.principal);
        let event = if mismatch {
            let declared = attachment.declared_checksum.clone().unwrap_or_default();
            let actual = attachment.sha256.clone().unwrap_or_default();
            let refusal = AttachmentError::ChecksumMismatch { declared, actual };
            service.rejection(&attachment, &refusal, &cause)
        } else {
            Event::about(EventKind::AttachmentReady, &attachment, &cause, now)
        };
        if !service.commit(&attachment, &event).await? {
            return Err(AttachmentError::Interrupted(
                "the upload took longer than its deadline".into(),
            ));
        }
        if mismatch {
            service.delete_bytes(&attachment.blob_key()).await;
        }
        Ok(attachment)
    }

    /// Forgets every staged file: bytes and rows.
    pub async fn abort(self) {
        for attachment in &self.staged {
            self.service.discard(attachment, None).await;
        }
    }
}

/// Whether `asked` names the file of `attachment`: its stored name, or the name
/// its client gave at upload (which sanitises to it).
fn names(attachment: &Attachment, asked: &str) -> bool {
    asked == attachment.filename
        || served_name(&sanitize_filename(asked), &attachment.content_type) == attachment.filename
}

/// Refuses an upload into `room` (`None`: no room) the principal does not reach.
fn may_upload_into(principal: &Principal, room: Option<&str>) -> Outcome<()> {
    if principal.uploads_into(room) {
        Ok(())
    } else {
        Err(AttachmentError::OutOfReach(
            "this session may not post into that room",
        ))
    }
}

#[cfg(test)]
mod tests;
