//! A tenant's own upload rules: the media types it accepts and its largest
//! file, each either its own or (`None`) the instance's. A helpdesk tenant
//! allows docx and csv while a chat tenant keeps images; the instance's
//! [`UploadPolicy`] stays the default for every tenant that sets nothing.
//!
//! A type is only allowed when Clasp can check that a file is what it says
//! ([`crate::magic::has_rule`]), unless whoever allows it says, with
//! `trust_declared_types`, that the client's word is enough.

use serde::Serialize;

use crate::validation::{UploadPolicy, ValidationError};

/// The most media types one allowlist may name: the lookup per upload is a
/// scan of the list, and no real product names more.
pub const MAX_ALLOWED_TYPES: usize = 100;

/// The largest file a tenant may be allowed: 5 GiB, the largest object one
/// S3 `PUT` stores.
pub const MAX_TENANT_UPLOAD_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// A tenant's upload rules; each `None` follows the instance.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TenantPolicy {
    /// The media types it accepts (essences, lowercase).
    pub allowed_types: Option<Vec<String>>,
    /// Its largest file, in bytes.
    pub max_upload_bytes: Option<u64>,
}

/// Why an allowlist or a size cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not a media type Clasp could compare a declared type with.
    #[error("{0:?} is not a media type like image/png")]
    NotAType(String),
    /// An empty list, or one longer than [`MAX_ALLOWED_TYPES`].
    #[error("an allowlist names 1 to {MAX_ALLOWED_TYPES} media types")]
    Count,
    /// A type whose files Clasp cannot check, allowed without saying the
    /// client's word is enough.
    #[error(
        "{0} has no magic-byte rule, so its files cannot be checked; allow it with trust_declared_types"
    )]
    Unchecked(String),
    /// A size of nothing, or beyond [`MAX_TENANT_UPLOAD_BYTES`].
    #[error("the largest file is 1 to {MAX_TENANT_UPLOAD_BYTES} bytes")]
    Size,
}

/// Reads an allowlist: each entry a media type without parameters (made
/// lowercase, duplicates dropped), each with a magic-byte rule unless
/// `trust_declared_types`.
pub fn allowlist<S: AsRef<str>>(
    types: &[S],
    trust_declared_types: bool,
) -> Result<Vec<String>, PolicyError> {
    let mut allowed: Vec<String> = Vec::with_capacity(types.len());
    for raw in types {
        let raw = raw.as_ref().trim();
        let essence = raw
            .parse::<mime::Mime>()
            .ok()
            .filter(|m| m.params().next().is_none() && raw.len() <= 127)
            .map(|m| m.essence_str().to_ascii_lowercase())
            .ok_or_else(|| PolicyError::NotAType(raw.chars().take(127).collect()))?;
        if !trust_declared_types && !crate::magic::has_rule(&essence) {
            return Err(PolicyError::Unchecked(essence));
        }
        if !allowed.contains(&essence) {
            allowed.push(essence);
        }
    }
    if allowed.is_empty() || allowed.len() > MAX_ALLOWED_TYPES {
        return Err(PolicyError::Count);
    }
    Ok(allowed)
}

impl TenantPolicy {
    /// The rules a host asks for: `allowed_types` read by [`allowlist`],
    /// `max_upload_bytes` within 1 byte and [`MAX_TENANT_UPLOAD_BYTES`].
    pub fn new<S: AsRef<str>>(
        allowed_types: Option<&[S]>,
        max_upload_bytes: Option<u64>,
        trust_declared_types: bool,
    ) -> Result<TenantPolicy, PolicyError> {
        let allowed_types = allowed_types
            .map(|types| allowlist(types, trust_declared_types))
            .transpose()?;
        if max_upload_bytes.is_some_and(|n| n == 0 || n > MAX_TENANT_UPLOAD_BYTES) {
            return Err(PolicyError::Size);
        }
        Ok(TenantPolicy {
            allowed_types,
            max_upload_bytes,
        })
    }

    /// Whether one of its types is taken on the client's word (has no rule).
    pub fn trusts_declared_types(&self) -> bool {
        self.allowed_types
            .iter()
            .flatten()
            .any(|t| !crate::magic::has_rule(t))
    }
}

impl UploadPolicy {
    /// Whether a file of `content_type` and `size` bytes, named before these
    /// rules were last changed (a direct upload at confirm), still fits them.
    pub fn admits(&self, content_type: &str, size: u64) -> Result<(), ValidationError> {
        if !self.allowed_types.iter().any(|t| t == content_type) {
            return Err(ValidationError::DisallowedType(content_type.to_owned()));
        }
        self.check_declared_size(size)
    }

    /// These rules with `tenant`'s in place of the instance's where it has its own.
    pub fn for_tenant(&self, tenant: &TenantPolicy) -> UploadPolicy {
        UploadPolicy {
            max_bytes: tenant.max_upload_bytes.unwrap_or(self.max_bytes),
            allowed_types: tenant
                .allowed_types
                .clone()
                .unwrap_or_else(|| self.allowed_types.clone()),
            upload_url_ttl: self.upload_url_ttl,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

    #[test]
    fn an_allowlist_names_checkable_types_unless_trusted() {
        assert_eq!(
            allowlist(&[" Text/CSV ", DOCX, "text/csv"], false),
            Ok(vec!["text/csv".to_owned(), DOCX.to_owned()])
        );
        assert_eq!(
            allowlist(&["application/x-custom"], false),
            Err(PolicyError::Unchecked("application/x-custom".into()))
        );
        assert_eq!(
            allowlist(&["application/x-custom"], true),
            Ok(vec!["application/x-custom".to_owned()])
        );
        for bad in ["png", "text/plain; charset=utf-8", "", "a/b/c"] {
            assert!(
                matches!(allowlist(&[bad], true), Err(PolicyError::NotAType(_))),
                "{bad:?}"
            );
        }
        let none: [&str; 0] = [];
        assert_eq!(allowlist(&none, false), Err(PolicyError::Count));
        let many: Vec<String> = (0..=MAX_ALLOWED_TYPES)
            .map(|n| format!("application/x-{n}"))
            .collect();
        assert_eq!(allowlist(&many, true), Err(PolicyError::Count));
    }

    #[test]
    fn a_tenant_overrides_what_it_names_and_inherits_the_rest() {
        let instance = UploadPolicy::default();
        let own = TenantPolicy::new(Some(&["text/csv"]), None, false).unwrap();
        let merged = instance.for_tenant(&own);
        assert_eq!(merged.allowed_types, ["text/csv"]);
        assert_eq!(merged.max_bytes, instance.max_bytes);
        assert_eq!(instance.for_tenant(&TenantPolicy::default()), instance);
        let small = TenantPolicy::new::<&str>(None, Some(10), false).unwrap();
        assert_eq!(instance.for_tenant(&small).max_bytes, 10);
        assert_eq!(
            instance.for_tenant(&small).allowed_types,
            instance.allowed_types
        );
        for size in [0, MAX_TENANT_UPLOAD_BYTES + 1] {
            assert_eq!(
                TenantPolicy::new::<&str>(None, Some(size), false),
                Err(PolicyError::Size)
            );
        }
        assert!(!own.trusts_declared_types());
        let trusted = TenantPolicy::new(Some(&["application/x-custom"]), None, true).unwrap();
        assert!(trusted.trusts_declared_types());
    }
}
