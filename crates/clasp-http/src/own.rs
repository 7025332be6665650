//! How Clasp's own routes (signed URLs, operations) say a problem: as an object
//! store answers a presigned request — `403 invalid_signature`, `409
//! upload_closed`, `413 payload_too_large` — in the body
//! `{"error": "<code>", "message": "<text>"}`.

use actix_web::http::StatusCode;
use clasp_domain::ErrorKind;
use serde::Serialize;
use utoipa::ToSchema;

use crate::dialects::Dialect;
use crate::extract::Anyone;
use crate::problem::{Problem, ProblemKind};
use crate::wire::{INTERNAL_MESSAGE, Wire, WireDialect, standard};

/// Clasp's own routes.
pub struct Own;

/// The error body of signed URLs (downloads and uploads) and of every other
/// route of Clasp's own: a stable `error` code and a `message` for people.
#[derive(Serialize, ToSchema)]
#[schema(as = clasp::Error)]
pub struct ErrorJson<'a> {
    error: &'a str,
    message: &'a str,
}

impl<'a> ErrorJson<'a> {
    /// The body saying `error` with `message`.
    pub(crate) fn new(error: &'a str, message: &'a str) -> Self {
        Self { error, message }
    }
}

impl WireDialect for Own {
    const DIALECT: Dialect = Dialect::Signed;
    type Caller = Anyone;

    fn wire(problem: &Problem) -> Wire {
        use ErrorKind as E;
        use StatusCode as S;
        let ProblemKind::Domain(kind) = problem.kind else {
            return standard(problem);
        };
        match kind {
            E::InvalidSignature | E::UploadExpired => Wire::new(S::FORBIDDEN, "invalid_signature"),
            E::NotFound => standard(problem),
            E::NotPending => Wire::new(S::CONFLICT, "upload_closed"),
            E::TooLarge => Wire::new(S::PAYLOAD_TOO_LARGE, "payload_too_large"),
            E::MagicMismatch => Wire::new(S::BAD_REQUEST, "content_type_mismatch"),
            E::DisallowedType | E::InvalidUpload => Wire::new(S::BAD_REQUEST, "invalid_request"),
            E::Interrupted => Wire::new(S::BAD_REQUEST, "upload_interrupted"),
            _ => Wire::new(S::INTERNAL_SERVER_ERROR, "internal_error").saying(INTERNAL_MESSAGE),
        }
    }

    fn body<'a>(_: &'a Problem, wire: &'a Wire, message: &'a str) -> impl Serialize + 'a {
        ErrorJson::new(&wire.code, message)
    }

    fn challenges(_: &Problem, _: &Wire) -> bool {
        false
    }
}
