//! Serves Clasp's own signed URLs: no credentials, just a valid, unexpired signature.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use clasp_domain::AttachmentError;
use clasp_domain::ports::{SIGNED_PATH_PREFIX, SignedRequest};
use clasp_domain::{AttachmentId, TenantId};
use serde::Deserialize;
use uuid::Uuid;

use crate::{Services, download};

/// Registers `GET /signed/{tenant}/{attachment}?expires=…&signature=…`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        &format!("{SIGNED_PATH_PREFIX}/{{tenant}}/{{attachment}}"),
        web::get().to(serve),
    );
}

#[derive(Deserialize)]
struct SignedQuery {
    expires: Option<i64>,
    signature: Option<String>,
}

async fn serve(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<(String, String)>,
    query: web::Query<SignedQuery>,
) -> HttpResponse {
    let (tenant, attachment) = path.into_inner();
    let query = query.into_inner();
    let request = match (
        Uuid::parse_str(&tenant),
        Uuid::parse_str(&attachment),
        query.expires,
        query.signature,
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

fn error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({ "error": code, "message": message }))
}
