//! What went wrong with a request, said once for every dialect.
//!
//! A [`Problem`] is built with `?` from the domain's errors, authentication
//! failures, form and listing errors and admission refusals. It names the kind
//! of failure, a message for people and, where one form field or query
//! parameter is at fault, its name. Each dialect then says it in its own words:
//! its table in [`crate::wire`] turns the kind into its status code, wire code
//! and error body.

use clasp_domain::webhooks::WebhookError;
use std::borrow::Cow;

use clasp_domain::listing::Bound;
use clasp_domain::{AttachmentError, AuthError, ErrorKind, IdentityError, ListingError};

use crate::limits::Refusal;

/// The kind of a failure, without any dialect's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// The request presents no credential.
    Unauthenticated,
    /// The credential is unknown, revoked or expired.
    BadCredential,
    /// The identity store failed while checking the credential.
    AuthUnavailable,
    /// A failure of the domain's use cases.
    Domain(ErrorKind),
    /// The request cannot be read: a broken form, a bad id in a body, a bad
    /// query string.
    BadRequest,
    /// A required form field is absent.
    MissingField,
    /// A form field breaks a bound or its format.
    InvalidField,
    /// A query parameter is unknown, repeated or malformed.
    InvalidParameter,
    /// A form field follows the file, which must come last.
    FileNotLast,
    /// A JSON body is larger than its cap.
    BodyTooLarge,
    /// The `x-workspace-id` header is absent.
    MissingWorkspace,
    /// The credential does not grant the workspace named.
    WorkspaceMismatch,
    /// A request authenticated by a browser's cookie that would change
    /// something comes from another site.
    CrossSite,
    /// What the request would create exists already (a tenant's slug).
    Conflict,
    /// Too many uploads are being received at once.
    Busy,
    /// The credential sent more requests than its rate allows.
    RateLimited,
    /// The request speaks a protocol version this server does not (tus's
    /// `Tus-Resumable`).
    UnsupportedVersion,
    /// The request's body is not of the type the endpoint takes.
    UnsupportedBody,
}

/// A failure as every dialect sees it before choosing its words.
#[derive(Debug, Clone)]
pub struct Problem {
    /// What kind of failure it is.
    pub kind: ProblemKind,
    /// A message for people; dialects may replace it (see [`crate::wire::Wire`]),
    /// and it is what the log says of a server-side failure.
    pub message: String,
    /// The form field or query parameter at fault, if one is.
    pub parameter: Option<Cow<'static, str>>,
    /// Whole seconds after which a refused client may try again (`Retry-After`).
    pub retry_after_secs: Option<u64>,
}

impl Problem {
    /// A problem of `kind`, described by `message`.
    pub fn new(kind: ProblemKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            parameter: None,
            retry_after_secs: None,
        }
    }

    /// An unreadable request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ProblemKind::BadRequest, message)
    }

    /// Nothing the caller may see is there: the same answer for what does not
    /// exist, what is another tenant's and what is named by a malformed id.
    pub fn not_found() -> Self {
        Self::from(AttachmentError::NotFound)
    }

    /// The same problem, blaming the form field or query parameter `name`.
    #[must_use]
    pub fn at(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.parameter = Some(name.into());
        self
    }

    /// The same problem, naming the file it is about in its message.
    #[must_use]
    pub fn about(mut self, filename: &str) -> Self {
        self.message = format!("{filename:?}: {}", self.message);
        self
    }
}

impl From<AttachmentError> for Problem {
    fn from(e: AttachmentError) -> Self {
        Self::new(ProblemKind::Domain(e.kind()), e.to_string())
    }
}

impl From<AuthError> for Problem {
    fn from(e: AuthError) -> Self {
        let kind = match e {
            AuthError::Missing => ProblemKind::Unauthenticated,
            AuthError::Backend(_) => ProblemKind::AuthUnavailable,
            AuthError::Invalid | AuthError::Revoked | AuthError::Expired => {
                ProblemKind::BadCredential
            }
        };
        Self::new(kind, e.to_string())
    }
}

impl From<IdentityError> for Problem {
    fn from(e: IdentityError) -> Self {
        use IdentityError as I;
        let kind = match &e {
            I::InvalidSlug(_)
            | I::UnknownScope(_)
            | I::NoScopes
            | I::InvalidSession
            | I::InvalidRooms(_)
            | I::InvalidPolicy(_) => ProblemKind::InvalidField,
            I::TenantExists(_) => ProblemKind::Conflict,
            I::UnknownTenant(_) | I::UnknownKey(_) | I::UnknownSession => {
                ProblemKind::Domain(ErrorKind::NotFound)
            }
            I::AmbiguousKey(_) => ProblemKind::BadRequest,
            I::Backend(_) => ProblemKind::Domain(ErrorKind::Internal),
        };
        Self::new(kind, e.to_string())
    }
}

impl From<WebhookError> for Problem {
    fn from(e: WebhookError) -> Self {
        let kind = match &e {
            WebhookError::InvalidUrl(_)
            | WebhookError::HostNotAllowed(_)
            | WebhookError::InvalidEvents(_)
            | WebhookError::TooMany => ProblemKind::InvalidField,
            WebhookError::NotFound => ProblemKind::Domain(ErrorKind::NotFound),
            WebhookError::Store(_) => ProblemKind::Domain(ErrorKind::Internal),
        };
        Self::new(kind, e.to_string())
    }
}

impl From<ListingError> for Problem {
    fn from(e: ListingError) -> Self {
        let parameter = match &e {
            ListingError::Limit(_) => "limit",
            ListingError::TooManyFilters(_) => "query",
            ListingError::Cursor {
                bound: Bound::After,
                ..
            } => "after",
            ListingError::Cursor {
                bound: Bound::Before,
                ..
            } => "before",
        };
        Self::new(ProblemKind::InvalidParameter, format!("{parameter}: {e}")).at(parameter)
    }
}

impl From<crate::form::FormError> for Problem {
    fn from(e: crate::form::FormError) -> Self {
        Self::bad_request(e.to_string())
    }
}

impl From<Refusal> for Problem {
    fn from(refused: Refusal) -> Self {
        let kind = match refused {
            Refusal::Busy | Refusal::ShareTaken => ProblemKind::Busy,
            Refusal::RateLimited { .. } => ProblemKind::RateLimited,
        };
        Self {
            retry_after_secs: Some(refused.retry_after_secs()),
            ..Self::new(kind, refused.message())
        }
    }
}
