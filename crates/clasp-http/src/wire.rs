//! How a dialect says a [`Problem`]: one error type for every handler, generic
//! over the dialect, so that a handler only writes `?` and no handler builds an
//! error response by hand.
//!
//! A dialect is a [`WireDialect`]: a small table from problem kind to its status
//! code and wire code (most dialects change a few rows of [`standard`]), and its
//! error body. [`ApiError`] is the actix `ResponseError` that applies them.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpResponse, ResponseError};
use clasp_domain::{AttachmentError, AuthError, ErrorKind, IdentityError, ListingError};
use serde::Serialize;

use crate::dialects::Dialect;
use crate::problem::{Problem, ProblemKind};

/// A problem as one dialect says it.
#[derive(Debug, Clone)]
pub struct Wire {
    /// The HTTP status.
    pub status: StatusCode,
    /// The dialect's stable code for it (dialects without codes ignore it).
    pub code: Cow<'static, str>,
    /// The message the client reads, when the dialect says something other
    /// than the problem's own message (a fixed text of its documentation, or a
    /// generic one for a failure whose details belong in the log only).
    pub message: Option<Cow<'static, str>>,
}

impl Wire {
    /// `status` and `code`, with the problem's own message.
    pub fn new(status: StatusCode, code: &'static str) -> Self {
        Self {
            status,
            code: Cow::Borrowed(code),
            message: None,
        }
    }

    /// The same, saying `message` instead of the problem's message.
    #[must_use]
    pub fn saying(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.message = Some(message.into());
        self
    }
}

/// The message of a failure inside Clasp: its details go to the log, not to
/// the client.
pub const INTERNAL_MESSAGE: &str = "the request could not be completed";

/// The answer most dialects give: the `tickets` dialect's codes, which the
/// others change a few rows of.
pub fn standard(problem: &Problem) -> Wire {
    use ErrorKind as E;
    use ProblemKind as P;
    use StatusCode as S;
    let internal =
        || Wire::new(S::INTERNAL_SERVER_ERROR, "internal_error").saying(INTERNAL_MESSAGE);
    match problem.kind {
        P::Unauthenticated | P::BadCredential => Wire::new(S::UNAUTHORIZED, "unauthorized"),
        P::AuthUnavailable => Wire::new(S::INTERNAL_SERVER_ERROR, "internal_error")
            .saying("authentication is unavailable"),
        P::BadRequest | P::InvalidField | P::InvalidParameter => {
            Wire::new(S::BAD_REQUEST, "invalid_request")
        }
        P::MissingField => Wire::new(S::BAD_REQUEST, "missing_file"),
        P::FileNotLast => Wire::new(S::BAD_REQUEST, "file_not_last"),
        P::BodyTooLarge => Wire::new(S::PAYLOAD_TOO_LARGE, "request_too_large"),
        P::MissingWorkspace => Wire::new(S::BAD_REQUEST, "missing_workspace_id"),
        P::WorkspaceMismatch => Wire::new(S::FORBIDDEN, "workspace_mismatch"),
        P::CrossSite => Wire::new(S::FORBIDDEN, "cross_site_request"),
        P::Conflict => Wire::new(S::CONFLICT, "conflict"),
        P::Busy => Wire::new(S::SERVICE_UNAVAILABLE, "too_many_uploads"),
        P::RateLimited => Wire::new(S::TOO_MANY_REQUESTS, "rate_limited"),
        P::UnsupportedVersion => Wire::new(S::PRECONDITION_FAILED, "unsupported_version"),
        P::UnsupportedBody => Wire::new(S::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        P::Domain(kind) => match kind {
            E::Forbidden(_) => Wire::new(S::FORBIDDEN, "insufficient_scope"),
            E::OutOfReach => Wire::new(S::FORBIDDEN, "forbidden"),
            E::NotFound => Wire::new(S::NOT_FOUND, "not_found").saying("attachment not found"),
            E::TooLarge => Wire::new(S::BAD_REQUEST, "file_too_large"),
            E::DisallowedType => Wire::new(S::BAD_REQUEST, "invalid_file_type"),
            E::MagicMismatch | E::VerificationFailed => {
                Wire::new(S::BAD_REQUEST, "content_type_mismatch")
            }
            E::InvalidUpload | E::NotLinkable(_) | E::InvalidMessage => {
                Wire::new(S::BAD_REQUEST, "invalid_request")
            }
            E::Interrupted => Wire::new(S::BAD_REQUEST, "upload_interrupted"),
            E::ChecksumMismatch | E::ETagMismatch => Wire::new(S::BAD_REQUEST, "checksum_mismatch"),
            E::InvalidState
            | E::NotUploaded
            | E::UploadExpired
            | E::NotPending
            | E::OffsetMismatch
            | E::Finishing => Wire::new(S::CONFLICT, "conflict"),
            E::QuotaExceeded => Wire::new(S::FORBIDDEN, "quota_exceeded"),
            E::Infected { .. } => Wire::new(S::UNPROCESSABLE_ENTITY, "infected_file"),
            E::ScanFailed => Wire::new(S::SERVICE_UNAVAILABLE, "scanner_unavailable")
                .saying("the file could not be scanned for viruses; try again later"),
            E::InvalidSignature | E::SignerUnavailable | E::StorageUnavailable | E::Internal => {
                internal()
            }
        },
    }
}

/// One dialect's way of saying problems: its table and its error body.
pub trait WireDialect: Sized + 'static {
    /// Which dialect this is, for labels and logs.
    const DIALECT: Dialect;

    /// How this dialect's callers are authenticated; a request naming an
    /// ill-formed id is authenticated first, so that it is refused for its
    /// credential before it is answered "not found".
    type Caller: FromRequest<Error = ApiError<Self>>;

    /// The status, code and message of `problem` in this dialect.
    fn wire(problem: &Problem) -> Wire {
        standard(problem)
    }

    /// The error body of `problem`, said as `wire` with `message`.
    fn body<'a>(problem: &'a Problem, wire: &'a Wire, message: &'a str) -> impl Serialize + 'a;

    /// Headers every refusal of this dialect carries (a protocol's version).
    fn headers() -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// Whether the answer challenges the client to authenticate with a Bearer
    /// key (`WWW-Authenticate: Bearer`).
    fn challenges(_problem: &Problem, wire: &Wire) -> bool {
        wire.status == StatusCode::UNAUTHORIZED
    }
}

/// A failure of a request to dialect `D`, answered in `D`'s words. Built with
/// `?` from every error a handler meets.
pub struct ApiError<D> {
    problem: Problem,
    set_cookie: Option<String>,
    dialect: PhantomData<fn() -> D>,
}

/// What a handler of dialect `D` returns.
pub type Reply<D> = Result<HttpResponse, ApiError<D>>;

impl<D> ApiError<D> {
    /// The problem behind this error.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    /// The same error, telling the browser to store `cookie` (e.g. to forget a
    /// session that no longer works).
    #[must_use]
    pub fn setting_cookie(mut self, cookie: String) -> Self {
        self.set_cookie = Some(cookie);
        self
    }

    /// The same error, naming the file it is about.
    #[must_use]
    pub fn about(mut self, filename: &str) -> Self {
        self.problem = self.problem.about(filename);
        self
    }
}

impl<D> From<Problem> for ApiError<D> {
    fn from(problem: Problem) -> Self {
        Self {
            problem,
            set_cookie: None,
            dialect: PhantomData,
        }
    }
}

impl<D> From<AttachmentError> for ApiError<D> {
    fn from(e: AttachmentError) -> Self {
        Problem::from(e).into()
    }
}

impl<D> From<AuthError> for ApiError<D> {
    fn from(e: AuthError) -> Self {
        Problem::from(e).into()
    }
}

impl<D> From<IdentityError> for ApiError<D> {
    fn from(e: IdentityError) -> Self {
        Problem::from(e).into()
    }
}

impl<D> From<clasp_domain::webhooks::WebhookError> for ApiError<D> {
    fn from(e: clasp_domain::webhooks::WebhookError) -> Self {
        Problem::from(e).into()
    }
}

impl<D> From<ListingError> for ApiError<D> {
    fn from(e: ListingError) -> Self {
        Problem::from(e).into()
    }
}

impl<D> From<crate::form::FormError> for ApiError<D> {
    fn from(e: crate::form::FormError) -> Self {
        Problem::from(e).into()
    }
}

impl<D> fmt::Debug for ApiError<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ApiError").field(&self.problem).finish()
    }
}

impl<D> fmt::Display for ApiError<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problem.message)
    }
}

impl<D: WireDialect> ResponseError for ApiError<D> {
    fn status_code(&self) -> StatusCode {
        D::wire(&self.problem).status
    }

    fn error_response(&self) -> HttpResponse {
        respond::<D>(&self.problem, self.set_cookie.as_deref())
    }
}

/// The answer to `problem` in dialect `D`: its status, headers and body. A
/// failure inside Clasp is logged here, once, with its details.
pub fn respond<D: WireDialect>(problem: &Problem, set_cookie: Option<&str>) -> HttpResponse {
    let wire = D::wire(problem);
    if wire.status.is_server_error() && problem.kind != ProblemKind::Busy {
        tracing::error!(dialect = D::DIALECT.label(), error = %problem.message, "request failed");
    }
    let mut res = HttpResponse::build(wire.status);
    if D::challenges(problem, &wire) {
        res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
    }
    if let Some(cookie) = set_cookie {
        res.insert_header((header::SET_COOKIE, cookie));
    }
    if let Some(secs) = problem.retry_after_secs {
        res.insert_header((header::RETRY_AFTER, secs));
    }
    for header in D::headers() {
        res.insert_header(*header);
    }
    let message = wire.message.as_deref().unwrap_or(&problem.message);
    res.json(D::body(problem, &wire, message))
}
