//! The admin API's request and answer bodies.

use clasp_domain::{ApiKey, Quota, QuotaLimits, Reach, Session, Tenant, TenantPolicy};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::json::rfc3339;

/// `POST /tenants`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// 1 to 63 characters of `a-z A-Z 0-9 - _ .`, starting with a letter or
    /// digit: clients put it in paths and headers.
    pub slug: String,
}

/// A tenant.
#[derive(Serialize, ToSchema)]
pub struct TenantJson {
    id: Uuid,
    slug: String,
    /// RFC 3339.
    created_at: String,
}

impl From<&Tenant> for TenantJson {
    fn from(t: &Tenant) -> Self {
        Self {
            id: t.id.0,
            slug: t.slug.clone(),
            created_at: rfc3339(t.created_at),
        }
    }
}

/// `GET /tenants`: which page.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TenantPage {
    /// The last slug of the previous page (its `next`); absent: the first page.
    pub after: Option<String>,
    /// At most this many tenants (1 to 1000; default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// One page of tenants, in slug order.
#[derive(Serialize, ToSchema)]
pub struct TenantsJson {
    tenants: Vec<TenantJson>,
    /// The `after` of the next page; `null` on the last one.
    next: Option<String>,
}

impl TenantsJson {
    /// `page`, followed by the page after `next`.
    pub fn new(page: &[Tenant], next: Option<String>) -> Self {
        Self {
            tenants: page.iter().map(TenantJson::from).collect(),
            next,
        }
    }
}

/// A tenant whose purge goes on.
#[derive(Serialize, ToSchema)]
pub struct DeletingJson {
    pub slug: String,
    /// Always `true`.
    pub deleting: bool,
}

/// A tenant with its quota and what it uses.
#[derive(Serialize, ToSchema)]
pub struct TenantDetailJson {
    #[serde(flatten)]
    tenant: TenantJson,
    quota: QuotaJson,
    usage: UsageJson,
    policy: PolicyJson,
}

impl TenantDetailJson {
    /// `tenant` with `quota`.
    pub fn new(tenant: &Tenant, quota: &Quota) -> Self {
        Self {
            tenant: tenant.into(),
            quota: quota.limits.into(),
            usage: UsageJson {
                bytes: quota.usage.bytes,
                attachments: quota.usage.attachments,
            },
            policy: PolicyJson::from(&tenant.policy),
        }
    }
}

/// What a tenant's attachments take now.
#[derive(Serialize, ToSchema)]
pub struct UsageJson {
    bytes: u64,
    attachments: u64,
}

/// A tenant's quota: `null` is unlimited. `PUT` replaces both limits, so an
/// absent one is lifted as `null` is.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaJson {
    #[serde(default)]
    pub max_bytes: Option<u64>,
    #[serde(default)]
    pub max_attachments: Option<u64>,
}

impl From<QuotaLimits> for QuotaJson {
    fn from(limits: QuotaLimits) -> Self {
        Self {
            max_bytes: limits.max_bytes,
            max_attachments: limits.max_attachments,
        }
    }
}

/// A tenant's upload rules: `null` follows the instance's (`allowed_types`,
/// `max_upload_bytes` in its configuration). `PUT` replaces both, so an absent
/// one follows the instance as `null` does. A type Clasp has no magic-byte
/// rule for is only allowed with `trust_declared_types: true`: its files are
/// then taken as their uploader declares them; a `GET` shows `true` while the
/// list holds such a type.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyJson {
    /// Media types without parameters, such as `text/csv` (1 to 100).
    #[serde(default)]
    pub allowed_types: Option<Vec<String>>,
    /// The largest file, in bytes (at most 5 GiB).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 5_368_709_120_u64)]
    pub max_upload_bytes: Option<u64>,
    #[serde(default)]
    pub trust_declared_types: bool,
}

impl From<&TenantPolicy> for PolicyJson {
    fn from(policy: &TenantPolicy) -> Self {
        Self {
            allowed_types: policy.allowed_types.clone(),
            max_upload_bytes: policy.max_upload_bytes,
            trust_declared_types: policy.trusts_declared_types(),
        }
    }
}

/// `POST /tenants/{slug}/keys`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// Some of `attachments:read`, `attachments:write`, `attachments:delete`.
    pub scopes: Vec<String>,
}

/// An API key, without its secret (never kept).
#[derive(Serialize, ToSchema)]
pub struct KeyJson {
    id: Uuid,
    /// The key's first characters, to recognise it.
    prefix: String,
    scopes: Vec<String>,
    created_at: String,
    /// `null` while the key works.
    revoked_at: Option<String>,
}

impl From<&ApiKey> for KeyJson {
    fn from(k: &ApiKey) -> Self {
        Self {
            id: k.id,
            prefix: k.prefix.clone(),
            scopes: k.scopes.to_list().split(',').map(str::to_owned).collect(),
            created_at: rfc3339(k.created_at),
            revoked_at: k.revoked_at.map(rfc3339),
        }
    }
}

/// A new API key with its secret: the only time it is shown.
#[derive(Serialize, ToSchema)]
pub struct NewKeyJson {
    id: Uuid,
    /// The key (`ixk_…`), for `Authorization: Bearer`.
    key: String,
    prefix: String,
    scopes: Vec<String>,
    created_at: String,
}

impl NewKeyJson {
    /// `key`, whose secret is `secret`.
    pub fn new(key: &ApiKey, secret: String) -> Self {
        let shown = KeyJson::from(key);
        Self {
            id: shown.id,
            key: secret,
            prefix: shown.prefix,
            scopes: shown.scopes,
            created_at: shown.created_at,
        }
    }
}

/// A tenant's keys, oldest first.
#[derive(Serialize, ToSchema)]
pub struct KeysJson {
    pub keys: Vec<KeyJson>,
}

/// `POST /tenants/{slug}/sessions`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    /// The host product's id of the end user.
    pub user_id: String,
    /// How long the session lasts, in seconds (default 3600, at most 30 days).
    #[schema(minimum = 1, maximum = 2_592_000)]
    pub ttl_secs: Option<u64>,
    /// The chat rooms the user is in (1 to 1000 integer ids): the session
    /// reads their attachments and posts into them. Without `rooms` and
    /// `all_rooms` it reaches only its own uploads, made without a room.
    pub rooms: Option<Vec<i64>>,
    /// A moderator's or a service's session: every chat attachment of the
    /// tenant, and every other dialect's by number. Not with `rooms`.
    #[serde(default)]
    pub all_rooms: bool,
}

/// A new session with its cookie value: the only time it is shown.
#[derive(Serialize, ToSchema)]
pub struct NewSessionJson {
    id: Uuid,
    user_id: String,
    /// The value of the `clasp_session` cookie.
    cookie: String,
    expires_at: String,
    /// The rooms it reaches (empty for none, and for an all-rooms session).
    rooms: Vec<i64>,
    all_rooms: bool,
}

impl NewSessionJson {
    /// `session`, whose cookie value is `cookie`.
    pub fn new(session: &Session, cookie: String) -> Self {
        let rooms = match &session.reach {
            Reach::Rooms(rooms) => rooms.iter().filter_map(|r| r.parse().ok()).collect(),
            Reach::Own | Reach::AllRooms => Vec::new(),
        };
        Self {
            id: session.id,
            user_id: session.user_id.clone(),
            cookie,
            expires_at: rfc3339(session.expires_at),
            rooms,
            all_rooms: session.reach == Reach::AllRooms,
        }
    }
}
