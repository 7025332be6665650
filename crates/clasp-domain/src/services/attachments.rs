//! Upload, look up, list and delete attachments — the rules every
//! dialect shares.

use std::sync::Arc;

use crate::attachment::{Attachment, AttachmentId, Subject, SubjectRef};
use crate::audit::Change;
use crate::credentials::{Principal, PrincipalKind, Scope};
use crate::error::{AttachmentError, Outcome};
use crate::events::{Cause, Event, EventKind};
use crate::inspect::{BodyError, BodyStream, Inspected, Inspector};
use crate::listing::ListQuery;
use crate::ports::BlobError;
use crate::services::Ports;
use crate::services::rejecting::OnFailure;
use crate::state::AttachmentState;
use crate::tenant::TenantId;
use crate::validation::{
    MAX_USER_ID_BYTES, MD5_PREFIX, UploadPolicy, ValidationError, parse_checksum,
    sanitize_filename, served_name,
};

/// The most attachments one listing of a subject answers (a ticket's, a
/// message's): its oldest. A subject holding more is a host product's own
/// problem; paging the seeds' listings would change their wire format.
pub const MAX_LISTED: usize = 1000;

/// What a client sends along with the bytes of a new attachment.
#[derive(Debug, Clone, Default)]
pub struct NewUpload {
    /// What it hangs on.
    pub subject: Subject,
    /// The filename as the client gave it (sanitised here).
    pub filename: String,
    /// The declared media type, if any.
    pub content_type: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Locale.
    pub locale: Option<String>,
    /// A checksum the client computed (an MD5 of 32 hex digits, or a SHA-256
    /// in hex or base64), to be verified.
    pub declared_checksum: Option<String>,
    /// The user an API key uploads for (seed 001's `uploaded_by_user_id`):
    /// a key stands for a service, which may name the person it acts for.
    pub on_behalf_of: Option<String>,
    /// The most bytes the request can carry (its `Content-Length`), if known:
    /// the upload reserves no more of the tenant's quota than that.
    pub size_hint: Option<u64>,
}

/// Which attachment a request means: an id, and optionally the subject whose path
/// it was named under (an attachment under another subject is not found).
#[derive(Debug, Clone)]
pub struct Lookup {
    /// The attachment.
    pub id: AttachmentId,
    /// The subject it must belong to.
    pub within: Option<SubjectRef>,
}

impl Lookup {
    /// The attachment `id`, wherever it hangs.
    pub fn id(id: AttachmentId) -> Self {
        Self { id, within: None }
    }

    /// The attachment `id`, only if it hangs on `subject`.
    pub fn within(id: AttachmentId, subject: SubjectRef) -> Self {
        Self {
            id,
            within: Some(subject),
        }
    }
}

/// The attachment use cases.
#[derive(Clone)]
pub struct AttachmentService {
    pub(super) ports: Ports,
    /// The rules in force: the instance's, or a tenant's once scoped.
    pub(super) policy: UploadPolicy,
    /// The instance's rules, which a tenant's own override.
    pub(super) instance: Arc<UploadPolicy>,
    /// The tenant `policy` is of ([`AttachmentService::for_tenant`]).
    pub(super) scoped_to: Option<TenantId>,
}

impl AttachmentService {
    /// A service over `ports`, enforcing `policy` on uploads of every tenant
    /// without rules of its own.
    pub fn new(ports: Ports, policy: UploadPolicy) -> Self {
        Self {
            ports,
            instance: Arc::new(policy.clone()),
            policy,
            scoped_to: None,
        }
    }

    /// The upload rules in force: the instance's, or, on a service
    /// [scoped](AttachmentService::for_tenant) to a tenant, that tenant's.
    pub fn policy(&self) -> &UploadPolicy {
        &self.policy
    }

    /// Whether both stores and the virus scanner (if any) can serve requests
    /// now (the readiness of an instance).
    pub async fn check_ready(&self) -> Outcome<()> {
        self.ports.attachments.check_ready().await?;
        self.ports
            .blobs
            .check_ready()
            .await
            .map_err(|e| AttachmentError::Storage(e.to_string()))?;
        self.ports
            .scanner
            .check_ready()
            .await
            .map_err(|e| AttachmentError::ScanFailed(e.to_string()))
    }

    /// Stores a new attachment from a streamed body.
    ///
    /// The type is checked before any byte is read; size and magic while the bytes
    /// stream; a declared checksum once they have all arrived. The attachment is
    /// recorded as `Uploading` before the bytes are stored (so interrupted uploads
    /// can be found and cleaned) and becomes visible only when `Ready`. A refused
    /// upload leaves no bytes and no row behind — except a checksum mismatch, which
    /// is kept, without bytes, in `ChecksumMismatch` so the client can see why.
    /// The row reserves of the tenant's quota before any byte is read (refused
    /// with [`AttachmentError::QuotaExceeded`] when nothing fits) and settles to
    /// the real size; a body that outgrows the reservation is refused.
    pub async fn upload(
        &self,
        principal: &Principal,
        upload: NewUpload,
        body: BodyStream,
    ) -> Outcome<Attachment> {
        let filename = upload.filename.clone();
        let done = async {
            require(principal, Scope::Write)?;
            let this = self.scoped(principal.tenant_id).await?;
            this.upload_scoped(principal, upload, body).await
        }
        .await;
        let object = done.as_ref().map_or(filename, |a| a.id.to_string());
        self.ports.audit(
            Change::Upload,
            principal.into(),
            Some(principal.tenant_id),
            object,
            &done,
        );
        done
    }

    /// [`AttachmentService::upload`] on a service scoped to the principal's tenant.
    async fn upload_scoped(
        &self,
        principal: &Principal,
        upload: NewUpload,
        body: BodyStream,
    ) -> Outcome<Attachment> {
        let hint = upload.size_hint;
        let cause = Cause::from(principal);
        let mut attachment = self.draft(principal, upload)?;
        attachment.transition(AttachmentState::Uploading, attachment.created_at)?;
        // If this request dies (a crash included), the sweeper removes the row
        // and whatever bytes arrived once the deadline passes; an upload still
        // running then is refused at its end.
        attachment.upload_expires_at = Some(attachment.created_at + self.policy.upload_url_ttl);
        self.insert_streamed(&mut attachment, hint).await?;
        let inspected = self
            .receive_bytes(&attachment, body, &cause, OnFailure::Discard)
            .await?;
        self.settle(attachment, &inspected, &cause, OnFailure::Discard)
            .await
    }

    /// Finishes an upload whose bytes are stored under its blob key, as
    /// `inspected` found them: checks a declared checksum, scans, and commits
    /// it `Ready` (announced by `cause`), or refuses it as the checks say;
    /// what a failure leaves is `on_failure`'s.
    pub(super) async fn settle(
        &self,
        mut attachment: Attachment,
        inspected: &Inspected,
        cause: &Cause,
        on_failure: OnFailure,
    ) -> Outcome<Attachment> {
        let key = attachment.blob_key();
        let cause = cause.clone();
        let now = self.ports.clock.now();
        attachment.transition(AttachmentState::Verifying, now)?;
        attachment.size_bytes = inspected.size;
        attachment.sniffed_type = inspected.sniffed_type.clone();
        attachment.sha256 = Some(inspected.sha256.clone());
        settle_md5(&mut attachment, inspected);
        if let Some(declared) = attachment.declared_checksum.clone()
            && declared != inspected.sha256
        {
            let actual = received_as(&declared, inspected);
            attachment.transition(AttachmentState::ChecksumMismatch, now)?;
            attachment.upload_expires_at = None;
            attachment.failure_reason = Some(format!(
                "checksum mismatch: declared {declared}, received {actual}"
            ));
            let rejected = Event::about(EventKind::AttachmentRejected, &attachment, &cause, now);
            self.ports
                .attachments
                .update(&attachment, Some(&rejected))
                .await?;
            self.delete_bytes(&key).await;
            return Err(AttachmentError::ChecksumMismatch { declared, actual });
        }
        match self.scan_key(&key).await {
            Ok(None) => {}
            Ok(Some(signature)) => {
                return Err(self
                    .quarantine(&mut attachment, &key, signature, &cause)
                    .await);
            }
            Err(e) => return Err(self.let_go(&attachment, e, None, on_failure).await),
        }
        let now = self.ports.clock.now();
        attachment.transition(AttachmentState::Ready, now)?;
        attachment.upload_expires_at = None;
        let ready = Event::about(EventKind::AttachmentReady, &attachment, &cause, now);
        match self.commit(&attachment, &ready).await {
            Ok(true) => Ok(attachment),
            Ok(false) => {
                // Deleted while its bytes were arriving (by a client, or by the
                // sweeper past the deadline): the delete wins.
                self.delete_bytes(&key).await;
                Err(AttachmentError::NotFound)
            }
            // Not committed: the client hears of a failure, so nothing of the
            // upload may stay visible.
            Err(e) => Err(self.let_go(&attachment, e, None, on_failure).await),
        }
    }

    /// Persists `attachment` as [`AttachmentRepository::update`] does (with
    /// the `event` it announces), telling
    /// an update that failed from one whose reply alone was lost: when the
    /// update reports an error, the row is read back, and one that holds the
    /// new state and time was committed. So a client is told "failed" only of
    /// an attachment that did not become visible.
    ///
    /// [`AttachmentRepository::update`]: crate::ports::AttachmentRepository::update
    pub(super) async fn commit(&self, attachment: &Attachment, event: &Event) -> Outcome<bool> {
        match self.ports.attachments.update(attachment, Some(event)).await {
            Ok(updated) => Ok(updated),
            Err(e) => match self
                .ports
                .attachments
                .get(attachment.tenant_id, attachment.id)
                .await
            {
                Ok(Some(row))
                    if row.state == attachment.state && row.updated_at == attachment.updated_at =>
                {
                    Ok(true)
                }
                Ok(None) => Ok(false),
                _ => Err(e.into()),
            },
        }
    }

    /// A new `Pending` attachment of `principal` as the client described it:
    /// its filename sanitised, its type resolved against the policy (before any
    /// byte is read), its declared checksum read.
    pub(super) fn draft(&self, principal: &Principal, upload: NewUpload) -> Outcome<Attachment> {
        let (filename, content_type) = self.name_and_type(&upload.filename, upload.content_type)?;
        let declared_checksum = upload
            .declared_checksum
            .as_deref()
            .map(parse_checksum)
            .transpose()?;
        let acting_for = acting_for(principal, upload.on_behalf_of)?;
        let mut draft = self.pending(principal, upload.subject, filename, content_type);
        draft.uploaded_by = acting_for.unwrap_or(draft.uploaded_by);
        draft.declared_checksum = declared_checksum;
        draft.description = upload.description;
        draft.tags = upload.tags;
        draft.locale = upload.locale;
        Ok(draft)
    }

    /// The name a client's file is stored and served under, and its media
    /// type: the name sanitised, the type resolved against the policy (before
    /// any byte is read), and the name's extension made to agree with the type.
    pub(super) fn name_and_type(
        &self,
        filename: &str,
        declared: Option<String>,
    ) -> Outcome<(String, String)> {
        let filename = sanitize_filename(filename);
        let content_type = self.policy.resolve_type(declared.as_deref(), &filename)?;
        Ok((served_name(&filename, &content_type), content_type))
    }

    /// A new `Pending` attachment of `principal`, of nothing yet.
    pub(super) fn pending(
        &self,
        principal: &Principal,
        subject: Subject,
        filename: String,
        content_type: String,
    ) -> Attachment {
        let now = self.ports.clock.now();
        Attachment::pending(
            principal.tenant_id,
            subject,
            (filename, content_type),
            principal.actor(),
            now,
        )
    }

    /// Streams `body` into the blob key of the recorded `attachment`, checking
    /// size (at most its `size_bytes`, what it reserved of the quota) and magic
    /// on the way; returns what the inspection found. On a failure the
    /// attachment is let go as `on_failure` says, its rejection announced by
    /// `cause` when its bytes were refused.
    pub(super) async fn receive_bytes(
        &self,
        attachment: &Attachment,
        body: BodyStream,
        cause: &Cause,
        on_failure: OnFailure,
    ) -> Outcome<Inspected> {
        let limit = attachment.size_bytes;
        let mut inspector = self.inspector(body, attachment);
        if declared_md5(attachment).is_some() {
            inspector = inspector.with_md5();
        }
        let stored = self
            .ports
            .blobs
            .put(&attachment.blob_key(), &mut inspector)
            .await;
        match (stored, inspector.summary()) {
            (Ok(_), Some(inspected)) => Ok(inspected),
            (Ok(_), None) => {
                let broken = AttachmentError::Interrupted("the body did not end cleanly".into());
                Err(self.let_go(attachment, broken, None, on_failure).await)
            }
            (Err(e), _) => {
                let refusal = match inspector.failure().cloned() {
                    Some(BodyError::Rejected(ValidationError::TooLarge { .. })) => {
                        self.overflow(attachment, limit).await
                    }
                    failure => failure.map_or_else(|| e.into(), |f| BlobError::Body(f).into()),
                };
                let rejected = matches!(inspector.failure(), Some(BodyError::Rejected(_)))
                    .then(|| self.rejection(attachment, &refusal, cause));
                Err(self
                    .let_go(attachment, refusal, rejected.as_ref(), on_failure)
                    .await)
            }
        }
    }

    /// `body` checked as the bytes of `attachment`: at most the size it
    /// reserved, its declared type's magic, hashed on a spare core once
    /// large.
    pub(super) fn inspector(&self, body: BodyStream, attachment: &Attachment) -> Inspector {
        Inspector::new(body, attachment.size_bytes, &attachment.content_type)
            .offloading(self.ports.offload.clone())
    }

    /// A visible (ready) attachment's metadata.
    pub async fn get(&self, principal: &Principal, lookup: &Lookup) -> Outcome<Attachment> {
        require(principal, Scope::Read)?;
        self.find_ready(principal, lookup).await
    }

    /// The ready attachments `on` a subject, oldest first: the first
    /// [`MAX_LISTED`] of them.
    pub async fn list(&self, reader: &Principal, on: &SubjectRef) -> Outcome<Vec<Attachment>> {
        require(reader, Scope::Read)?;
        let repo = &self.ports.attachments;
        Ok(repo.list_ready(reader.tenant_id, on, MAX_LISTED).await?)
    }

    /// One page of the tenant's ready attachments, as `query` asks.
    pub async fn query(&self, reader: &Principal, query: &ListQuery) -> Outcome<Vec<Attachment>> {
        require(reader, Scope::Read)?;
        let repo = &self.ports.attachments;
        Ok(repo.list_page(reader.tenant_id, query).await?)
    }

    /// Refuses a principal without `scope` before any work: a front end that
    /// must read a request body to call a use case checks first, so a client
    /// without the scope learns it before sending the bytes.
    pub fn authorize(&self, principal: &Principal, scope: Scope) -> Outcome<()> {
        require(principal, scope)
    }

    /// Deletes an attachment in any state. Its row becomes a `Deleted`
    /// tombstone first (compare-and-set), so nothing of it is served from the
    /// moment this returns; then its bytes go (its own, its thumbnail's, a
    /// direct upload's staged ones), then the row. If the bytes cannot all be
    /// deleted now, the tombstone stays, its deadline passed, and the sweeper
    /// retries until they are gone: no bytes stay that nothing points to. (A
    /// presigned upload URL replayed after the delete writes under `uploads/`,
    /// which the bucket's lifecycle rule expires: README, "S3".)
    pub async fn delete(&self, principal: &Principal, lookup: &Lookup) -> Outcome<()> {
        let done = self.delete_unaudited(principal, lookup).await;
        self.ports.audit(
            Change::Delete,
            principal.into(),
            Some(principal.tenant_id),
            lookup.id.to_string(),
            &done,
        );
        done
    }

    /// [`AttachmentService::delete`], before its audit record.
    pub(super) async fn delete_unaudited(
        &self,
        principal: &Principal,
        lookup: &Lookup,
    ) -> Outcome<()> {
        require(principal, Scope::Delete)?;
        let mut gone = self.find(principal, lookup).await?;
        let now = self.ports.clock.now();
        // A direct upload's URL that still works could write the staged object
        // again once the bytes are gone: the tombstone (which costs the tenant
        // nothing) stays until the URL has expired, and the sweeper then deletes
        // what a replay wrote. So does a streamed upload's, until its deadline.
        let writable_until = gone.upload_expires_at.filter(|until| *until > now);
        gone.transition(AttachmentState::Deleted, now)?;
        gone.upload_expires_at = Some(writable_until.unwrap_or(now));
        let deleted = Event::about(
            EventKind::AttachmentDeleted,
            &gone,
            &Cause::from(principal),
            now,
        );
        if !self.ports.attachments.update(&gone, Some(&deleted)).await? {
            return Err(AttachmentError::NotFound);
        }
        if self.remove_bytes(&gone).await.is_ok() && writable_until.is_none() {
            // A failure leaves the tombstone for the sweeper, nothing worse.
            let _ = self
                .ports
                .attachments
                .delete(gone.tenant_id, gone.id, None)
                .await;
        }
        Ok(())
    }

    /// Deletes every object of `attachment`: its bytes, a direct upload's
    /// staged ones and its thumbnail. Each delete of an absent object succeeds,
    /// so this may be repeated until it does.
    pub(super) async fn remove_bytes(&self, attachment: &Attachment) -> Outcome<()> {
        self.remove_resumable(attachment).await?;
        self.ports.blobs.delete(&attachment.upload_key()).await?;
        for key in attachment.object_keys() {
            self.ports.blobs.delete(&key).await?;
        }
        Ok(())
    }

    /// The attachment `lookup` names in the principal's tenant, in any state
    /// (but deleted: see [`AttachmentRepository::get`]).
    ///
    /// [`AttachmentRepository::get`]: crate::ports::AttachmentRepository::get
    pub(super) async fn find(&self, principal: &Principal, lookup: &Lookup) -> Outcome<Attachment> {
        self.ports
            .attachments
            .get(principal.tenant_id, lookup.id)
            .await?
            .filter(|a| in_subject(a, lookup))
            .ok_or(AttachmentError::NotFound)
    }

    /// The ready attachment `lookup` names in the principal's tenant.
    pub(super) async fn find_ready(
        &self,
        principal: &Principal,
        lookup: &Lookup,
    ) -> Outcome<Attachment> {
        Some(self.find(principal, lookup).await?)
            .filter(Attachment::is_ready)
            .ok_or(AttachmentError::NotFound)
    }
}

pub(super) fn require(principal: &Principal, scope: Scope) -> Outcome<()> {
    if principal.scopes.contains(scope) {
        Ok(())
    } else {
        Err(AttachmentError::Forbidden(scope))
    }
}

fn in_subject(attachment: &Attachment, lookup: &Lookup) -> bool {
    lookup
        .within
        .as_ref()
        .is_none_or(|s| attachment.subject.matches(s))
}

/// The MD5 `attachment`'s client declared (hex), if it declared one.
pub(super) fn declared_md5(attachment: &Attachment) -> Option<&str> {
    attachment
        .declared_checksum
        .as_deref()?
        .strip_prefix(MD5_PREFIX)
}

/// Once the bytes are in: a declared MD5 that is theirs is kept as their
/// SHA-256, so every declared checksum is compared with `sha256` alone (a
/// wrong MD5 stays, and differs from any SHA-256).
pub(super) fn settle_md5(attachment: &mut Attachment, inspected: &Inspected) {
    if declared_md5(attachment).is_some_and(|md5| inspected.md5.as_deref() == Some(md5)) {
        attachment.declared_checksum = Some(inspected.sha256.clone());
    }
}

/// What the bytes' checksum is, in the kind `declared` is of.
pub(super) fn received_as(declared: &str, inspected: &Inspected) -> String {
    match (declared.starts_with(MD5_PREFIX), &inspected.md5) {
        (true, Some(md5)) => format!("{MD5_PREFIX}{md5}"),
        _ => inspected.sha256.clone(),
    }
}

/// The user an upload is made for, when its API key names one: 1 to
/// [`MAX_USER_ID_BYTES`] bytes without control characters. A session is its
/// user and names nobody else.
fn acting_for(principal: &Principal, named: Option<String>) -> Outcome<Option<String>> {
    let Some(user) = named else {
        return Ok(None);
    };
    if !matches!(principal.kind, PrincipalKind::ApiKey(_)) {
        return Err(AttachmentError::OutOfReach(
            "a session uploads as its own user",
        ));
    }
    let fits = (1..=MAX_USER_ID_BYTES).contains(&user.len());
    if !fits || user.chars().any(char::is_control) {
        return Err(ValidationError::InvalidUploader.into());
    }
    Ok(Some(user))
}
