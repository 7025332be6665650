//! Tenants: the isolation boundary. Every other record belongs to exactly one.

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::policy::TenantPolicy;

/// A tenant's internal identifier; never shown in paths (clients use the slug).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TenantId(pub Uuid);

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A workspace of the host product. Clients name it by `slug` (e.g. `ws-123`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenant {
    /// Stable internal id.
    pub id: TenantId,
    /// The name clients put in paths and headers.
    pub slug: String,
    /// When the tenant was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When its deletion began: its credentials are revoked and its
    /// attachments are being purged; once they are, the tenant is gone.
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleting_since: Option<OffsetDateTime>,
    /// Its own upload rules, where it has any.
    pub policy: TenantPolicy,
}

/// Why a slug cannot name a tenant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a tenant slug is 1 to 63 characters of a-z, A-Z, 0-9, '-', '_' or '.', starting with a letter or digit"
)]
pub struct InvalidSlug;

/// Checks a slug: it appears in URLs and headers, so it stays in a safe alphabet.
pub fn validate_slug(slug: &str) -> Result<(), InvalidSlug> {
    let ok_len = (1..=63).contains(&slug.len());
    let ok_first = slug
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let ok_chars = slug
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok_len && ok_first && ok_chars {
        Ok(())
    } else {
        Err(InvalidSlug)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(validate_slug("ws-123").is_ok());
        assert!(validate_slug("Acme_Corp.eu").is_ok());
        assert!(validate_slug("").is_err());
        assert!(validate_slug("-x").is_err());
        assert!(validate_slug("a/b").is_err());
        assert!(validate_slug(&"a".repeat(64)).is_err());
    }
}
