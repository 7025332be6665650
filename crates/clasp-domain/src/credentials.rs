//! API keys, sessions and the principal they authenticate as.
//!
//! Secrets are generated here and only their SHA-256 is ever stored: a key has 256
//! bits of entropy, so a fast hash is as strong as a slow one and costs nothing per
//! request.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::attachment::Attachment;
use crate::reach::Reach;
use crate::tenant::TenantId;

/// Every API key starts with this, so leaked keys are easy to scan for.
pub const API_KEY_PREFIX: &str = "ixk_";
/// How many leading characters of a key are kept in clear to name it (revocation).
pub const API_KEY_DISPLAY_LEN: usize = 12;

/// The longest a chat session may live: a cookie that leaks (a shared
/// computer, a log) stops working within this, whatever lifetime was asked for.
/// A host product mints a new session at each login.
pub const MAX_SESSION_LIFETIME: time::Duration = time::Duration::days(30);

/// A permission an API key may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Scope {
    /// List, get and download.
    Read,
    /// Upload.
    Write,
    /// Delete.
    Delete,
}

impl Scope {
    /// The wire name, e.g. `attachments:read`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "attachments:read",
            Scope::Write => "attachments:write",
            Scope::Delete => "attachments:delete",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Scope::Read => 1,
            Scope::Write => 2,
            Scope::Delete => 4,
        }
    }
}

/// A set of scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u8);

/// A scope name that Clasp does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?}: expected attachments:read, attachments:write or attachments:delete")]
pub struct UnknownScope(pub String);

impl Scopes {
    /// Every scope: what a chat session may do within its tenant.
    pub const ALL: Scopes = Scopes(7);

    /// Whether `scope` is in the set.
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Parses a comma-separated list such as `attachments:read,attachments:write`.
    pub fn parse(list: &str) -> Result<Scopes, UnknownScope> {
        let mut bits = 0;
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let scope = [Scope::Read, Scope::Write, Scope::Delete]
                .into_iter()
                .find(|s| s.as_str() == name)
                .ok_or_else(|| UnknownScope(name.to_owned()))?;
            bits |= scope.bit();
        }
        Ok(Scopes(bits))
    }

    /// The comma-separated wire form, in a fixed order.
    pub fn to_list(self) -> String {
        [Scope::Read, Scope::Write, Scope::Delete]
            .into_iter()
            .filter(|s| self.contains(*s))
            .map(Scope::as_str)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A stored API key. The secret itself is shown once, at creation, and never kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Stable id (also the `uploaded_by` of what the key uploads).
    pub id: Uuid,
    /// The tenant the key acts in.
    pub tenant_id: TenantId,
    /// The first [`API_KEY_DISPLAY_LEN`] characters, to recognise and revoke it.
    pub prefix: String,
    /// Lowercase hex SHA-256 of the whole key.
    pub hash: String,
    /// What the key may do.
    pub scopes: Scopes,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// When the key was revoked; a revoked key authenticates nothing.
    pub revoked_at: Option<OffsetDateTime>,
}

/// A stored chat session, named by an opaque cookie whose hash is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Stable id.
    pub id: Uuid,
    /// The tenant the session acts in.
    pub tenant_id: TenantId,
    /// The host product's user.
    pub user_id: String,
    /// Lowercase hex SHA-256 of the cookie value.
    pub hash: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// After this the session authenticates nothing.
    pub expires_at: OffsetDateTime,
    /// When the session was revoked.
    pub revoked_at: Option<OffsetDateTime>,
    /// The chat attachments it reaches besides its user's own uploads.
    pub reach: Reach,
}

/// Who is calling, once authenticated: always inside exactly one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The only tenant this principal can see.
    pub tenant_id: TenantId,
    /// What the principal may do.
    pub scopes: Scopes,
    /// How it authenticated.
    pub kind: PrincipalKind,
    /// The dialect whose route it came through (set by the HTTP layer), which
    /// the events it causes name; `None` elsewhere.
    pub dialect: Option<&'static str>,
}

/// The credential behind a principal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// An API key, by id.
    ApiKey(Uuid),
    /// A session of a host-product user.
    Session {
        /// The user the session belongs to.
        user_id: String,
        /// What the session reaches.
        reach: Reach,
    },
}

impl Principal {
    /// The uploader recorded on attachments this principal creates.
    pub fn actor(&self) -> String {
        match &self.kind {
            PrincipalKind::ApiKey(id) => id.to_string(),
            PrincipalKind::Session { user_id, .. } => user_id.clone(),
        }
    }

    /// Whether this principal may read `attachment` of its tenant: an API key
    /// reads all of them, a session what its [`Reach`] says.
    pub fn reads(&self, attachment: &Attachment) -> bool {
        match &self.kind {
            PrincipalKind::ApiKey(_) => true,
            PrincipalKind::Session { user_id, reach } => reach.reads(user_id, attachment),
        }
    }

    /// Whether this principal may delete `attachment` it [reads](Self::reads)
    /// (scopes aside).
    pub fn deletes(&self, attachment: &Attachment) -> bool {
        match &self.kind {
            PrincipalKind::ApiKey(_) => true,
            PrincipalKind::Session { user_id, reach } => reach.deletes(user_id, attachment),
        }
    }

    /// Whether this principal may upload into the chat room `room`.
    pub fn uploads_into(&self, room: Option<&str>) -> bool {
        match &self.kind {
            PrincipalKind::ApiKey(_) => true,
            PrincipalKind::Session { reach, .. } => reach.uploads_into(room),
        }
    }
}

/// Generates `bytes` of OS randomness, URL-safe base64 encoded.
fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Lowercase hex SHA-256 of a secret, the only form in which secrets are stored.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new API key's secret: `ixk_` followed by 32 random bytes (43 base64url chars).
pub fn generate_api_key() -> String {
    format!("{API_KEY_PREFIX}{}", random_token(32))
}

/// A new session cookie value: 32 random bytes, base64url.
pub fn generate_session_token() -> String {
    random_token(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_prefixed() {
        let a = generate_api_key();
        let b = generate_api_key();
        assert!(a.starts_with("ixk_"));
        assert_eq!(a.len(), 4 + 43);
        assert_ne!(a, b);
        assert_eq!(hash_secret(&a).len(), 64);
        assert_ne!(hash_secret(&a), hash_secret(&b));
    }

    #[test]
    fn scopes_parse_and_print() {
        let s = Scopes::parse("attachments:read, attachments:delete").unwrap();
        assert!(s.contains(Scope::Read) && s.contains(Scope::Delete) && !s.contains(Scope::Write));
        assert_eq!(s.to_list(), "attachments:read,attachments:delete");
        assert_eq!(Scopes::parse(&s.to_list()).unwrap(), s);
        assert!(Scopes::parse("attachments:admin").is_err());
        assert_eq!(Scopes::parse("").unwrap(), Scopes::default());
    }
}
