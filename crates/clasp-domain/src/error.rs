//! The errors the services return. Each dialect maps them to its own status
//! codes and error bodies, once.

use crate::credentials::{Scope, UnknownScope};
use crate::inspect::BodyError;
use crate::ports::{BlobError, RepoError, SignatureError};
use crate::state::InvalidTransition;
use crate::tenant::InvalidSlug;
use crate::validation::ValidationError;

/// Why a credential does not authenticate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credential was presented.
    #[error("authentication required")]
    Missing,
    /// The credential is malformed or unknown.
    #[error("the credential is not valid")]
    Invalid,
    /// The credential was revoked.
    #[error("the credential was revoked")]
    Revoked,
    /// The session has expired.
    #[error("the session has expired")]
    Expired,
    /// The identity store failed.
    #[error(transparent)]
    Backend(#[from] RepoError),
}

/// Why an attachment operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    /// The principal lacks the scope the operation needs.
    #[error("this operation needs the {} scope", .0.as_str())]
    Forbidden(Scope),
    /// No such attachment visible to the principal (also: another tenant's).
    #[error("attachment not found")]
    NotFound,
    /// The upload broke a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The client's body broke off before its end.
    #[error("the upload was interrupted: {0}")]
    Interrupted(String),
    /// The bytes do not match the checksum the client declared.
    #[error("checksum mismatch: declared {declared}, received {actual}")]
    ChecksumMismatch {
        /// Declared hex SHA-256.
        declared: String,
        /// Computed hex SHA-256.
        actual: String,
    },
    /// A signed URL was refused.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The attachment is in a state that does not allow this.
    #[error(transparent)]
    State(#[from] InvalidTransition),
    /// The blob store failed.
    #[error("blob store failed: {0}")]
    Storage(String),
    /// The metadata store failed.
    #[error(transparent)]
    Repository(#[from] RepoError),
}

impl From<BlobError> for AttachmentError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::NotFound => AttachmentError::Storage("object missing".into()),
            BlobError::Body(BodyError::Rejected(v)) => AttachmentError::Invalid(v),
            BlobError::Body(BodyError::Interrupted(m)) => AttachmentError::Interrupted(m),
            BlobError::Backend(m) => AttachmentError::Storage(m),
        }
    }
}

/// Why an administrative identity operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The slug is not acceptable.
    #[error(transparent)]
    InvalidSlug(#[from] InvalidSlug),
    /// A tenant with that slug exists.
    #[error("a tenant with slug {0:?} already exists")]
    TenantExists(String),
    /// No tenant with that slug.
    #[error("no tenant with slug {0:?}")]
    UnknownTenant(String),
    /// A scope name is unknown.
    #[error(transparent)]
    UnknownScope(#[from] UnknownScope),
    /// A key needs at least one scope.
    #[error("an API key needs at least one scope")]
    NoScopes,
    /// No key matches.
    #[error("no API key matches {0:?}")]
    UnknownKey(String),
    /// Several keys match a prefix.
    #[error("{0:?} matches several API keys; give more of the key or its id")]
    AmbiguousKey(String),
    /// A session needs a user id and a positive lifetime.
    #[error("a session needs a non-empty user id and a positive lifetime")]
    InvalidSession,
    /// The identity store failed.
    #[error(transparent)]
    Backend(#[from] RepoError),
}
