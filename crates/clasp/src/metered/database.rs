//! The metadata stores, timed: every call of the attachment repository and of
//! the identity store is recorded in `clasp_database_operation_duration_seconds`
//! by operation (the port's method) and result, in a span of its own, and
//! passed on unchanged. The
//! credential cache sits above it, so only calls that reach the database count.

use std::sync::Arc;
use std::time::Instant;

use clasp_domain::attachment::{Attachment, AttachmentId, SubjectRef};
use clasp_domain::credentials::{ApiKey, Session};
use clasp_domain::events::Event;
use clasp_domain::listing::ListQuery;
use clasp_domain::message::Message;
use clasp_domain::policy::TenantPolicy;
use clasp_domain::ports::{AttachmentRepository, IdentityStore, RepoError, Stored};
use clasp_domain::quota::{Quota, QuotaLimits};
use clasp_domain::resumable::{Progress, ResumableStore};
use clasp_domain::tenant::{Tenant, TenantId};
use clasp_http::ops::Metrics;
use time::OffsetDateTime;
use uuid::Uuid;

/// A metadata store whose every call is timed.
pub struct MeteredMetadata<S: ?Sized> {
    inner: Arc<S>,
    metrics: Metrics,
}

impl<S: ?Sized> MeteredMetadata<S> {
    /// Times every call of `inner` into `metrics`.
    pub fn new(inner: Arc<S>, metrics: Metrics) -> Self {
        Self { inner, metrics }
    }

    /// Records how `operation`, begun at `began`, ended; passes its result on.
    fn timed<T>(&self, operation: &'static str, began: Instant, result: Stored<T>) -> Stored<T> {
        // A conflict or a full quota is the database's answer, not its failure.
        let ok = !matches!(result, Err(RepoError::Backend(_)));
        self.metrics
            .observe_database(operation, ok, began.elapsed());
        result
    }
}

timed_port!(MeteredMetadata<dyn AttachmentRepository>, AttachmentRepository, "database" {
    fn insert(&self, attachment: &Attachment) -> Stored<i64>;
    fn get(&self, tenant: TenantId, id: AttachmentId) -> Stored<Option<Attachment>>;
    fn get_by_number(&self, tenant: TenantId, number: i64) -> Stored<Option<Attachment>>;
    fn set_thumbnail(&self, tenant: TenantId, id: AttachmentId, key: &str, at: OffsetDateTime, event: Option<&Event>) -> Stored<bool>;
    fn clear_upload_deadline(&self, tenant: TenantId, id: AttachmentId) -> Stored<bool>;
    fn update(&self, attachment: &Attachment, event: Option<&Event>) -> Stored<bool>;
    fn list_ready(&self, tenant: TenantId, subject: &SubjectRef, limit: usize) -> Stored<Vec<Attachment>>;
    fn list_page(&self, tenant: TenantId, query: &ListQuery) -> Stored<Vec<Attachment>>;
    fn delete(&self, tenant: TenantId, id: AttachmentId, event: Option<&Event>) -> Stored<bool>;
    fn create_message(&self, message: &Message) -> Stored<bool>;
    fn expired_uploads(&self, before: OffsetDateTime, limit: usize) -> Stored<Vec<Attachment>>;
    fn check_ready(&self) -> Stored<()>;
    fn quota(&self, tenant: TenantId) -> Stored<Quota>;
    fn set_quota_limits(&self, tenant: TenantId, limits: QuotaLimits) -> Stored<()>;
    fn any_of_tenant(&self, tenant: TenantId, limit: usize) -> Stored<Vec<Attachment>>;
    fn forget_tenant(&self, tenant: TenantId) -> Stored<()>;
});

timed_port!(MeteredMetadata<dyn IdentityStore>, IdentityStore, "database" {
    fn create_tenant(&self, tenant: &Tenant) -> Stored<()>;
    fn tenant_by_slug(&self, slug: &str) -> Stored<Option<Tenant>>;
    fn tenant_by_id(&self, id: TenantId) -> Stored<Option<Tenant>>;
    fn list_tenants(&self, after: Option<&str>, limit: usize) -> Stored<Vec<Tenant>>;
    fn set_tenant_policy(&self, tenant: TenantId, policy: &TenantPolicy) -> Stored<bool>;
    fn create_api_key(&self, key: &ApiKey) -> Stored<()>;
    fn api_key_by_hash(&self, hash: &str) -> Stored<Option<ApiKey>>;
    fn api_keys_of(&self, tenant: TenantId) -> Stored<Vec<ApiKey>>;
    fn find_api_keys(&self, prefix_or_id: &str) -> Stored<Vec<ApiKey>>;
    fn revoke_api_key(&self, id: Uuid, at: OffsetDateTime) -> Stored<bool>;
    fn create_session(&self, session: &Session) -> Stored<()>;
    fn session_by_hash(&self, hash: &str) -> Stored<Option<Session>>;
    fn session_by_id(&self, id: Uuid) -> Stored<Option<Session>>;
    fn revoke_session(&self, id: Uuid, at: OffsetDateTime) -> Stored<bool>;
    fn begin_tenant_deletion(&self, tenant: TenantId, at: OffsetDateTime, event: Option<&Event>) -> Stored<()>;
    fn tenants_being_deleted(&self) -> Stored<Vec<Tenant>>;
    fn delete_tenant(&self, tenant: TenantId) -> Stored<bool>;
});

timed_port!(MeteredMetadata<dyn ResumableStore>, ResumableStore, "database" {
    fn begin_resumable(&self, progress: &Progress) -> Stored<()>;
    fn progress(&self, tenant: TenantId, id: AttachmentId) -> Stored<Option<Progress>>;
    fn begin_attempt(&self, tenant: TenantId, id: AttachmentId) -> Stored<Option<u32>>;
    fn advance(&self, from: &Progress, received: u64, attempt: u32) -> Stored<bool>;
    fn take_back(&self, to: &Progress, received: u64) -> Stored<bool>;
    fn forget_resumable(&self, tenant: TenantId, id: AttachmentId) -> Stored<()>;
});
