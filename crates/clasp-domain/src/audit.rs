//! The audit trail: one record for each change a service makes (an upload, a
//! delete, a key or session issued or revoked, a quota or policy set, a tenant
//! created, deleted or purged), naming the tenant, who asked, the object and the
//! outcome, refusals included. The services hand records to the
//! [`AuditLog`](crate::ports::AuditLog) port; the `clasp` binary writes them as
//! log events of their own target, so operators can route them apart.

use std::fmt;

use uuid::Uuid;

use crate::credentials::{Principal, PrincipalKind};
use crate::error::{AttachmentError, ErrorKind, IdentityError};
use crate::tenant::TenantId;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Change {
    /// A file became (or was refused becoming) an attachment.
    Upload,
    /// An attachment was deleted.
    Delete,
    /// A tenant was created.
    CreateTenant,
    /// A tenant's deletion began (it is gone for clients from then on).
    DeleteTenant,
    /// The last of a deleted tenant's rows and bytes were removed.
    PurgeTenant,
    /// An API key was issued.
    CreateKey,
    /// An API key was revoked.
    RevokeKey,
    /// A session was issued.
    CreateSession,
    /// A session was revoked.
    RevokeSession,
    /// A tenant's quota was set.
    SetQuota,
    /// A tenant's upload policy was set.
    SetPolicy,
    /// A webhook was registered.
    CreateWebhook,
    /// A webhook was removed.
    DeleteWebhook,
}

impl Change {
    /// The record's stable name, what log queries match on.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Upload => "attachment.upload",
            Change::Delete => "attachment.delete",
            Change::CreateTenant => "tenant.create",
            Change::DeleteTenant => "tenant.delete",
            Change::PurgeTenant => "tenant.purge",
            Change::CreateKey => "key.create",
            Change::RevokeKey => "key.revoke",
            Change::CreateSession => "session.create",
            Change::RevokeSession => "session.revoke",
            Change::SetQuota => "tenant.quota",
            Change::SetPolicy => "tenant.policy",
            Change::CreateWebhook => "webhook.create",
            Change::DeleteWebhook => "webhook.delete",
        }
    }
}

/// Who asked for a change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A client with an API key, by the key's id.
    Key(Uuid),
    /// A host product's user, through a session.
    User(String),
    /// The operator: the admin API or the `clasp admin` commands.
    Operator,
    /// Clasp itself (the purge of a deleted tenant).
    System,
}

impl From<&Principal> for Actor {
    fn from(principal: &Principal) -> Self {
        match &principal.kind {
            PrincipalKind::ApiKey(id) => Actor::Key(*id),
            PrincipalKind::Session { user_id, .. } => Actor::User(user_id.clone()),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Key(id) => write!(f, "key:{id}"),
            Actor::User(user) => write!(f, "user:{user}"),
            Actor::Operator => f.write_str("operator"),
            Actor::System => f.write_str("system"),
        }
    }
}

/// One change, as the trail records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// What changed.
    pub change: Change,
    /// Who asked.
    pub actor: Actor,
    /// The tenant it happened in, when it is known (a refusal may come before
    /// the tenant is found).
    pub tenant: Option<TenantId>,
    /// What it was done to: an attachment, key or session id, or a tenant's
    /// slug; empty when a refusal came before there was one.
    pub object: String,
    /// `Ok`, or why it was refused or failed.
    pub outcome: Result<(), Refused>,
}

/// Why a change did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// What kind of refusal, from a fixed set ([`Refusal::code`]): what
    /// metrics count by.
    pub code: &'static str,
    /// The refusal's message.
    pub reason: String,
}

/// A failure as the trail names it: a stable code from a fixed set beside its
/// message.
pub trait Refusal: fmt::Display {
    /// The failure's code, `snake_case`, one of a fixed set.
    fn code(&self) -> &'static str;
}

impl Refusal for AttachmentError {
    fn code(&self) -> &'static str {
        match self.kind() {
            ErrorKind::Forbidden(_) => "forbidden",
            ErrorKind::NotFound => "not_found",
            ErrorKind::OutOfReach => "out_of_reach",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::DisallowedType => "disallowed_type",
            ErrorKind::MagicMismatch => "magic_mismatch",
            ErrorKind::InvalidUpload => "invalid_upload",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::ChecksumMismatch => "checksum_mismatch",
            ErrorKind::InvalidSignature => "invalid_signature",
            ErrorKind::SignerUnavailable => "signer_unavailable",
            ErrorKind::InvalidState => "invalid_state",
            ErrorKind::NotUploaded => "not_uploaded",
            ErrorKind::UploadExpired => "upload_expired",
            ErrorKind::OffsetMismatch => "offset_mismatch",
            ErrorKind::NotPending => "not_pending",
            ErrorKind::VerificationFailed => "verification_failed",
            ErrorKind::ETagMismatch => "etag_mismatch",
            ErrorKind::NotLinkable(_) => "not_linkable",
            ErrorKind::InvalidMessage => "invalid_message",
            ErrorKind::QuotaExceeded => "quota_exceeded",
            ErrorKind::Infected { .. } => "infected",
            ErrorKind::ScanFailed => "scan_failed",
            ErrorKind::Finishing => "finishing",
            ErrorKind::StorageUnavailable => "storage_unavailable",
            ErrorKind::Internal => "internal",
        }
    }
}

impl Refusal for IdentityError {
    fn code(&self) -> &'static str {
        match self {
            IdentityError::InvalidSlug(_) => "invalid_slug",
            IdentityError::TenantExists(_) => "tenant_exists",
            IdentityError::UnknownTenant(_) => "unknown_tenant",
            IdentityError::UnknownScope(_) => "unknown_scope",
            IdentityError::InvalidRooms(_) => "invalid_rooms",
            IdentityError::InvalidPolicy(_) => "invalid_policy",
            IdentityError::NoScopes => "no_scopes",
            IdentityError::UnknownKey(_) => "unknown_key",
            IdentityError::AmbiguousKey(_) => "ambiguous_key",
            IdentityError::UnknownSession => "unknown_session",
            IdentityError::InvalidSession => "invalid_session",
            IdentityError::Backend(_) => "internal",
        }
    }
}

impl Refusal for crate::webhooks::WebhookError {
    fn code(&self) -> &'static str {
        use crate::webhooks::WebhookError as W;
        match self {
            W::InvalidUrl(_) => "invalid_url",
            W::HostNotAllowed(_) => "host_not_allowed",
            W::InvalidEvents(_) => "invalid_events",
            W::TooMany => "too_many_webhooks",
            W::NotFound => "not_found",
            W::Store(_) => "internal",
        }
    }
}

impl AuditRecord {
    /// A record of `change` by `actor`, its outcome taken from `result`.
    pub fn of<T, E: Refusal>(
        change: Change,
        actor: Actor,
        tenant: Option<TenantId>,
        object: impl Into<String>,
        result: &Result<T, E>,
    ) -> Self {
        Self {
            change,
            actor,
            tenant,
            object: object.into(),
            outcome: result.as_ref().map(|_| ()).map_err(|e| Refused {
                code: e.code(),
                reason: e.to_string(),
            }),
        }
    }
}
