//! The ports: what the domain needs from the outside world. Adapters implement
//! these traits; the services in [`crate::services`] only ever see the traits.
//!
//! All ports are object-safe and `Send + Sync`, and their futures are `Send`, so
//! the services run on any multi-threaded executor.

use std::ops::Range;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::attachment::{Attachment, AttachmentId, SubjectRef};
use crate::credentials::{ApiKey, Session};
use crate::events::Event;
use crate::inspect::BodyError;
use crate::listing::ListQuery;
use crate::message::Message;
use crate::policy::TenantPolicy;
use crate::quota::{Quota, QuotaLimits};
use crate::tenant::{Tenant, TenantId};

/// A metadata store failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepoError {
    /// A unique value (tenant slug, key hash, attachment id) already exists.
    #[error("already exists: {0}")]
    Conflict(String),
    /// The backend failed; the message is for logs, not clients.
    #[error("metadata store failed: {0}")]
    Backend(String),
    /// An insert would take the tenant past a limit of its quota; nothing
    /// changed. The services read [`AttachmentRepository::quota`] to say which.
    #[error("the tenant's quota does not admit this attachment")]
    QuotaExceeded,
}

/// What a metadata store answers: the value, or why there is none. Named
/// because every port method and adapter says it.
pub type Stored<T> = Result<T, RepoError>;

/// Durable attachment metadata.
///
/// Contract (see `contract::attachment_repository`): every read is scoped by
/// tenant — an id from another tenant is "not found"; `insert` assigns a unique,
/// increasing `number`; `list_ready` returns only `Ready` attachments of the
/// subject, oldest first (ties by id); `update` persists every mutable field;
/// `list_page` answers exactly [`ListQuery::select`] of the tenant's rows;
/// `create_message` is all or nothing; `expired_uploads` finds abandoned
/// uploads across tenants; `get_by_number` finds what `insert` numbered, in its
/// tenant only; `set_thumbnail` touches only the thumbnail and `updated_at` of a
/// `Ready` attachment, so it never undoes a concurrent change of other columns.
///
/// Quotas (see [`crate::quota`]): the store keeps each tenant's usage, exactly
/// the sum of [`Attachment::charged_bytes`] and of [`Attachment::counted`], changed
/// atomically with every `insert`, `update` and `delete` (however many run at
/// once); `insert` fails with [`RepoError::QuotaExceeded`], storing nothing,
/// when the new row would take its tenant past a limit; `update` and `delete`
/// are never refused for the quota (so a lowered limit still lets usage settle).
///
/// Events (see [`crate::events`]): `update`, `delete` and `set_thumbnail` take
/// the event the change announces, if any, and record it (fanned out to the
/// tenant's subscribed webhooks, [`crate::webhooks::WebhookStore`]) in the same
/// transaction as the change, and only when the change is made (they return
/// true): a change that fails or rolls back announces nothing.
#[async_trait]
pub trait AttachmentRepository: Send + Sync {
    /// Stores a new attachment and returns the `number` assigned to it: the
    /// next of its tenant's, counted from 1 and never given twice in a tenant
    /// (a deleted attachment's number stays unused), so that numbers tell
    /// nothing of other tenants. Charges it to its tenant's quota, or refuses
    /// it ([`RepoError::QuotaExceeded`]).
    async fn insert(&self, attachment: &Attachment) -> Stored<i64>;
    /// The attachment `id` of `tenant`, in any state but `Deleted`: a
    /// tombstone is gone for every reader.
    async fn get(&self, tenant: TenantId, id: AttachmentId) -> Stored<Option<Attachment>>;
    /// The attachment numbered `number` (see [`AttachmentRepository::insert`]) of
    /// `tenant`, in any state but `Deleted`: the `chat` dialect addresses
    /// attachments by number.
    async fn get_by_number(&self, tenant: TenantId, number: i64) -> Stored<Option<Attachment>>;
    /// Records the blob key of a `Ready` attachment's thumbnail and stamps
    /// `updated_at`, changing no other column (a background task calls it while
    /// requests may change the attachment). Returns false, changing nothing, when
    /// the attachment no longer exists or is not `Ready`.
    async fn set_thumbnail(
        &self,
        tenant: TenantId,
        id: AttachmentId,
        key: &str,
        at: OffsetDateTime,
        event: Option<&Event>,
    ) -> Stored<bool>;
    /// Forgets the upload deadline of a kept attachment (see
    /// [`crate::AttachmentState::is_kept`]) once the sweeper has deleted its
    /// staged object a last time (its upload URL has expired, so no replayed
    /// upload can write it again), changing no other column. Returns false
    /// when the attachment no longer exists or is not kept.
    async fn clear_upload_deadline(&self, tenant: TenantId, id: AttachmentId) -> Stored<bool>;
    /// Persists state, size, checksums, sniffed type, thumbnail and `updated_at`,
    /// compare-and-set: only if the stored row's state is one the machine
    /// leads to the new one from ([`AttachmentState::written_over`]). Returns
    /// false, changing nothing, when the attachment no longer exists or has
    /// moved where this write cannot follow (a racing sweep or commit won).
    ///
    /// [`AttachmentState::written_over`]: crate::AttachmentState::written_over
    async fn update(&self, attachment: &Attachment, event: Option<&Event>) -> Stored<bool>;
    /// Ready attachments of `tenant` on `subject`, oldest first, at most `limit`.
    async fn list_ready(
        &self,
        tenant: TenantId,
        subject: &SubjectRef,
        limit: usize,
    ) -> Stored<Vec<Attachment>>;
    /// One page of the `Ready` attachments of `tenant` that `query` admits, in
    /// its order: what [`ListQuery::select`] picks out of all of them. Adapters
    /// seek by keyset, so a deep page costs about what the first one does.
    async fn list_page(&self, tenant: TenantId, query: &ListQuery) -> Stored<Vec<Attachment>>;
    /// Removes the row; returns whether it existed.
    async fn delete(
        &self,
        tenant: TenantId,
        id: AttachmentId,
        event: Option<&Event>,
    ) -> Stored<bool>;
    /// Stores `message` and links its attachments to it (sets their `message_id`
    /// to the message's id and `updated_at` to its `created_at`), atomically: only
    /// if every id of `message.attachment_ids` is a `Ready` attachment of the
    /// message's tenant and ticket that is on no message yet. Otherwise nothing at
    /// all changes and it returns false. A message id that exists already is a
    /// `Conflict`, and nothing changes either.
    async fn create_message(&self, message: &Message) -> Stored<bool>;
    /// At most `limit` attachments, of any tenant and in any state, whose
    /// `upload_expires_at` is at or before `before`, soonest first: what the
    /// sweeper visits. Direct uploads never sent or confirmed and uploads whose
    /// request died (a crash included) are removed; so are uploads a sweep
    /// claimed but could not finish and `Deleted` tombstones; kept ones
    /// (confirmed, or failed for a reason clients read) have their staged
    /// object deleted a last time once their upload URL has expired.
    async fn expired_uploads(
        &self,
        before: OffsetDateTime,
        limit: usize,
    ) -> Stored<Vec<Attachment>>;
    /// Whether the store can serve this binary now: reachable, with every
    /// migration it expects applied. `/readyz` asks it, so a load balancer stops
    /// sending requests an instance could only fail.
    async fn check_ready(&self) -> Stored<()>;
    /// The quota limits of `tenant` and what it uses (unlimited and nothing,
    /// for a tenant never limited that has no attachments).
    async fn quota(&self, tenant: TenantId) -> Stored<Quota>;
    /// Sets the quota limits of `tenant` (usage is untouched: limits below it
    /// refuse new attachments until enough are deleted).
    async fn set_quota_limits(&self, tenant: TenantId, limits: QuotaLimits) -> Stored<()>;
    /// At most `limit` attachments of `tenant` in any state, tombstones
    /// included: what a tenant's purge deletes, batch by batch.
    async fn any_of_tenant(&self, tenant: TenantId, limit: usize) -> Stored<Vec<Attachment>>;
    /// Forgets what remains of `tenant` once its attachments are gone: its
    /// messages and its quota.
    async fn forget_tenant(&self, tenant: TenantId) -> Stored<()>;
}

/// Tenants, API keys and sessions.
///
/// Contract (see `contract::identity_store`): slugs and secret hashes are unique
/// (`Conflict` otherwise); lookups by hash return revoked or expired records too —
/// the services decide what they mean.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Stores a new tenant.
    async fn create_tenant(&self, tenant: &Tenant) -> Stored<()>;
    /// The tenant named `slug`.
    async fn tenant_by_slug(&self, slug: &str) -> Stored<Option<Tenant>>;
    /// The tenant with `id`.
    async fn tenant_by_id(&self, id: TenantId) -> Stored<Option<Tenant>>;
    /// At most `limit` tenants whose slug sorts after `after` (from the first
    /// when `None`), in slug order: a host pages through them by the last
    /// slug it saw.
    async fn list_tenants(&self, after: Option<&str>, limit: usize) -> Stored<Vec<Tenant>>;
    /// Replaces the upload rules of `tenant`; returns whether it exists.
    async fn set_tenant_policy(&self, tenant: TenantId, policy: &TenantPolicy) -> Stored<bool>;
    /// Stores a new API key (hash only).
    async fn create_api_key(&self, key: &ApiKey) -> Stored<()>;
    /// The key whose secret hashes to `hash`.
    async fn api_key_by_hash(&self, hash: &str) -> Stored<Option<ApiKey>>;
    /// Every key of `tenant`, revoked ones too, oldest first.
    async fn api_keys_of(&self, tenant: TenantId) -> Stored<Vec<ApiKey>>;
    /// Keys whose display prefix starts with `prefix`, or whose id is `prefix`.
    async fn find_api_keys(&self, prefix_or_id: &str) -> Stored<Vec<ApiKey>>;
    /// Marks the key revoked at `at`; returns whether it existed.
    async fn revoke_api_key(&self, id: Uuid, at: OffsetDateTime) -> Stored<bool>;
    /// Stores a new session (hash only).
    async fn create_session(&self, session: &Session) -> Stored<()>;
    /// The session whose cookie hashes to `hash`.
    async fn session_by_hash(&self, hash: &str) -> Stored<Option<Session>>;
    /// The session with `id`.
    async fn session_by_id(&self, id: Uuid) -> Stored<Option<Session>>;
    /// Marks the session revoked at `at`, so it authenticates nothing from then
    /// on; returns whether it existed.
    async fn revoke_session(&self, id: Uuid, at: OffsetDateTime) -> Stored<bool>;
    /// Begins deleting `tenant`: revokes at `at` every key and session of it
    /// not revoked yet, then stamps its `deleting_since` (keeping an earlier
    /// stamp), so that once it is marked nothing of it authenticates. Records
    /// `event` (`tenant.deleted`) in the same transaction, fanned out to the
    /// tenant's webhooks as they are then.
    async fn begin_tenant_deletion(
        &self,
        tenant: TenantId,
        at: OffsetDateTime,
        event: Option<&Event>,
    ) -> Stored<()>;
    /// Tenants whose deletion began and is not finished: what a restarted
    /// instance resumes.
    async fn tenants_being_deleted(&self) -> Stored<Vec<Tenant>>;
    /// Removes the tenant with its keys and sessions; returns whether it existed.
    async fn delete_tenant(&self, tenant: TenantId) -> Stored<bool>;
}

/// A blob store failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// No object under that key.
    #[error("no such object")]
    NotFound,
    /// The body being stored broke off; nothing was kept.
    #[error(transparent)]
    Body(#[from] BodyError),
    /// The store failed; the message is for logs.
    #[error("blob store failed: {0}")]
    Backend(String),
}

/// The chunks of a stored object.
pub type BlobStream = Pin<Box<dyn Stream<Item = Result<Bytes, BlobError>> + Send>>;

/// A body for [`BlobStore::put`], borrowed so the caller can inspect it afterwards.
pub type PutBody<'a> = &'a mut (dyn Stream<Item = Result<Bytes, BodyError>> + Send + Unpin);

/// A stored object opened for reading.
pub struct BlobReader {
    /// Total size in bytes.
    pub size: u64,
    /// The bytes, streamed.
    pub stream: BlobStream,
}

/// Where the bytes live.
///
/// Contract (see `contract::blob_store`): `put` streams the body to the store and
/// makes the object visible only once the whole body arrived — if the body yields
/// an error, the upload is aborted and no object (not even a partial one) remains;
/// `get` streams the exact bytes; `delete` is idempotent.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Streams `body` into the object `key`; returns the number of bytes stored.
    async fn put(&self, key: &str, body: PutBody<'_>) -> Result<u64, BlobError>;
    /// Opens the object `key` for streaming.
    async fn get(&self, key: &str) -> Result<BlobReader, BlobError>;
    /// Opens just the bytes `range` (end exclusive, within the object) of `key`
    /// as a ranged read of the store, so a client seeking in a video does not
    /// make Clasp read what it skips. The reader's `size` is the range's length.
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<BlobReader, BlobError>;
    /// Size of the object `key`, if it exists.
    async fn head(&self, key: &str) -> Result<Option<u64>, BlobError>;
    /// Removes the object `key`; absent objects are not an error.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
    /// The store's entity tag of the object `key` (S3's `ETag`), if the object
    /// exists. A client that uploaded straight to the store may quote it back when
    /// it confirms, proving it uploaded exactly this object. Stores without entity
    /// tags answer some version string that changes whenever the object does.
    async fn etag(&self, key: &str) -> Result<Option<String>, BlobError>;
    /// Whether the store answers now (reachable, credentials and bucket
    /// accepted), without writing anything: `/readyz` asks it.
    async fn check_ready(&self) -> Result<(), BlobError>;
}

/// What a signed URL grants: reading one attachment's bytes until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTarget {
    /// The attachment's tenant.
    pub tenant_id: TenantId,
    /// The attachment.
    pub attachment_id: AttachmentId,
    /// Where its bytes live (an S3 signer signs this key).
    pub blob_key: String,
    /// The filename a browser should save as.
    pub filename: String,
    /// The stored media type, which the URL's response must carry.
    pub content_type: String,
}

/// A URL a client may fetch without other credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedUrl {
    /// The absolute URL.
    pub url: String,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
}

/// The parts of a request to one of Clasp's own signed URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The tenant named in the URL.
    pub tenant_id: TenantId,
    /// The attachment named in the URL.
    pub attachment_id: AttachmentId,
    /// Expiry, in Unix seconds, as carried by the URL.
    pub expires: i64,
    /// The signature carried by the URL.
    pub signature: String,
}

/// Why a signed request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature does not match what was signed.
    #[error("the signature is invalid")]
    Invalid,
    /// The URL's time is up.
    #[error("the URL has expired")]
    Expired,
    /// The signer could not produce a URL.
    #[error("could not sign a URL: {0}")]
    Backend(String),
}

/// What a signer answers: the signed thing, or why there is none.
pub type Signed<T> = Result<T, SignatureError>;

/// Mints URLs that grant access to one attachment's bytes for a while, and checks
/// the ones Clasp itself serves.
///
/// Contract (see `contract::url_signer`): a URL it signs verifies until it
/// expires and never after; any change to tenant, attachment, expiry or signature
/// fails verification.
#[async_trait]
pub trait UrlSigner: Send + Sync {
    /// A URL for downloading `target`, valid until `end`.
    async fn download_url(&self, target: &SignedTarget, end: OffsetDateTime) -> Signed<SignedUrl>;
    /// Checks a request to a Clasp-served signed URL at time `now`.
    fn verify(&self, request: &SignedRequest, now: OffsetDateTime) -> Signed<()>;
}

/// What an upload URL grants: storing at most `size` bytes as one attachment's
/// upload, until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadTarget {
    /// The attachment's tenant.
    pub tenant_id: TenantId,
    /// The attachment, which is `Pending`.
    pub attachment_id: AttachmentId,
    /// Where the uploaded bytes go (an S3 signer presigns a PUT of this key);
    /// see [`Attachment::upload_key`].
    pub blob_key: String,
    /// The size the client declared: the most the URL accepts.
    pub size: u64,
    /// The media type the client declared (an S3 signer may bind it).
    pub content_type: String,
}

/// A URL a client uploads to without other credentials, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadUrl {
    /// The absolute URL.
    pub url: String,
    /// The HTTP method to use (`PUT`).
    pub method: String,
    /// Headers the client must send with the bytes, as name and value.
    pub headers: Vec<(String, String)>,
    /// The same upload as a browser form `POST`, for clients that POST (seed
    /// 000: "Upload the file with a PUT or POST to the given URL").
    pub form: UploadForm,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
}

/// A `multipart/form-data` `POST` that uploads the same bytes: the `fields`, in
/// order, then the file as the field `file` (last, as S3 requires). An object
/// store takes a POST only as such a form, its signed policy among the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadForm {
    /// Where to POST the form.
    pub url: String,
    /// The form's fields before the file, as name and value.
    pub fields: Vec<(String, String)>,
}

/// The parts of a request to one of Clasp's own signed upload URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedUploadRequest {
    /// The tenant named in the URL.
    pub tenant_id: TenantId,
    /// The attachment named in the URL.
    pub attachment_id: AttachmentId,
    /// Expiry, in Unix seconds, as carried by the URL.
    pub expires: i64,
    /// The most bytes the URL accepts, as carried by the URL.
    pub size: u64,
    /// The signature carried by the URL.
    pub signature: String,
}

/// Mints URLs that let a client upload one attachment's bytes directly, for a
/// while, and checks the ones Clasp itself serves. Separate from [`UrlSigner`] so
/// an upload signer (Clasp's HMAC, S3 presigned PUTs) can be chosen on its own.
///
/// Contract (see `contract::upload_signer`): a URL it mints for Clasp to serve
/// verifies until it expires and never after; any change to tenant, attachment,
/// expiry, size or signature fails with `Invalid`, and a tampered request is
/// `Invalid` even once its time is up. A signer whose URLs point elsewhere (S3)
/// refuses every request with `Invalid`. Download signatures never verify as
/// upload signatures.
#[async_trait]
pub trait UploadSigner: Send + Sync {
    /// A URL for uploading `target`'s bytes, valid until `end`.
    async fn upload_url(&self, target: &UploadTarget, end: OffsetDateTime) -> Signed<UploadUrl>;
    /// Checks a request to a Clasp-served upload URL at time `now`.
    fn verify_upload(&self, request: &SignedUploadRequest, now: OffsetDateTime) -> Signed<()>;
}

/// The media type of every thumbnail a [`Thumbnailer`] makes.
pub const THUMBNAIL_CONTENT_TYPE: &str = "image/webp";

/// Why no thumbnail could be made of an image. None of these is a failure of
/// the upload: the attachment simply has no thumbnail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThumbnailError {
    /// The type is not one thumbnails are made of.
    #[error("no thumbnails are made of {0}")]
    Unsupported(String),
    /// The image is larger than the decoder may take on (a decompression bomb,
    /// or simply too many pixels).
    #[error("the image is too large to decode: {0}")]
    TooLarge(String),
    /// The bytes do not decode as an image of their type.
    #[error("the image does not decode: {0}")]
    Undecodable(String),
    /// The thumbnailer itself failed.
    #[error("making the thumbnail failed: {0}")]
    Backend(String),
}

/// Makes small previews of images: CPU work kept behind a port, so the domain
/// stays free of codecs and of the executor that runs them off the request path.
///
/// Contract: for a decodable image of a type in [`crate::validation::THUMBNAIL_TYPES`]
/// it answers a [`THUMBNAIL_CONTENT_TYPE`] image that fits a
/// [`crate::validation::THUMBNAIL_EDGE`]-pixel square, keeping the aspect ratio;
/// images beyond its pixel or memory limits are refused with `TooLarge` before
/// they are decoded, and undecodable bytes with `Undecodable` — never a panic.
#[async_trait]
pub trait Thumbnailer: Send + Sync {
    /// A thumbnail of `image`, whose media type is `content_type`.
    async fn thumbnail(&self, image: Bytes, content_type: &str) -> Result<Bytes, ThumbnailError>;
}

/// What a [`Scanner`] found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing known to be harmful.
    Clean,
    /// Malware (or a test signature such as EICAR's): the file must never be served.
    Infected {
        /// The scanner's name of what it found (e.g. `Eicar-Test-Signature`).
        signature: String,
    },
}

/// Why a scan gave no verdict. Uploads fail closed on it: nothing unscanned
/// becomes `Ready`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// The scanner could not be reached, answered nonsense, reported an error or
    /// took longer than allowed; the message is for logs.
    #[error("the virus scanner failed: {0}")]
    Unavailable(String),
    /// Reading the bytes to scan failed.
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// Looks for malware in a stored file before it becomes `Ready`: a port so the
/// domain decides *when* files are scanned (every upload path, after the other
/// checks) while an adapter (ClamAV's `clamd`) decides *how*.
///
/// Contract: `scan` reads the stream to its end (or until it has a verdict)
/// without holding the whole file in memory, and answers within a bounded time —
/// an adapter that cannot answers `Unavailable`, never `Clean`.
#[async_trait]
pub trait Scanner: Send + Sync {
    /// Whether this scanner looks at bytes at all. [`NoScanner`] answers false,
    /// so the services do not read a stored file back only to ignore it.
    fn scans(&self) -> bool {
        true
    }
    /// The verdict on the bytes of `file`.
    async fn scan(&self, file: BlobReader) -> Result<Verdict, ScanError>;
    /// Whether the scanner answers now. `/readyz` asks it: with a scanner
    /// configured, no upload can become `Ready` while it is down, so an instance
    /// without it should get no uploads from its load balancer.
    async fn check_ready(&self) -> Result<(), ScanError> {
        Ok(())
    }
}

/// The default scanner: finds nothing and reads nothing. Deployments without a
/// virus scanner (and embedders that scan elsewhere) use it.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoScanner;

#[async_trait]
impl Scanner for NoScanner {
    fn scans(&self) -> bool {
        false
    }

    async fn scan(&self, _file: BlobReader) -> Result<Verdict, ScanError> {
        Ok(Verdict::Clean)
    }
}

/// The current time; a port so tests can move it.
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The real clock, read to the microsecond: the precision every metadata store
/// keeps, so a timestamp answered at creation equals the one read back later.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        now.replace_nanosecond(now.microsecond() * 1_000)
            .unwrap_or(now)
    }
}

/// Where the services' audit records go ([`crate::audit`]): one per change,
/// refusals included. Recording must not fail nor wait: an adapter that ships
/// records elsewhere buffers them itself.
pub trait AuditLog: Send + Sync {
    /// Records `record`.
    fn record(&self, record: crate::audit::AuditRecord);
}

/// Drops every record: for embedders that keep no trail.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAudit;

impl AuditLog for NoAudit {
    fn record(&self, _record: crate::audit::AuditRecord) {}
}
