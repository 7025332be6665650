//! Tenants, API keys and sessions in maps.

use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::credentials::{ApiKey, Session};
use crate::policy::TenantPolicy;
use crate::ports::{IdentityStore, RepoError, Stored};
use crate::tenant::{Tenant, TenantId};

use std::sync::Arc;

use super::{MemoryOutbox, lock};
use crate::events::Event;

/// Tenants, keys and sessions in maps.
#[derive(Default)]
pub struct MemoryIdentities {
    tenants: Mutex<Vec<Tenant>>,
    keys: Mutex<Vec<ApiKey>>,
    sessions: Mutex<Vec<Session>>,
    outbox: Arc<MemoryOutbox>,
}

impl MemoryIdentities {
    /// An empty store recording events in `outbox`.
    pub fn with_outbox(outbox: Arc<MemoryOutbox>) -> Self {
        Self {
            outbox,
            ..Self::default()
        }
    }
}

#[async_trait]
impl IdentityStore for MemoryIdentities {
    async fn create_tenant(&self, tenant: &Tenant) -> Stored<()> {
        let clash = |t: &Tenant| t.slug == tenant.slug || t.id == tenant.id;
        push_unique(&self.tenants, tenant, clash, &tenant.slug)
    }

    async fn tenant_by_slug(&self, slug: &str) -> Stored<Option<Tenant>> {
        Ok(lock(&self.tenants).iter().find(|t| t.slug == slug).cloned())
    }

    async fn tenant_by_id(&self, id: TenantId) -> Stored<Option<Tenant>> {
        Ok(lock(&self.tenants).iter().find(|t| t.id == id).cloned())
    }

    async fn set_tenant_policy(&self, tenant: TenantId, policy: &TenantPolicy) -> Stored<bool> {
        let mut tenants = lock(&self.tenants);
        let found = tenants.iter_mut().find(|t| t.id == tenant);
        Ok(found.map(|t| t.policy = policy.clone()).is_some())
    }

    async fn list_tenants(&self, after: Option<&str>, limit: usize) -> Stored<Vec<Tenant>> {
        let mut found: Vec<Tenant> = lock(&self.tenants)
            .iter()
            .filter(|t| after.is_none_or(|after| t.slug.as_str() > after))
            .cloned()
            .collect();
        found.sort_by(|a, b| a.slug.cmp(&b.slug));
        found.truncate(limit);
        Ok(found)
    }

    async fn create_api_key(&self, key: &ApiKey) -> Stored<()> {
        let clash = |k: &ApiKey| k.hash == key.hash || k.id == key.id;
        push_unique(&self.keys, key, clash, &key.prefix)
    }

    async fn api_key_by_hash(&self, hash: &str) -> Stored<Option<ApiKey>> {
        Ok(lock(&self.keys).iter().find(|k| k.hash == hash).cloned())
    }

    async fn api_keys_of(&self, tenant: TenantId) -> Stored<Vec<ApiKey>> {
        let mut found: Vec<ApiKey> = lock(&self.keys)
            .iter()
            .filter(|k| k.tenant_id == tenant)
            .cloned()
            .collect();
        found.sort_by_key(|k| (k.created_at, k.id));
        Ok(found)
    }

    async fn find_api_keys(&self, prefix_or_id: &str) -> Stored<Vec<ApiKey>> {
        let id = Uuid::parse_str(prefix_or_id).ok();
        Ok(lock(&self.keys)
            .iter()
            .filter(|k| Some(k.id) == id || k.prefix.starts_with(prefix_or_id))
            .cloned()
            .collect())
    }

    async fn revoke_api_key(&self, id: Uuid, at: OffsetDateTime) -> Stored<bool> {
        Ok(revoke(&self.keys, at, |k| {
            (k.id == id).then_some(&mut k.revoked_at)
        }))
    }

    async fn create_session(&self, session: &Session) -> Stored<()> {
        let clash = |s: &Session| s.hash == session.hash || s.id == session.id;
        push_unique(&self.sessions, session, clash, &session.id.to_string())
    }

    async fn session_by_hash(&self, hash: &str) -> Stored<Option<Session>> {
        Ok(lock(&self.sessions)
            .iter()
            .find(|s| s.hash == hash)
            .cloned())
    }

    async fn session_by_id(&self, id: Uuid) -> Stored<Option<Session>> {
        Ok(lock(&self.sessions).iter().find(|s| s.id == id).cloned())
    }

    async fn revoke_session(&self, id: Uuid, at: OffsetDateTime) -> Stored<bool> {
        Ok(revoke(&self.sessions, at, |s| {
            (s.id == id).then_some(&mut s.revoked_at)
        }))
    }

    async fn begin_tenant_deletion(
        &self,
        tenant: TenantId,
        at: OffsetDateTime,
        event: Option<&Event>,
    ) -> Stored<()> {
        self.outbox.record(true, event);
        for key in lock(&self.keys)
            .iter_mut()
            .filter(|k| k.tenant_id == tenant)
        {
            key.revoked_at.get_or_insert(at);
        }
        for session in lock(&self.sessions)
            .iter_mut()
            .filter(|s| s.tenant_id == tenant)
        {
            session.revoked_at.get_or_insert(at);
        }
        for t in lock(&self.tenants).iter_mut().filter(|t| t.id == tenant) {
            t.deleting_since.get_or_insert(at);
        }
        Ok(())
    }

    async fn tenants_being_deleted(&self) -> Stored<Vec<Tenant>> {
        Ok(lock(&self.tenants)
            .iter()
            .filter(|t| t.deleting_since.is_some())
            .cloned()
            .collect())
    }

    async fn delete_tenant(&self, tenant: TenantId) -> Stored<bool> {
        lock(&self.keys).retain(|k| k.tenant_id != tenant);
        lock(&self.sessions).retain(|s| s.tenant_id != tenant);
        let mut tenants = lock(&self.tenants);
        let before = tenants.len();
        tenants.retain(|t| t.id != tenant);
        Ok(tenants.len() < before)
    }
}

/// Adds `item` unless a row `clash`es with it (a unique value taken), which is
/// a conflict named `name`.
fn push_unique<T: Clone>(
    rows: &Mutex<Vec<T>>,
    item: &T,
    clash: impl Fn(&T) -> bool,
    name: &str,
) -> Stored<()> {
    let mut rows = lock(rows);
    if rows.iter().any(clash) {
        return Err(RepoError::Conflict(name.to_owned()));
    }
    rows.push(item.clone());
    Ok(())
}

/// Stamps `revoked_at` of the row `stamp` picks (keeping an earlier stamp);
/// whether there was such a row.
fn revoke<T>(
    rows: &Mutex<Vec<T>>,
    at: OffsetDateTime,
    stamp: impl FnMut(&mut T) -> Option<&mut Option<OffsetDateTime>>,
) -> bool {
    lock(rows)
        .iter_mut()
        .find_map(stamp)
        .map(|r| r.get_or_insert(at))
        .is_some()
}
