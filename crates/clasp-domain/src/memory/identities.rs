//! Tenants, API keys and sessions in maps.

use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::credentials::{ApiKey, Session};
use crate::ports::{IdentityStore, RepoError, Stored};
use crate::tenant::{Tenant, TenantId};

use super::lock;

/// Tenants, keys and sessions in maps.
#[derive(Default)]
pub struct MemoryIdentities {
    tenants: Mutex<Vec<Tenant>>,
    keys: Mutex<Vec<ApiKey>>,
    sessions: Mutex<Vec<Session>>,
}

#[async_trait]
impl IdentityStore for MemoryIdentities {
    async fn create_tenant(&self, tenant: &Tenant) -> Stored<()> {
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

    async fn tenant_by_slug(&self, slug: &str) -> Stored<Option<Tenant>> {
        Ok(lock(&self.tenants).iter().find(|t| t.slug == slug).cloned())
    }

    async fn tenant_by_id(&self, id: TenantId) -> Stored<Option<Tenant>> {
        Ok(lock(&self.tenants).iter().find(|t| t.id == id).cloned())
    }

    async fn create_api_key(&self, key: &ApiKey) -> Stored<()> {
        let mut keys = lock(&self.keys);
        if keys.iter().any(|k| k.hash == key.hash || k.id == key.id) {
            return Err(RepoError::Conflict(key.prefix.clone()));
        }
        keys.push(key.clone());
        Ok(())
    }

    async fn api_key_by_hash(&self, hash: &str) -> Stored<Option<ApiKey>> {
        Ok(lock(&self.keys).iter().find(|k| k.hash == hash).cloned())
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
        let mut keys = lock(&self.keys);
        match keys.iter_mut().find(|k| k.id == id) {
            Some(k) => {
                k.revoked_at.get_or_insert(at);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn create_session(&self, session: &Session) -> Stored<()> {
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
