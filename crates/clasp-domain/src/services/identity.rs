//! Tenants, API keys and sessions: creating them (admin) and authenticating with them.

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::audit::{Actor, Change};
use crate::credentials::{
    API_KEY_DISPLAY_LEN, API_KEY_PREFIX, ApiKey, MAX_SESSION_LIFETIME, Principal, PrincipalKind,
    Scopes, Session, generate_api_key, generate_session_token, hash_secret,
};
use crate::error::{AuthError, IdentityError};
use crate::ports::RepoError;
use crate::reach::Reach;
use crate::services::Ports;
use crate::tenant::{Tenant, TenantId, validate_slug};

/// The most tenants one call of [`IdentityService::tenants`] lists.
pub const MAX_TENANTS_LISTED: usize = 1000;

/// Creates identities and turns presented credentials into principals.
#[derive(Clone)]
pub struct IdentityService {
    pub(super) ports: Ports,
}

impl IdentityService {
    /// A service over `ports`.
    pub fn new(ports: Ports) -> Self {
        Self { ports }
    }

    /// Creates a tenant named `slug`.
    pub async fn create_tenant(&self, slug: &str) -> Result<Tenant, IdentityError> {
        let done: Result<Tenant, IdentityError> = async {
            validate_slug(slug)?;
            let tenant = Tenant {
                id: TenantId(Uuid::now_v7()),
                slug: slug.to_owned(),
                created_at: self.ports.clock.now(),
                deleting_since: None,
                policy: Default::default(),
            };
            match self.ports.identities.create_tenant(&tenant).await {
                Ok(()) => Ok(tenant),
                Err(RepoError::Conflict(_)) => Err(IdentityError::TenantExists(slug.to_owned())),
                Err(e) => Err(e.into()),
            }
        }
        .await;
        self.ports.audit(
            Change::CreateTenant,
            Actor::Operator,
            done.as_ref().ok().map(|t| t.id),
            slug,
            &done,
        );
        done
    }

    /// The tenant named `slug`, unless it is being deleted.
    pub async fn tenant(&self, slug: &str) -> Result<Tenant, IdentityError> {
        self.ports
            .identities
            .tenant_by_slug(slug)
            .await?
            .filter(|t| t.deleting_since.is_none())
            .ok_or_else(|| IdentityError::UnknownTenant(slug.to_owned()))
    }

    /// One page of tenants: at most `limit` (capped at [`MAX_TENANTS_LISTED`])
    /// whose slug sorts after `after`, in slug order, those being deleted
    /// left out; and the slug the next page starts after, when there may be one.
    pub async fn tenants(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Tenant>, Option<String>), IdentityError> {
        let limit = limit.clamp(1, MAX_TENANTS_LISTED);
        let mut page = self.ports.identities.list_tenants(after, limit).await?;
        let next = (page.len() == limit)
            .then(|| page.last().map(|t| t.slug.clone()))
            .flatten();
        page.retain(|t| t.deleting_since.is_none());
        Ok((page, next))
    }

    /// The tenant `slug` and every API key it has had, revoked ones too,
    /// oldest first (their secrets are not kept, so none is shown).
    pub async fn api_keys(&self, slug: &str) -> Result<(Tenant, Vec<ApiKey>), IdentityError> {
        let tenant = self.tenant(slug).await?;
        let keys = self.ports.identities.api_keys_of(tenant.id).await?;
        Ok((tenant, keys))
    }

    /// Creates an API key for the tenant `slug`; returns the record and the secret,
    /// which is shown once and never stored.
    pub async fn create_api_key(
        &self,
        slug: &str,
        scopes: Scopes,
    ) -> Result<(ApiKey, String), IdentityError> {
        let done: Result<(ApiKey, String), IdentityError> = async {
            if scopes == Scopes::default() {
                return Err(IdentityError::NoScopes);
            }
            let tenant = self.tenant(slug).await?;
            let secret = generate_api_key();
            let key = ApiKey {
                id: Uuid::now_v7(),
                tenant_id: tenant.id,
                prefix: secret[..API_KEY_DISPLAY_LEN].to_owned(),
                hash: hash_secret(&secret),
                scopes,
                created_at: self.ports.clock.now(),
                revoked_at: None,
            };
            self.ports.identities.create_api_key(&key).await?;
            Ok((key, secret))
        }
        .await;
        self.ports.audit(
            Change::CreateKey,
            Actor::Operator,
            done.as_ref().ok().map(|(k, _)| k.tenant_id),
            done.as_ref()
                .map_or_else(|_| slug.to_owned(), |(k, _)| k.id.to_string()),
            &done,
        );
        done
    }

    /// Revokes the one key named by its id or by a prefix of the key (at least the
    /// display prefix, e.g. `ixk_AbCdEfGh`, or the whole key).
    pub async fn revoke_api_key(&self, prefix_or_id: &str) -> Result<ApiKey, IdentityError> {
        let done: Result<ApiKey, IdentityError> = async {
            let wanted = prefix_or_id.trim();
            let unknown = || IdentityError::UnknownKey(wanted.to_owned());
            if wanted.len() < API_KEY_DISPLAY_LEN && Uuid::parse_str(wanted).is_err() {
                return Err(unknown());
            }
            let found = if wanted.starts_with(API_KEY_PREFIX) && wanted.len() > API_KEY_DISPLAY_LEN
            {
                let hash = hash_secret(wanted);
                self.ports
                    .identities
                    .api_key_by_hash(&hash)
                    .await?
                    .into_iter()
                    .collect()
            } else {
                self.ports.identities.find_api_keys(wanted).await?
            };
            let mut key = match found.as_slice() {
                [] => return Err(unknown()),
                [one] => one.clone(),
                _ => return Err(IdentityError::AmbiguousKey(wanted.to_owned())),
            };
            let now = self.ports.clock.now();
            if key.revoked_at.is_none() {
                self.ports.identities.revoke_api_key(key.id, now).await?;
                key.revoked_at = Some(now);
            }
            Ok(key)
        }
        .await;
        self.ports.audit(
            Change::RevokeKey,
            Actor::Operator,
            done.as_ref().ok().map(|k| k.tenant_id),
            done.as_ref()
                .map_or_else(|_| named_key(prefix_or_id), |k| k.id.to_string()),
            &done,
        );
        done
    }

    /// Creates a session of `user_id` in the tenant `slug`, lasting `ttl` and
    /// reaching what `reach` says; returns the record and the cookie value,
    /// which is shown once and never stored.
    pub async fn create_session(
        &self,
        slug: &str,
        user_id: &str,
        ttl: Duration,
        reach: Reach,
    ) -> Result<(Session, String), IdentityError> {
        let done: Result<(Session, String), IdentityError> = async {
            if user_id.trim().is_empty() || !ttl.is_positive() || ttl > MAX_SESSION_LIFETIME {
                return Err(IdentityError::InvalidSession);
            }
            let tenant = self.tenant(slug).await?;
            let token = generate_session_token();
            let now = self.ports.clock.now();
            let session = Session {
                id: Uuid::now_v7(),
                tenant_id: tenant.id,
                user_id: user_id.to_owned(),
                hash: hash_secret(&token),
                created_at: now,
                expires_at: now + ttl,
                revoked_at: None,
                reach,
            };
            self.ports.identities.create_session(&session).await?;
            Ok((session, token))
        }
        .await;
        self.ports.audit(
            Change::CreateSession,
            Actor::Operator,
            done.as_ref().ok().map(|(s, _)| s.tenant_id),
            done.as_ref()
                .map_or_else(|_| slug.to_owned(), |(s, _)| s.id.to_string()),
            &done,
        );
        done
    }

    /// Revokes the session named by its id or by its cookie value, so the cookie
    /// authenticates nothing from now on; returns the session as revoked.
    /// Revoking a revoked session again keeps its first revocation time.
    pub async fn revoke_session(&self, cookie_or_id: &str) -> Result<Session, IdentityError> {
        let done: Result<Session, IdentityError> = async {
            let wanted = cookie_or_id.trim();
            let found = match Uuid::parse_str(wanted) {
                Ok(id) => self.ports.identities.session_by_id(id).await?,
                Err(_) if wanted.is_empty() || wanted.len() > 256 => None,
                Err(_) => {
                    self.ports
                        .identities
                        .session_by_hash(&hash_secret(wanted))
                        .await?
                }
            };
            let mut session = found.ok_or(IdentityError::UnknownSession)?;
            if session.revoked_at.is_none() {
                let now = self.now();
                if !self
                    .ports
                    .identities
                    .revoke_session(session.id, now)
                    .await?
                {
                    return Err(IdentityError::UnknownSession);
                }
                session.revoked_at = Some(now);
            }
            Ok(session)
        }
        .await;
        self.ports.audit(
            Change::RevokeSession,
            Actor::Operator,
            done.as_ref().ok().map(|s| s.tenant_id),
            done.as_ref()
                .map_or_else(|_| String::new(), |s| s.id.to_string()),
            &done,
        );
        done
    }

    /// The principal an `Authorization: Bearer` API key stands for.
    pub async fn authenticate_api_key(&self, key: &str) -> Result<Principal, AuthError> {
        let hash = well_formed(key, API_KEY_PREFIX)?;
        let record = self.ports.identities.api_key_by_hash(&hash).await?;
        let record = live(record, |k| k.revoked_at)?;
        Ok(Principal {
            tenant_id: record.tenant_id,
            scopes: record.scopes,
            kind: PrincipalKind::ApiKey(record.id),
            dialect: None,
        })
    }

    /// The principal a session cookie stands for; sessions may read, write and
    /// delete within their tenant.
    pub async fn authenticate_session(&self, cookie: &str) -> Result<Principal, AuthError> {
        let hash = well_formed(cookie, "")?;
        let session = self.ports.identities.session_by_hash(&hash).await?;
        let session = live(session, |s| s.revoked_at)?;
        if session.expires_at <= self.now() {
            return Err(AuthError::Expired);
        }
        Ok(Principal {
            tenant_id: session.tenant_id,
            scopes: Scopes::ALL,
            kind: PrincipalKind::Session {
                user_id: session.user_id,
                reach: session.reach,
            },
            dialect: None,
        })
    }

    fn now(&self) -> OffsetDateTime {
        self.ports.clock.now()
    }
}

/// The hash a credential `secret` is stored under, if the secret could be one:
/// it starts with `prefix`, is not empty and is at most 256 bytes (a longer
/// one is refused before it is hashed).
fn well_formed(secret: &str, prefix: &str) -> Result<String, AuthError> {
    if secret.is_empty() || !secret.starts_with(prefix) || secret.len() > 256 {
        return Err(AuthError::Invalid);
    }
    Ok(hash_secret(secret))
}

/// The credential `found`, unless there is none or it was revoked.
fn live<T>(
    found: Option<T>,
    revoked: impl Fn(&T) -> Option<OffsetDateTime>,
) -> Result<T, AuthError> {
    let record = found.ok_or(AuthError::Invalid)?;
    match revoked(&record) {
        Some(_) => Err(AuthError::Revoked),
        None => Ok(record),
    }
}

/// How a refused revocation names the key it was given: its display prefix
/// at most, as the key's secret may have been given in full.
fn named_key(given: &str) -> String {
    given.trim().chars().take(API_KEY_DISPLAY_LEN).collect()
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::memory::MemoryPorts;

    #[test]
    fn a_revoked_session_authenticates_nothing() {
        let ids = IdentityService::new(MemoryPorts::new("http://x").ports);
        block_on(ids.create_tenant("t")).unwrap();
        let (first, cookie) =
            block_on(ids.create_session("t", "u", Duration::hours(1), Reach::Own)).unwrap();
        let (second, other) =
            block_on(ids.create_session("t", "u", Duration::hours(1), Reach::Own)).unwrap();
        assert!(block_on(ids.authenticate_session(&cookie)).is_ok());

        let revoked = block_on(ids.revoke_session(&cookie)).unwrap();
        assert_eq!(revoked.id, first.id);
        assert_eq!(
            block_on(ids.authenticate_session(&cookie)),
            Err(AuthError::Revoked)
        );
        assert!(
            block_on(ids.authenticate_session(&other)).is_ok(),
            "only that one"
        );
        let again = block_on(ids.revoke_session(&first.id.to_string())).unwrap();
        assert_eq!(again.revoked_at, revoked.revoked_at, "the first time stays");

        block_on(ids.revoke_session(&second.id.to_string())).unwrap();
        assert_eq!(
            block_on(ids.authenticate_session(&other)),
            Err(AuthError::Revoked)
        );
        for unknown in ["", "nope", &Uuid::now_v7().to_string()] {
            assert_eq!(
                block_on(ids.revoke_session(unknown)).err(),
                Some(IdentityError::UnknownSession)
            );
        }
    }

    #[test]
    fn sessions_live_at_most_thirty_days() {
        let ids = IdentityService::new(MemoryPorts::new("http://x").ports);
        block_on(ids.create_tenant("t")).unwrap();
        let longest =
            block_on(ids.create_session("t", "u", MAX_SESSION_LIFETIME, Reach::Own)).unwrap();
        assert_eq!(
            longest.0.expires_at - longest.0.created_at,
            MAX_SESSION_LIFETIME
        );
        let longer = MAX_SESSION_LIFETIME + Duration::seconds(1);
        for ttl in [longer, Duration::ZERO, Duration::days(-1)] {
            assert_eq!(
                block_on(ids.create_session("t", "u", ttl, Reach::Own)).err(),
                Some(IdentityError::InvalidSession),
                "{ttl}"
            );
        }
    }
}
