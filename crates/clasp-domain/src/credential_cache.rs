//! A short-lived cache of live credentials in front of an [`IdentityStore`].
//!
//! Every authenticated request looks its API key or session up by hash; for a
//! metadata read that lookup is half of the store's work. This decorator keeps
//! a key or session that was found live for at most `ttl`, so a client
//! sending many requests costs one lookup per `ttl`. What it may get wrong is
//! bounded:
//! - a revocation made through this decorator (the admin API of this instance,
//!   a tenant deletion begun here) takes effect at once: the entry is dropped
//!   when the store has revoked it;
//! - a revocation made elsewhere (another instance, `clasp admin` in another
//!   process) takes effect here within `ttl`;
//! - only credentials the store returned live are kept: an unknown or revoked
//!   secret always reaches the store, so guessing fills nothing;
//! - at most [`CACHED_CREDENTIALS`] of each kind are kept: past that the
//!   expired entries are dropped, and if none had expired, all of them.
//!
//! Expiry of a session is not the cache's business: the cached record carries
//! its `expires_at`, which the identity service checks on every request.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::credentials::{ApiKey, Session};
use crate::events::Event;
use crate::policy::TenantPolicy;
use crate::ports::{Clock, IdentityStore, Stored};
use crate::tenant::{Tenant, TenantId};

/// Most keys, and most sessions, one instance keeps cached.
pub const CACHED_CREDENTIALS: usize = 10_000;

/// An [`IdentityStore`] that answers repeated lookups of live credentials from
/// memory for at most `ttl` (see the module documentation for what that costs).
pub struct CachedIdentities {
    inner: Arc<dyn IdentityStore>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    keys: Recent<ApiKey>,
    sessions: Recent<Session>,
}

impl CachedIdentities {
    /// Caches what `inner` finds live for `ttl`, by `clock`'s time.
    pub fn new(inner: Arc<dyn IdentityStore>, clock: Arc<dyn Clock>, ttl: Duration) -> Self {
        Self {
            inner,
            clock,
            ttl,
            keys: Recent::default(),
            sessions: Recent::default(),
        }
    }

    /// Drops every key and session of `tenant`.
    fn forget_tenant(&self, tenant: TenantId) {
        self.keys.forget(|k| k.tenant() == tenant);
        self.sessions.forget(|s| s.tenant() == tenant);
    }
}

/// A credential record the cache can keep: what tells it is live and whose.
trait Credential: Clone {
    fn id(&self) -> Uuid;
    fn tenant(&self) -> TenantId;
    fn live(&self) -> bool;
}

impl Credential for ApiKey {
    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> TenantId {
        self.tenant_id
    }
    fn live(&self) -> bool {
        self.revoked_at.is_none()
    }
}

impl Credential for Session {
    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> TenantId {
        self.tenant_id
    }
    fn live(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// Records by secret hash, each with the time it was looked up.
struct Recent<T>(Mutex<HashMap<String, (T, OffsetDateTime)>>);

impl<T> Default for Recent<T> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<T: Credential> Recent<T> {
    /// The record of `hash`, if it was looked up less than `ttl` before `now`.
    fn fresh(&self, hash: &str, now: OffsetDateTime, ttl: Duration) -> Option<T> {
        let entries = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(hash)
            .filter(|(_, at)| now - *at < ttl)
            .map(|(record, _)| record.clone())
    }

    /// Keeps `found` if it is live, making room as the module documentation says.
    fn keep(&self, hash: &str, found: &Option<T>, now: OffsetDateTime, ttl: Duration) {
        let Some(record) = found.as_ref().filter(|r| r.live()) else {
            return;
        };
        let mut entries = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CACHED_CREDENTIALS && !entries.contains_key(hash) {
            entries.retain(|_, (_, at)| now - *at < ttl);
            if entries.len() >= CACHED_CREDENTIALS {
                entries.clear();
            }
        }
        entries.insert(hash.to_owned(), (record.clone(), now));
    }

    /// The record of `hash`: the one kept, if it is fresh at `now`, else
    /// what `ask` finds, kept if it is live.
    async fn through<F: Future<Output = Stored<Option<T>>>>(
        &self,
        hash: &str,
        now: OffsetDateTime,
        ttl: Duration,
        ask: impl FnOnce() -> F,
    ) -> Stored<Option<T>> {
        if let Some(record) = self.fresh(hash, now, ttl) {
            return Ok(Some(record));
        }
        let found = ask().await?;
        self.keep(hash, &found, now, ttl);
        Ok(found)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Drops every record `gone` says no longer stands.
    fn forget(&self, gone: impl Fn(&T) -> bool) {
        let mut entries = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|_, (record, _)| !gone(record));
    }
}

#[async_trait]
impl IdentityStore for CachedIdentities {
    async fn create_tenant(&self, tenant: &Tenant) -> Stored<()> {
        self.inner.create_tenant(tenant).await
    }

    async fn tenant_by_slug(&self, slug: &str) -> Stored<Option<Tenant>> {
        self.inner.tenant_by_slug(slug).await
    }

    async fn tenant_by_id(&self, id: TenantId) -> Stored<Option<Tenant>> {
        self.inner.tenant_by_id(id).await
    }

    async fn list_tenants(&self, after: Option<&str>, limit: usize) -> Stored<Vec<Tenant>> {
        self.inner.list_tenants(after, limit).await
    }

    async fn set_tenant_policy(&self, tenant: TenantId, policy: &TenantPolicy) -> Stored<bool> {
        self.inner.set_tenant_policy(tenant, policy).await
    }

    async fn create_api_key(&self, key: &ApiKey) -> Stored<()> {
        self.inner.create_api_key(key).await
    }

    async fn api_key_by_hash(&self, hash: &str) -> Stored<Option<ApiKey>> {
        let ask = || self.inner.api_key_by_hash(hash);
        self.keys
            .through(hash, self.clock.now(), self.ttl, ask)
            .await
    }

    async fn api_keys_of(&self, tenant: TenantId) -> Stored<Vec<ApiKey>> {
        self.inner.api_keys_of(tenant).await
    }

    async fn find_api_keys(&self, prefix_or_id: &str) -> Stored<Vec<ApiKey>> {
        self.inner.find_api_keys(prefix_or_id).await
    }

    async fn revoke_api_key(&self, id: Uuid, at: OffsetDateTime) -> Stored<bool> {
        let existed = self.inner.revoke_api_key(id, at).await?;
        self.keys.forget(|k| k.id() == id);
        Ok(existed)
    }

    async fn create_session(&self, session: &Session) -> Stored<()> {
        self.inner.create_session(session).await
    }

    async fn session_by_hash(&self, hash: &str) -> Stored<Option<Session>> {
        let ask = || self.inner.session_by_hash(hash);
        self.sessions
            .through(hash, self.clock.now(), self.ttl, ask)
            .await
    }

    async fn session_by_id(&self, id: Uuid) -> Stored<Option<Session>> {
        self.inner.session_by_id(id).await
    }

    async fn revoke_session(&self, id: Uuid, at: OffsetDateTime) -> Stored<bool> {
        let existed = self.inner.revoke_session(id, at).await?;
        self.sessions.forget(|s| s.id() == id);
        Ok(existed)
    }

    async fn begin_tenant_deletion(
        &self,
        tenant: TenantId,
        at: OffsetDateTime,
        event: Option<&Event>,
    ) -> Stored<()> {
        self.inner.begin_tenant_deletion(tenant, at, event).await?;
        self.forget_tenant(tenant);
        Ok(())
    }

    async fn tenants_being_deleted(&self) -> Stored<Vec<Tenant>> {
        self.inner.tenants_being_deleted().await
    }

    async fn delete_tenant(&self, tenant: TenantId) -> Stored<bool> {
        let existed = self.inner.delete_tenant(tenant).await?;
        self.forget_tenant(tenant);
        Ok(existed)
    }
}

#[cfg(test)]
mod tests;
