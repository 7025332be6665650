//! Serves Clasp's own signed URLs: no credentials, just a valid, unexpired signature.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use clasp_domain::AttachmentError;
use clasp_domain::ports::{SIGNED_PATH_PREFIX, SignedRequest};
use clasp_domain::{AttachmentId, TenantId};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::{Services, download};

/// Registers `GET /signed/{tenant}/{attachment}?expires=…&signature=…`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        &format!("{SIGNED_PATH_PREFIX}/{{tenant}}/{{attachment}}"),
        web::get().to(serve),
    );
}

/// The signed URLs' part of the OpenAPI document (tag `clasp`).
#[derive(OpenApi)]
#[openapi(paths(serve))]
pub(crate) struct Api;

/// The error body of signed URLs (downloads and uploads): a stable `error`
/// code and a `message` for people.
#[derive(Serialize, ToSchema)]
#[schema(as = clasp::Error)]
pub(crate) struct ErrorJson<'a> {
    error: &'a str,
    message: &'a str,
}

#[derive(Deserialize)]
struct SignedQuery {
    expires: Option<i64>,
    signature: Option<String>,
}

#[utoipa::path(
    get,
    path = "/signed/{tenant}/{attachment}",
    tag = "clasp",
    params(
        ("tenant" = Uuid, Path, description = "The tenant's id"),
        ("attachment" = Uuid, Path, description = "The attachment's id"),
        ("expires" = i64, Query, description = "Unix time the URL stops working"),
        ("signature" = String, Query, description = "The URL's HMAC signature"),
    ),
    responses(
        crate::download::Responses,
        (status = 403, description = "Not a valid, unexpired signed URL (`invalid_signature`)", body = ErrorJson),
        (status = 404, description = "The attachment is gone (`not_found`)", body = ErrorJson),
    ),
    security(())
)]
/// A download through a signed URL: no credentials, the signature is the proof.
async fn serve(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (tenant, attachment) = path.into_inner();
    // Parsed here, not by an extractor, so that a malformed query string gets
    // the JSON error of every other invalid URL.
    let query = web::Query::<SignedQuery>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .ok();
    let request = match (
        Uuid::parse_str(&tenant),
        Uuid::parse_str(&attachment),
        query.as_ref().and_then(|q| q.expires),
        query.and_then(|q| q.signature),
    ) {
        (Ok(t), Ok(a), Some(expires), Some(signature)) => SignedRequest {
            tenant_id: TenantId(t),
            attachment_id: AttachmentId(a),
            expires,
            signature,
        },
        _ => {
            return error(
                StatusCode::FORBIDDEN,
                "invalid_signature",
                "the URL is not a valid signed URL",
            );
        }
    };
    let opened = match services.attachments.open_signed(&request).await {
        Ok(d) => download::respond(&req, d).await,
        Err(e) => Err(e),
    };
    match opened {
        Ok(res) => res,
        Err(AttachmentError::Signature(e)) => {
            error(StatusCode::FORBIDDEN, "invalid_signature", &e.to_string())
        }
        Err(AttachmentError::NotFound) => {
            error(StatusCode::NOT_FOUND, "not_found", "attachment not found")
        }
        Err(e) => {
            tracing::error!(error = %e, "signed download failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the download failed",
            )
        }
    }
}

/// A refusal of a signed URL, in their error body.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(ErrorJson {
        error: code,
        message,
    })
}
