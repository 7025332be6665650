//! In-memory adapters of every port: for embedding without infrastructure, for
//! examples, and for tests of the services and of HTTP front ends. They keep
//! everything in process memory and lose it on exit.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::attachment::{Attachment, AttachmentId, SubjectRef};
use crate::credentials::{ApiKey, Session, generate_session_token};
use crate::listing::ListQuery;
use crate::message::{Message, MessageId};
use crate::ports::{
    AttachmentRepository, BlobError, BlobReader, BlobStore, Clock, IdentityStore, NoScanner,
    PutBody, RepoError, ScanError, Scanner, SignatureError, SignedRequest, SignedTarget,
    SignedUploadRequest, SignedUrl, ThumbnailError, Thumbnailer, UploadSigner, UploadTarget,
    UploadUrl, UrlSigner, Verdict, clasp_signed_upload_url, clasp_signed_url,
};
use crate::quota::{Quota, QuotaLimits};
use crate::services::Ports;
use crate::state::AttachmentState;
use crate::tenant::{Tenant, TenantId};

/// Locks a mutex, recovering the data if another thread panicked while holding it
/// (every critical section here leaves the maps consistent).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Attachment metadata and messages in maps.
#[derive(Default)]
pub struct MemoryAttachments {
    rows: Mutex<HashMap<AttachmentId, Attachment>>,
    messages: Mutex<HashMap<MessageId, Message>>,
    next_number: AtomicI64,
    /// Limits and usage by tenant; locked after `rows`, with it held, so usage
    /// changes with the rows it accounts for.
    quotas: Mutex<HashMap<TenantId, Quota>>,
}

impl MemoryAttachments {
    /// Charges `bytes` and `attachments` (either may be negative) to `tenant`.
    fn charge(&self, tenant: TenantId, bytes: i128, attachments: i128) {
        let mut quotas = lock(&self.quotas);
        let usage = &mut quotas.entry(tenant).or_default().usage;
        let shift = |v: u64, by: i128| u64::try_from(i128::from(v) + by).unwrap_or(0);
        usage.bytes = shift(usage.bytes, bytes);
        usage.attachments = shift(usage.attachments, attachments);
    }
}

#[async_trait]
impl AttachmentRepository for MemoryAttachments {
    async fn insert(&self, attachment: &Attachment) -> Result<i64, RepoError> {
        let mut rows = lock(&self.rows);
        if rows.contains_key(&attachment.id) {
            return Err(RepoError::Conflict(attachment.id.to_string()));
        }
        let quota = lock(&self.quotas)
            .get(&attachment.tenant_id)
            .copied()
            .unwrap_or_default();
        if quota.admits(attachment.charged_bytes()).is_err() {
            return Err(RepoError::QuotaExceeded);
        }
        self.charge(
            attachment.tenant_id,
            i128::from(attachment.charged_bytes()),
            1,
        );
        let number = self.next_number.fetch_add(1, Ordering::Relaxed) + 1;
        let mut row = attachment.clone();
        row.number = number;
        rows.insert(row.id, row);
        Ok(number)
    }

    async fn get(
        &self,
        tenant: TenantId,
        id: AttachmentId,
    ) -> Result<Option<Attachment>, RepoError> {
        Ok(lock(&self.rows)
            .get(&id)
            .filter(|a| a.tenant_id == tenant)
            .cloned())
    }

    async fn get_by_number(
        &self,
        tenant: TenantId,
        number: i64,
    ) -> Result<Option<Attachment>, RepoError> {
        Ok(lock(&self.rows)
            .values()
            .find(|a| a.number == number && a.tenant_id == tenant)
            .cloned())
    }

    async fn set_thumbnail(
        &self,
        tenant: TenantId,
        id: AttachmentId,
        key: &str,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        let mut rows = lock(&self.rows);
        match rows.get_mut(&id) {
            Some(row) if row.tenant_id == tenant && row.is_ready() => {
                row.thumbnail_key = Some(key.to_owned());
                row.updated_at = at;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn update(&self, attachment: &Attachment) -> Result<bool, RepoError> {
        let mut rows = lock(&self.rows);
        match rows.get_mut(&attachment.id) {
            Some(row) if row.tenant_id == attachment.tenant_id => {
                let delta =
                    i128::from(attachment.charged_bytes()) - i128::from(row.charged_bytes());
                self.charge(row.tenant_id, delta, 0);
                let number = row.number;
                *row = attachment.clone();
                row.number = number;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn list_ready(
        &self,
        tenant: TenantId,
        subject: &SubjectRef,
    ) -> Result<Vec<Attachment>, RepoError> {
        let mut found: Vec<Attachment> = lock(&self.rows)
            .values()
            .filter(|a| a.tenant_id == tenant && a.is_ready() && a.subject.matches(subject))
            .cloned()
            .collect();
        found.sort_by_key(|a| (a.created_at, a.id));
        Ok(found)
    }

    async fn list_page(
        &self,
        tenant: TenantId,
        query: &ListQuery,
    ) -> Result<Vec<Attachment>, RepoError> {
        Ok(query.select(lock(&self.rows).values().filter(|a| a.tenant_id == tenant)))
    }

    async fn delete(&self, tenant: TenantId, id: AttachmentId) -> Result<bool, RepoError> {
        let mut rows = lock(&self.rows);
        if rows.get(&id).is_some_and(|a| a.tenant_id == tenant) {
            if let Some(gone) = rows.remove(&id) {
                self.charge(tenant, -i128::from(gone.charged_bytes()), -1);
            }
            Ok(true)
        } else {
            Ok(false)
        }
    }

    async fn create_message(&self, message: &Message) -> Result<bool, RepoError> {
        // Both locks, always in this order, for the whole check-then-write.
        let mut rows = lock(&self.rows);
        let mut messages = lock(&self.messages);
        if messages.contains_key(&message.id) {
            return Err(RepoError::Conflict(message.id.to_string()));
        }
        let mut wanted = message.attachment_ids.clone();
        wanted.sort();
        wanted.dedup();
        let linkable = wanted.iter().all(|id| {
            rows.get(id).is_some_and(|a| {
                a.tenant_id == message.tenant_id
                    && a.is_ready()
                    && a.subject.ticket_id.as_deref() == Some(message.ticket_id.as_str())
                    && a.subject.message_id.is_none()
            })
        });
        if !linkable {
            return Ok(false);
        }
        for id in &wanted {
            if let Some(a) = rows.get_mut(id) {
                a.subject.message_id = Some(message.id.to_string());
                a.updated_at = message.created_at;
            }
        }
        messages.insert(message.id, message.clone());
        Ok(true)
    }

    async fn expired_uploads(
        &self,
        before: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Attachment>, RepoError> {
        let mut found: Vec<Attachment> = lock(&self.rows)
            .values()
            .filter(|a| {
                matches!(
                    a.state,
                    AttachmentState::Pending | AttachmentState::Uploading
                ) && a.upload_expires_at.is_some_and(|at| at <= before)
            })
            .cloned()
            .collect();
        found.sort_by_key(|a| (a.upload_expires_at, a.id));
        found.truncate(limit);
        Ok(found)
    }

    async fn check_ready(&self) -> Result<(), RepoError> {
        Ok(())
    }

    async fn quota(&self, tenant: TenantId) -> Result<Quota, RepoError> {
        Ok(lock(&self.quotas).get(&tenant).copied().unwrap_or_default())
    }

    async fn set_quota_limits(
        &self,
        tenant: TenantId,
        limits: QuotaLimits,
    ) -> Result<(), RepoError> {
        lock(&self.quotas).entry(tenant).or_default().limits = limits;
        Ok(())
    }
}

/// Tenants, keys and sessions in maps.
#[derive(Default)]
pub struct MemoryIdentities {
    tenants: Mutex<Vec<Tenant>>,
    keys: Mutex<Vec<ApiKey>>,
    sessions: Mutex<Vec<Session>>,
}

#[async_trait]
impl IdentityStore for MemoryIdentities {
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), RepoError> {
        let mut tenants = lock(&self.tenants);
        if tenants
            .iter()
            .any(|t| t.slug == tenant.slug || t.id == tenant.id)
        {
            return Err(RepoError::Conflict(tenant.slug.clone()));
        }
        tenants.push(tenant.clone());
        Ok(())
    }

    async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>, RepoError> {
        Ok(lock(&self.tenants).iter().find(|t| t.slug == slug).cloned())
    }

    async fn tenant_by_id(&self, id: TenantId) -> Result<Option<Tenant>, RepoError> {
        Ok(lock(&self.tenants).iter().find(|t| t.id == id).cloned())
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), RepoError> {
        let mut keys = lock(&self.keys);
        if keys.iter().any(|k| k.hash == key.hash || k.id == key.id) {
            return Err(RepoError::Conflict(key.prefix.clone()));
        }
        keys.push(key.clone());
        Ok(())
    }

    async fn api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, RepoError> {
        Ok(lock(&self.keys).iter().find(|k| k.hash == hash).cloned())
    }

    async fn find_api_keys(&self, prefix_or_id: &str) -> Result<Vec<ApiKey>, RepoError> {
        let id = Uuid::parse_str(prefix_or_id).ok();
        Ok(lock(&self.keys)
            .iter()
            .filter(|k| Some(k.id) == id || k.prefix.starts_with(prefix_or_id))
            .cloned()
            .collect())
    }

    async fn revoke_api_key(&self, id: Uuid, at: OffsetDateTime) -> Result<bool, RepoError> {
        let mut keys = lock(&self.keys);
        match keys.iter_mut().find(|k| k.id == id) {
            Some(k) => {
                k.revoked_at.get_or_insert(at);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn create_session(&self, session: &Session) -> Result<(), RepoError> {
        let mut sessions = lock(&self.sessions);
        if sessions
            .iter()
            .any(|s| s.hash == session.hash || s.id == session.id)
        {
            return Err(RepoError::Conflict(session.id.to_string()));
        }
        sessions.push(session.clone());
        Ok(())
    }

    async fn session_by_hash(&self, hash: &str) -> Result<Option<Session>, RepoError> {
        Ok(lock(&self.sessions)
            .iter()
            .find(|s| s.hash == hash)
            .cloned())
    }

    async fn session_by_id(&self, id: Uuid) -> Result<Option<Session>, RepoError> {
        Ok(lock(&self.sessions).iter().find(|s| s.id == id).cloned())
    }

    async fn revoke_session(&self, id: Uuid, at: OffsetDateTime) -> Result<bool, RepoError> {
        let mut sessions = lock(&self.sessions);
        match sessions.iter_mut().find(|s| s.id == id) {
            Some(s) => {
                s.revoked_at.get_or_insert(at);
                Ok(true)
            }
            None => Ok(false),
        }
    }
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

/// Objects in a map. An object appears only once its whole body has arrived.
/// Each put gives the object a new version, which is its entity tag.
#[derive(Default)]
pub struct MemoryBlobs {
    objects: Mutex<HashMap<String, (Bytes, u64)>>,
    versions: AtomicI64,
}

impl MemoryBlobs {
    /// How many objects are stored (tests check that refused uploads leave none).
    pub fn len(&self) -> usize {
        lock(&self.objects).len()
    }

    /// Whether no object is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores `bytes` under `key` at once, as a client uploading straight to an
    /// object store would (tests of direct uploads use it).
    pub fn insert(&self, key: &str, bytes: &[u8]) {
        let version = self.versions.fetch_add(1, Ordering::Relaxed).unsigned_abs() + 1;
        lock(&self.objects).insert(key.to_owned(), (Bytes::copy_from_slice(bytes), version));
    }

    /// Whether an object is stored under `key`.
    pub fn contains(&self, key: &str) -> bool {
        lock(&self.objects).contains_key(key)
    }
}

/// `bytes` as a reader yielding 64 KiB chunks, as a real store would.
fn reader(bytes: Bytes) -> BlobReader {
    let size = bytes.len() as u64;
    let chunks: Vec<Result<Bytes, BlobError>> = (0..bytes.len())
        .step_by(64 * 1024)
        .map(|at| Ok(bytes.slice(at..bytes.len().min(at + 64 * 1024))))
        .collect();
    BlobReader {
        size,
        stream: Box::pin(futures::stream::iter(chunks)),
    }
}

#[async_trait]
impl BlobStore for MemoryBlobs {
    async fn put(&self, key: &str, body: PutBody<'_>) -> Result<u64, BlobError> {
        let mut buf = Vec::new();
        while let Some(chunk) = body.next().await {
            buf.extend_from_slice(&chunk?);
        }
        let size = buf.len() as u64;
        let version = self.versions.fetch_add(1, Ordering::Relaxed).unsigned_abs() + 1;
        lock(&self.objects).insert(key.to_owned(), (Bytes::from(buf), version));
        Ok(size)
    }

    async fn get(&self, key: &str) -> Result<BlobReader, BlobError> {
        let (bytes, _) = lock(&self.objects)
            .get(key)
            .cloned()
            .ok_or(BlobError::NotFound)?;
        Ok(reader(bytes))
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<BlobReader, BlobError> {
        let (bytes, _) = lock(&self.objects)
            .get(key)
            .cloned()
            .ok_or(BlobError::NotFound)?;
        let end = usize::try_from(range.end)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let start = usize::try_from(range.start).unwrap_or(usize::MAX).min(end);
        Ok(reader(bytes.slice(start..end)))
    }

    async fn head(&self, key: &str) -> Result<Option<u64>, BlobError> {
        Ok(lock(&self.objects).get(key).map(|(b, _)| b.len() as u64))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        lock(&self.objects).remove(key);
        Ok(())
    }

    async fn etag(&self, key: &str) -> Result<Option<String>, BlobError> {
        Ok(lock(&self.objects)
            .get(key)
            .map(|(_, version)| format!("\"v{version}\"")))
    }

    async fn check_ready(&self) -> Result<(), BlobError> {
        Ok(())
    }
}

/// Signs download and upload URLs by remembering a random token per URL:
/// nothing to configure, and the URLs have the same shape as those of Clasp's
/// HMAC signer. Download and upload tokens are kept apart, so neither kind of
/// URL verifies as the other.
pub struct MemorySigner {
    base_url: String,
    issued: Mutex<HashMap<String, (TenantId, AttachmentId, i64)>>,
    uploads: Mutex<HashMap<String, (TenantId, AttachmentId, i64, u64)>>,
}

impl MemorySigner {
    /// A signer whose URLs start with `base_url` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base_url: &str) -> Self {
        Self {
            base_url: base_url.to_owned(),
            issued: Mutex::default(),
            uploads: Mutex::default(),
        }
    }
}

#[async_trait]
impl UploadSigner for MemorySigner {
    async fn upload_url(
        &self,
        target: &UploadTarget,
        expires_at: OffsetDateTime,
    ) -> Result<UploadUrl, SignatureError> {
        let token = generate_session_token();
        let expires = expires_at.unix_timestamp();
        lock(&self.uploads).insert(
            token.clone(),
            (target.tenant_id, target.attachment_id, expires, target.size),
        );
        Ok(UploadUrl {
            url: clasp_signed_upload_url(
                &self.base_url,
                target.tenant_id,
                target.attachment_id,
                expires,
                target.size,
                &token,
            ),
            method: "PUT".into(),
            headers: vec![("Content-Type".into(), target.content_type.clone())],
            expires_at,
        })
    }

    fn verify_upload(
        &self,
        request: &SignedUploadRequest,
        now: OffsetDateTime,
    ) -> Result<(), SignatureError> {
        let uploads = lock(&self.uploads);
        let &issued = uploads
            .get(&request.signature)
            .ok_or(SignatureError::Invalid)?;
        if issued
            != (
                request.tenant_id,
                request.attachment_id,
                request.expires,
                request.size,
            )
        {
            return Err(SignatureError::Invalid);
        }
        if now.unix_timestamp() >= request.expires {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

#[async_trait]
impl UrlSigner for MemorySigner {
    async fn download_url(
        &self,
        target: &SignedTarget,
        expires_at: OffsetDateTime,
    ) -> Result<SignedUrl, SignatureError> {
        let token = generate_session_token();
        let expires = expires_at.unix_timestamp();
        lock(&self.issued).insert(
            token.clone(),
            (target.tenant_id, target.attachment_id, expires),
        );
        Ok(SignedUrl {
            url: clasp_signed_url(
                &self.base_url,
                target.tenant_id,
                target.attachment_id,
                expires,
                &token,
            ),
            expires_at,
        })
    }

    fn verify(&self, request: &SignedRequest, now: OffsetDateTime) -> Result<(), SignatureError> {
        let issued = lock(&self.issued);
        let &(tenant, attachment, expires) = issued
            .get(&request.signature)
            .ok_or(SignatureError::Invalid)?;
        if (tenant, attachment, expires)
            != (request.tenant_id, request.attachment_id, request.expires)
        {
            return Err(SignatureError::Invalid);
        }
        if now.unix_timestamp() >= expires {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

/// A stand-in virus scanner for tests of the services and of front ends: it
/// finds `pattern` anywhere in a file (across chunk boundaries), and can be
/// switched to failing, as an unreachable scanner would. It reads the stream
/// chunk by chunk, keeping only the pattern's length of the previous ones.
pub struct MemoryScanner {
    pattern: Vec<u8>,
    signature: String,
    failing: std::sync::atomic::AtomicBool,
    scanned: std::sync::atomic::AtomicUsize,
}

impl MemoryScanner {
    /// A scanner reporting `signature` for every file containing `pattern`.
    pub fn new(pattern: &[u8], signature: &str) -> Self {
        Self {
            pattern: pattern.to_vec(),
            signature: signature.to_owned(),
            failing: std::sync::atomic::AtomicBool::new(false),
            scanned: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Makes every later scan fail (`true`) or work again (`false`).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// How many files it has given a verdict on.
    pub fn scanned(&self) -> usize {
        self.scanned.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Scanner for MemoryScanner {
    async fn check_ready(&self) -> Result<(), ScanError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(ScanError::Unavailable("the scanner is switched off".into()));
        }
        Ok(())
    }

    async fn scan(&self, mut file: BlobReader) -> Result<Verdict, ScanError> {
        self.check_ready().await?;
        let keep = self.pattern.len().saturating_sub(1);
        let mut window: Vec<u8> = Vec::new();
        let mut found = self.pattern.is_empty();
        while let Some(chunk) = file.stream.next().await {
            window.extend_from_slice(&chunk?);
            found |= window
                .windows(self.pattern.len().max(1))
                .any(|w| w == self.pattern.as_slice());
            let drop = window.len().saturating_sub(keep);
            window.drain(..drop);
        }
        self.scanned.fetch_add(1, Ordering::SeqCst);
        Ok(if found {
            Verdict::Infected {
                signature: self.signature.clone(),
            }
        } else {
            Verdict::Clean
        })
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
}

impl MemoryPorts {
    /// In-memory ports with the system clock and signed URLs under `base_url`.
    pub fn new(base_url: &str) -> Self {
        Self::with_clock(base_url, Arc::new(crate::ports::SystemClock))
    }

    /// In-memory ports with the given clock.
    pub fn with_clock(base_url: &str, clock: Arc<dyn Clock>) -> Self {
        let blobs = Arc::new(MemoryBlobs::default());
        let signer = Arc::new(MemorySigner::new(base_url));
        let ports = Ports {
            attachments: Arc::new(MemoryAttachments::default()),
            identities: Arc::new(MemoryIdentities::default()),
            blobs: blobs.clone(),
            signer: signer.clone(),
            upload_signer: signer,
            thumbnailer: Arc::new(NoThumbnails),
            scanner: Arc::new(NoScanner),
            clock,
        };
        Self { ports, blobs }
    }
}
