//! The `redirect` dialect (seed 004): `GET /api/v1/attachments/{uuid}/download`
//! with `Authorization: Bearer ixk_…` answers 307 to a URL that downloads the
//! bytes without credentials for 15 minutes — presigned by S3 when the bytes are
//! in S3, signed by Clasp otherwise.
//!
//! It shares `/api/v1` with the `chat` dialect (`is_redirects` says which
//! requests are its own). Errors are the seed's bodies, word for word:
//! `{"error": "Unauthorized", "message": "<the seed's text>", "code": 401}`
//! (403 `Forbidden`, 404 `Not Found`, 503 `Service Unavailable`), with the
//! problem code the seed names in `problem`: `unauthorized`,
//! `insufficient_scope` (a key without the scope a POST/PATCH/DELETE needs),
//! `not_found` (unknown, another tenant's, not a UUID, not downloadable, no such
//! endpoint), `service_unavailable` (object storage unreachable or unable to
//! sign), `internal_error`.

use actix_web::guard::GuardContext;
use actix_web::http::{Method, StatusCode, header};
use actix_web::web::{self, Data};
use actix_web::{HttpRequest, HttpResponse};
use clasp_domain::services::Lookup;
use clasp_domain::{AttachmentError, AttachmentId, ErrorKind, Scope};
use serde::Serialize;
use utoipa::ToSchema;

use crate::dialects::Dialect;
use crate::extract::{Bearer, PathParam, RedirectId};
use crate::problem::{Problem, ProblemKind};
use crate::routes::{Claim, Group, Handler, handlers};
use crate::wire::{INTERNAL_MESSAGE, Reply, Wire, WireDialect, standard};
use crate::{Services, credentials};

/// The `redirect` dialect: the seed's few answers, with its own texts.
pub struct Redirect;

impl WireDialect for Redirect {
    const DIALECT: Dialect = Dialect::Redirect;
    type Caller = Bearer<Redirect>;

    fn wire(problem: &Problem) -> Wire {
        use ErrorKind as E;
        use ProblemKind as P;
        use StatusCode as S;
        match problem.kind {
            P::Unauthenticated | P::BadCredential => Wire::new(S::UNAUTHORIZED, "unauthorized")
                .saying("Authentication required. Please provide a valid API token"),
            P::AuthUnavailable | P::Busy | P::RateLimited => standard(problem),
            P::Domain(E::Forbidden(_)) => Wire::new(S::FORBIDDEN, "insufficient_scope")
                .saying("You don't have permission to access this resource"),
            P::Domain(E::NotFound) => {
                Wire::new(S::NOT_FOUND, "not_found").saying("The requested resource was not found")
            }
            P::Domain(E::StorageUnavailable | E::SignerUnavailable) => {
                Wire::new(S::SERVICE_UNAVAILABLE, "service_unavailable")
                    .saying("The service is temporarily unavailable. Please try again later")
            }
            _ => Wire::new(S::INTERNAL_SERVER_ERROR, "internal_error").saying(INTERNAL_MESSAGE),
        }
    }

    fn body<'a>(_: &'a Problem, wire: &'a Wire, message: &'a str) -> impl Serialize + 'a {
        ErrorJson {
            error: wire.status.canonical_reason().unwrap_or("Error"),
            message,
            code: wire.status.as_u16(),
            problem: &wire.code,
        }
    }
}

/// The dialect's routes: every Bearer request under `/api/v1` is its own
/// (the `chat` dialect, on the same paths, authenticates by cookie); its
/// `DELETE` shares a path with the `chat` dialect, which documents both.
pub(crate) fn routes() -> Group {
    Group::new(Dialect::Redirect, handlers![download])
        .with([Handler::same_as(Dialect::Chat, "delete", || {
            web::to(delete)
        })])
        .claiming(Claim {
            prefix: "/api/v1",
            guard: is_redirects,
            fallback: || web::to(other),
        })
}

/// The error body of seed 004: the status's name (`Unauthorized`), a text for
/// people and the status again; and the problem code the seed's response list
/// names, which tells its two 403s apart.
#[derive(Serialize, ToSchema)]
#[schema(as = redirect::Error)]
pub(crate) struct ErrorJson<'a> {
    /// `Unauthorized`, `Forbidden`, `Not Found`, `Service Unavailable`, …
    error: &'a str,
    message: &'a str,
    code: u16,
    /// `unauthorized`, `insufficient_scope`, `not_found`, `service_unavailable`, …
    problem: &'a str,
}

/// Whether a request under `/api/v1`, which seeds 003 (chat, by cookie and
/// attachment number) and 004 (by Bearer key and UUID) share, is this
/// dialect's: an attachment named by UUID is; one named otherwise with the
/// session cookie is chat's, whatever other headers come with it (a chat
/// client may send a Bearer header too); otherwise a Bearer key makes it this
/// dialect's. A request with no credential at all goes where its path leads:
/// a UUID here, a number to chat.
fn is_redirects(ctx: &GuardContext<'_>) -> bool {
    let headers = ctx.head().headers();
    let named = ctx
        .head()
        .uri
        .path()
        .strip_prefix("/api/v1/attachments/")
        .and_then(|rest| rest.split('/').next());
    // The hyphenated form only: 32 digits without hyphens parse as a UUID too,
    // and are a (too large) chat number.
    if named.is_some_and(|id| id.len() == 36 && uuid::Uuid::parse_str(id).is_ok()) {
        return true;
    }
    credentials::session_cookie(headers) == credentials::SessionCookie::None
        && credentials::bearer(headers).is_some()
}

type Attached = PathParam<AttachmentId, RedirectId, Redirect>;

/// The 307's body, `{}` as the seed shows it.
#[derive(Serialize)]
struct EmptyJson {}

#[utoipa::path(get, path = "/api/v1/attachments/{attachmentId}/download", params(("attachmentId" = String, Path, description = "The attachment's UUID (Bearer), or its number (session cookie)")), security(("bearer" = []), ("session" = [])), responses(
    (status = 307, description = "Redirect to a URL that works without credentials for 15 minutes", headers(("Location" = String, description = "The presigned or signed URL"))),
    crate::download::Responses,
    (status = 401, description = "No, unknown or revoked credential", body = crate::dialects::chat::SharedError),
    (status = 403, description = "`forbidden`", body = ErrorJson),
    (status = 404, description = "Unknown, another tenant's, or not downloadable", body = crate::dialects::chat::SharedError),
    (status = 429, description = "Too many requests for this key; see `Retry-After`", body = crate::dialects::chat::SharedError),
    (status = 503, description = "Object storage is unreachable or cannot sign", body = ErrorJson),
))]
/// `GET /api/v1/attachments/{uuid}/download`: 307 to a short-lived URL. With
/// the `clasp_session` cookie instead, the `chat` dialect serves the file named
/// `download` of attachment number `{attachmentId}`.
async fn download(p: Bearer<Redirect>, id: Attached, services: Data<Services>) -> Reply<Redirect> {
    let url = services
        .attachments
        .download_redirect(&p, &Lookup::id(id.0), services.redirect_url_ttl)
        .await?;
    Ok(HttpResponse::TemporaryRedirect()
        .insert_header((header::LOCATION, url.url))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(EmptyJson {}))
}

/// `DELETE /api/v1/attachments/{uuid}`: a key with `attachments:delete` deletes.
async fn delete(p: Bearer<Redirect>, id: Attached, services: Data<Services>) -> Reply<Redirect> {
    services.attachments.delete(&p, &Lookup::id(id.0)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Any other Bearer request under `/api/v1`: authenticated first; a write
/// method with a key that may not write is `insufficient_scope`; then 404 (API
/// keys have no other endpoint here).
async fn other(p: Bearer<Redirect>, req: HttpRequest) -> Reply<Redirect> {
    let writes = [Method::POST, Method::PATCH, Method::PUT, Method::DELETE];
    if writes.contains(req.method()) && !p.scopes.contains(Scope::Write) {
        return Err(AttachmentError::Forbidden(Scope::Write).into());
    }
    Err(Problem::not_found().into())
}
