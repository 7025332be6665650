//! The errors the services return. Each dialect maps them to its own status
//! codes and error bodies, once.

use crate::attachment::AttachmentId;
use crate::credentials::{Scope, UnknownScope};
use crate::inspect::BodyError;
use crate::ports::{BlobError, RepoError, SignatureError};
use crate::quota::QuotaExceeded;
use crate::state::{AttachmentState, InvalidTransition};
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

/// What an attachment use case answers: the result, or why there is none.
/// Named because every service method says it.
pub type Outcome<T> = Result<T, AttachmentError>;

/// Why an attachment operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    /// The principal lacks the scope the operation needs.
    #[error("this operation needs the {} scope", .0.as_str())]
    Forbidden(Scope),
    /// No such attachment visible to the principal (also: another tenant's).
    #[error("attachment not found")]
    NotFound,
    /// The session may see the attachment or room but not do this with it
    /// (delete what another member posted, upload into a room it is not in).
    #[error("{0}")]
    OutOfReach(&'static str),
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
    /// Confirm found no uploaded bytes: the upload URL was not used (yet). The
    /// attachment stays `Pending`; upload, then confirm again.
    #[error("nothing has been uploaded for this attachment yet")]
    NotUploaded,
    /// The upload URL of this `Pending` attachment has expired: it accepts no
    /// bytes and cannot be confirmed, and will be swept.
    #[error("the upload URL of this attachment has expired")]
    UploadExpired,
    /// A resumable upload's bytes were sent for another offset than the one
    /// it has reached (a concurrent or replayed request): it goes on from
    /// `expected`.
    #[error("the upload is at offset {expected}, not where these bytes start")]
    OffsetMismatch {
        /// Where the upload is.
        expected: u64,
    },
    /// The attachment is past its upload (confirmed, failed or being checked):
    /// it accepts no bytes, and only a `Ready` one may be confirmed again.
    #[error("the attachment is {} and no longer awaits an upload", .0.as_str())]
    NotPending(AttachmentState),
    /// The uploaded bytes failed a check at confirm (size, type); the attachment
    /// is now `VerificationFailed` and its bytes are deleted.
    #[error("the uploaded file failed verification: {0}")]
    VerificationFailed(ValidationError),
    /// The entity tag the client confirmed with is not the stored object's; the
    /// attachment is now `ChecksumMismatch` and its bytes are deleted.
    #[error("ETag mismatch: declared {declared}, stored {actual}")]
    ETagMismatch {
        /// What the client said, quotes removed.
        declared: String,
        /// The stored object's, quotes removed.
        actual: String,
    },
    /// A message cannot carry this attachment; nothing was linked.
    #[error("attachment {id} cannot be linked to the message: {reason}")]
    NotLinkable {
        /// The first attachment that cannot be linked.
        id: AttachmentId,
        /// Why.
        reason: LinkRefusal,
    },
    /// The message itself is malformed (too long, too many attachments).
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// The tenant's quota does not admit the upload; nothing of it was kept.
    #[error(transparent)]
    QuotaExceeded(#[from] QuotaExceeded),
    /// The virus scanner found malware in the file: the attachment is now
    /// `VerificationFailed` with the reason recorded, and its bytes are deleted.
    #[error("the file is infected ({signature}) and was not stored")]
    Infected {
        /// The scanner's name of what it found.
        signature: String,
        /// The failed attachment's number, for dialects that address by number.
        number: i64,
    },
    /// The virus scanner gave no verdict (unreachable, failing, too slow):
    /// nothing unscanned is kept, so the upload is refused and may be retried.
    #[error("the file could not be scanned for viruses: {0}")]
    ScanFailed(String),
    /// Every byte of a resumable upload arrived and it is being finished
    /// (checked, scanned, committed), or its finishing was cut off by the
    /// process dying: where it stands is not known until that ends, and it
    /// takes no more parts meanwhile. One cut off is swept at its deadline.
    #[error("the upload is being finished")]
    Finishing,
}

/// What kind of failure an [`AttachmentError`] is, without its details: what a
/// front end classifies once, in the style of [`std::io::ErrorKind`], to pick its
/// status code and wire code from a small table instead of matching every
/// variant (and every [`ValidationError`]) again in each front end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The principal lacks this scope.
    Forbidden(Scope),
    /// Nothing the principal may see has that id.
    NotFound,
    /// The session reaches the attachment or room, but may not do this there.
    OutOfReach,
    /// More bytes than the limit.
    TooLarge,
    /// A media type off the allowlist.
    DisallowedType,
    /// Bytes of another format than declared.
    MagicMismatch,
    /// Any other broken rule of an upload: empty, a malformed checksum, a size
    /// that does not match.
    InvalidUpload,
    /// The client's body broke off.
    Interrupted,
    /// The bytes do not match the declared checksum.
    ChecksumMismatch,
    /// A signed URL that is tampered with or expired.
    InvalidSignature,
    /// The signer could not make a URL (e.g. an object store's presigning failed).
    SignerUnavailable,
    /// A transition the state machine forbids.
    InvalidState,
    /// A direct upload confirmed before its bytes arrived.
    NotUploaded,
    /// A direct upload whose URL expired.
    UploadExpired,
    /// Bytes of a resumable upload sent for another offset.
    OffsetMismatch,
    /// An attachment past its upload.
    NotPending,
    /// Bytes that failed a check at confirm.
    VerificationFailed,
    /// An entity tag that is not the stored object's.
    ETagMismatch,
    /// An attachment a message cannot carry, and why.
    NotLinkable(LinkRefusal),
    /// A malformed message.
    InvalidMessage,
    /// The tenant's quota is full.
    QuotaExceeded,
    /// Malware; the failed attachment's number.
    Infected {
        /// The failed attachment's number, for dialects that address by number.
        number: i64,
    },
    /// No virus verdict could be had.
    ScanFailed,
    /// A resumable upload being finished.
    Finishing,
    /// The blob store failed.
    StorageUnavailable,
    /// The metadata store failed.
    Internal,
}

impl AttachmentError {
    /// Whether the service failed rather than the request: a store, the
    /// scanner or the signer gave no answer, and the same request may
    /// succeed later. A resumable upload keeps what it received through
    /// such a failure, for its client to send the last part again.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::StorageUnavailable
                | ErrorKind::Internal
                | ErrorKind::ScanFailed
                | ErrorKind::SignerUnavailable
        )
    }

    /// The kind of this failure (see [`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        match self {
            AttachmentError::Forbidden(scope) => ErrorKind::Forbidden(*scope),
            AttachmentError::NotFound => ErrorKind::NotFound,
            AttachmentError::OutOfReach(_) => ErrorKind::OutOfReach,
            AttachmentError::Invalid(v) => match v {
                ValidationError::TooLarge { .. } => ErrorKind::TooLarge,
                ValidationError::DisallowedType(_) | ValidationError::Executable(_) => {
                    ErrorKind::DisallowedType
                }
                ValidationError::MagicMismatch { .. } => ErrorKind::MagicMismatch,
                ValidationError::MalformedChecksum
                | ValidationError::InvalidUploader
                | ValidationError::EmptyFile
                | ValidationError::SizeMismatch { .. }
                | ValidationError::TooManyParts { .. } => ErrorKind::InvalidUpload,
            },
            AttachmentError::Interrupted(_) => ErrorKind::Interrupted,
            AttachmentError::ChecksumMismatch { .. } => ErrorKind::ChecksumMismatch,
            AttachmentError::Signature(SignatureError::Backend(_)) => ErrorKind::SignerUnavailable,
            AttachmentError::Signature(_) => ErrorKind::InvalidSignature,
            AttachmentError::State(_) => ErrorKind::InvalidState,
            AttachmentError::Storage(_) => ErrorKind::StorageUnavailable,
            AttachmentError::Repository(_) => ErrorKind::Internal,
            AttachmentError::NotUploaded => ErrorKind::NotUploaded,
            AttachmentError::UploadExpired => ErrorKind::UploadExpired,
            AttachmentError::OffsetMismatch { .. } => ErrorKind::OffsetMismatch,
            AttachmentError::NotPending(_) => ErrorKind::NotPending,
            AttachmentError::VerificationFailed(_) => ErrorKind::VerificationFailed,
            AttachmentError::ETagMismatch { .. } => ErrorKind::ETagMismatch,
            AttachmentError::NotLinkable { reason, .. } => ErrorKind::NotLinkable(*reason),
            AttachmentError::InvalidMessage(_) => ErrorKind::InvalidMessage,
            AttachmentError::QuotaExceeded(_) => ErrorKind::QuotaExceeded,
            AttachmentError::Infected { number, .. } => ErrorKind::Infected { number: *number },
            AttachmentError::ScanFailed(_) => ErrorKind::ScanFailed,
            AttachmentError::Finishing => ErrorKind::Finishing,
        }
    }
}

/// Why an attachment cannot be linked to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum LinkRefusal {
    /// No such attachment in the tenant (also: another tenant's).
    #[error("it does not exist")]
    Unknown,
    /// It is not `Ready` (not confirmed, or failed verification).
    #[error("it is not ready (confirm it first)")]
    NotReady,
    /// It was uploaded to another ticket.
    #[error("it belongs to another ticket")]
    OtherTicket,
    /// It is on a message already.
    #[error("it is on a message already")]
    AlreadyLinked,
    /// It changed while the message was being posted; posting again decides.
    #[error("it changed while the message was posted")]
    Changed,
}

impl From<BlobError> for AttachmentError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::NotFound => AttachmentError::Storage("object missing".into()),
            BlobError::Body(BodyError::Rejected(v)) => AttachmentError::Invalid(v),
            BlobError::Body(BodyError::Interrupted(m)) => AttachmentError::Interrupted(m),
            BlobError::Body(BodyError::Unavailable(m)) => AttachmentError::Storage(m),
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
    /// A session's rooms are not integer ids, none or too many.
    #[error(transparent)]
    InvalidRooms(#[from] crate::reach::InvalidRooms),
    /// An upload policy names a type or a size Clasp cannot use.
    #[error(transparent)]
    InvalidPolicy(#[from] crate::policy::PolicyError),
    /// A key needs at least one scope.
    #[error("an API key needs at least one scope")]
    NoScopes,
    /// No key matches.
    #[error("no API key matches {0:?}")]
    UnknownKey(String),
    /// Several keys match a prefix.
    #[error("{0:?} matches several API keys; give more of the key or its id")]
    AmbiguousKey(String),
    /// No session has that id or cookie value (the value is not repeated: it is
    /// a secret).
    #[error("no session matches the given id or cookie value")]
    UnknownSession,
    /// A session needs a user id and a positive lifetime of at most
    /// [`MAX_SESSION_LIFETIME`](crate::credentials::MAX_SESSION_LIFETIME).
    #[error(
        "a session needs a non-empty user id and a positive lifetime of at most {} days",
        crate::credentials::MAX_SESSION_LIFETIME.whole_days()
    )]
    InvalidSession,
    /// The identity store failed.
    #[error(transparent)]
    Backend(#[from] RepoError),
}

/// An error and its causes on one line. Many errors say only what failed
/// ("Payload error", "error sending request") while the cause (a stalled client,
/// connection refused) is what a client or an operator needs to read; causes
/// already quoted by the message are not repeated.
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = c.source();
    }
    message
}

#[cfg(test)]
mod with_causes_tests {
    use super::with_causes;

    #[test]
    fn causes_follow_the_message_once() {
        let inner = std::io::Error::new(std::io::ErrorKind::TimedOut, "no bytes for 30 s");
        let outer = std::io::Error::other(inner);
        // io::Error::other displays its inner error: it is not repeated
        assert_eq!(with_causes(&outer), "no bytes for 30 s");
        let fmt = std::fmt::Error;
        assert_eq!(with_causes(&fmt), fmt.to_string());
    }
}
