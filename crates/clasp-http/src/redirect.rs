//! The `redirect` dialect (seed 004): `GET /api/v1/attachments/{uuid}/download`
//! with `Authorization: Bearer ixk_…` answers 307 to a URL that downloads the
//! bytes without credentials for 15 minutes — presigned by S3 when the bytes are
//! in S3, signed by Clasp otherwise.
//!
//! It owns every request under `/api/v1` that carries `Authorization: Bearer`
//! (the `chat` dialect, on the same paths, authenticates by cookie). Errors are
//! `{"error": "<problem code>", "message": "<text>", "code": <status>}`: 401
//! `unauthorized`, 403 `insufficient_scope` (a key without the scope a
//! POST/PATCH/DELETE needs), 404 `not_found` (unknown, another tenant's, not a
//! UUID, not downloadable, no such endpoint), 503 `service_unavailable`
//! (object storage unreachable or unable to sign), 500 `internal_error`.

use actix_web::guard::{self, GuardContext};
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use clasp_domain::ports::SignatureError;
use clasp_domain::services::Lookup;
use clasp_domain::{AttachmentError, AttachmentId, AuthError, Principal, Scope};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::limits::Refusal;
use crate::{Services, bearer};

/// Registers the dialect's routes, guarded so that only Bearer requests reach
/// them; register before [`crate::chat::routes`].
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .guard(guard::fn_guard(has_bearer))
            .service(
                web::resource("/attachments/{id}/download")
                    .route(web::get().to(download))
                    .default_service(web::to(other)),
            )
            .service(
                web::resource("/attachments/{id}")
                    .route(web::delete().to(delete))
                    .default_service(web::to(other)),
            )
            .default_service(web::to(other)),
    );
}

/// This dialect's part of the OpenAPI document, built from the handler below;
/// its `DELETE` shares a path with the `chat` dialect, which documents both.
#[derive(OpenApi)]
#[openapi(paths(download))]
pub(crate) struct Api;

/// The error body: a problem code, a text for people and the status again.
#[derive(Serialize, ToSchema)]
#[schema(as = redirect::Error)]
pub(crate) struct ErrorJson<'a> {
    error: &'a str,
    message: &'a str,
    code: u16,
}

/// Whether the request carries `Authorization: Bearer …`.
fn has_bearer(ctx: &GuardContext<'_>) -> bool {
    ctx.head()
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_start().get(..7))
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer "))
}

/// A failure as this dialect reports it.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "The requested resource was not found",
        )
    }

    fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "The service is temporarily unavailable. Please try again later",
        )
    }

    fn response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        res.json(ErrorJson {
            error: self.code,
            message: &self.message,
            code: self.status.as_u16(),
        })
    }
}

/// A refusal made before the handler ran (rate limit, upload cap), in this
/// dialect's error shape.
pub(crate) fn refusal(refused: Refusal) -> HttpResponse {
    let (status, code, message) = refused.describe();
    ApiError::new(status, code, message).response()
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Backend(b) => {
                tracing::error!(error = %b, "authentication failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "authentication is unavailable",
                )
            }
            _ => Self::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required. Please provide a valid API token",
            ),
        }
    }
}

impl From<AttachmentError> for ApiError {
    fn from(e: AttachmentError) -> Self {
        match &e {
            AttachmentError::Forbidden(scope) => Self::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("this API key lacks the {} scope", scope.as_str()),
            ),
            AttachmentError::NotFound => Self::not_found(),
            AttachmentError::Storage(_)
            | AttachmentError::Signature(SignatureError::Backend(_)) => {
                tracing::error!(error = %e, "object storage is unavailable");
                Self::unavailable()
            }
            _ => {
                tracing::error!(error = %e, "redirect request failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "the request could not be completed",
                )
            }
        }
    }
}

type Reply = Result<HttpResponse, ApiError>;

fn finish(r: Reply) -> HttpResponse {
    r.unwrap_or_else(|e| e.response())
}

async fn principal(req: &HttpRequest, services: &Services) -> Result<Principal, ApiError> {
    Ok(bearer::authenticate(req, &services.identities).await?)
}

fn lookup(req: &HttpRequest) -> Result<Lookup, ApiError> {
    req.match_info()
        .get("id")
        .and_then(|s| s.parse::<AttachmentId>().ok())
        .map(Lookup::id)
        .ok_or_else(ApiError::not_found)
}

#[utoipa::path(
    get,
    path = "/api/v1/attachments/{attachmentId}/download",
    tag = "redirect",
    params(("attachmentId" = String, Path, description = "The attachment's UUID (Bearer), or its number (session cookie)")),
    responses(
        (status = 307, description = "Redirect to a URL that works without credentials for 15 minutes", headers(("Location" = String, description = "The presigned or signed URL"))),
        crate::download::Responses,
        (status = 401, description = "No, unknown or revoked credential", body = crate::chat::SharedError),
        (status = 403, description = "`forbidden`", body = ErrorJson),
        (status = 404, description = "Unknown, another tenant's, or not downloadable", body = crate::chat::SharedError),
        (status = 429, description = "Too many requests for this key; see `Retry-After`", body = crate::chat::SharedError),
        (status = 503, description = "Object storage is unreachable or cannot sign", body = ErrorJson),
    ),
    security(("bearer" = []), ("session" = []))
)]
/// `GET /api/v1/attachments/{uuid}/download`: 307 to a short-lived URL. With
/// the `clasp_session` cookie instead, the `chat` dialect serves the file named
/// `download` of attachment number `{attachmentId}`.
async fn download(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    finish(
        async {
            let p = principal(&req, &services).await?;
            let url = services
                .attachments
                .download_redirect(&p, &lookup(&req)?, services.redirect_url_ttl)
                .await?;
            Ok(HttpResponse::TemporaryRedirect()
                .insert_header((header::LOCATION, url.url))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish())
        }
        .await,
    )
}

/// `DELETE /api/v1/attachments/{uuid}`: a key with `attachments:delete` deletes.
async fn delete(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    finish(
        async {
            let p = principal(&req, &services).await?;
            services.attachments.delete(&p, &lookup(&req)?).await?;
            Ok(HttpResponse::NoContent().finish())
        }
        .await,
    )
}

/// Any other Bearer request under `/api/v1`: authenticated first; a write
/// method with a key that may not write is `insufficient_scope`; then 404 (API
/// keys have no other endpoint here).
async fn other(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    finish(
        async {
            let p = principal(&req, &services).await?;
            let writes = [Method::POST, Method::PATCH, Method::PUT, Method::DELETE];
            if writes.contains(req.method()) && !p.scopes.contains(Scope::Write) {
                return Err(AttachmentError::Forbidden(Scope::Write).into());
            }
            Err(ApiError::not_found())
        }
        .await,
    )
}
