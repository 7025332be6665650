//! Serves Clasp's own signed upload URLs: `PUT` the bytes of one direct upload,
//! no credentials but a valid, unexpired signature. What an object store's
//! presigned PUT URL is, for deployments whose bytes Clasp keeps itself.
//!
//! The body streams into the domain (never buffered); more bytes than the URL's
//! declared size are refused at once when `Content-Length` says so, and
//! otherwise as soon as they arrive, leaving nothing stored. Success is `200`
//! with the stored object's `ETag`, as an object store answers. Errors are
//! `{"error": "<code>", "message": "<text>"}`, as on `/signed/…` downloads.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use clasp_domain::ports::{SIGNED_UPLOAD_PATH_PREFIX, SignedUploadRequest};
use clasp_domain::{AttachmentError, AttachmentId, TenantId, ValidationError};
use serde::Deserialize;
use utoipa::OpenApi;
use uuid::Uuid;

use crate::signed::{ErrorJson, error};
use crate::{Services, body};

/// Registers `PUT /signed-upload/{tenant}/{attachment}?expires=…&size=…&signature=…`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        &format!("{SIGNED_UPLOAD_PATH_PREFIX}/{{tenant}}/{{attachment}}"),
        web::put().to(receive),
    );
}

/// The signed upload URLs' part of the OpenAPI document (tag `clasp`).
#[derive(OpenApi)]
#[openapi(paths(receive))]
pub(crate) struct Api;

#[derive(Deserialize)]
struct SignedQuery {
    expires: Option<i64>,
    size: Option<u64>,
    signature: Option<String>,
}

#[utoipa::path(
    put,
    path = "/signed-upload/{tenant}/{attachment}",
    tag = "clasp",
    params(
        ("tenant" = Uuid, Path, description = "The tenant's id"),
        ("attachment" = Uuid, Path, description = "The pending attachment's id"),
        ("expires" = i64, Query, description = "Unix time the URL stops working"),
        ("size" = u64, Query, description = "The declared size: the most bytes accepted"),
        ("signature" = String, Query, description = "The URL's HMAC signature"),
    ),
    request_body(content = crate::download::Body, content_type = "application/octet-stream", description = "The file's bytes"),
    responses(
        (status = 200, description = "Stored; `ETag` names the stored object", headers(("ETag" = String, description = "The stored object's entity tag"))),
        (status = 400, description = "Bytes not of the declared type, or an interrupted body", body = ErrorJson),
        (status = 403, description = "Not a valid, unexpired signed upload URL (`invalid_signature`)", body = ErrorJson),
        (status = 404, description = "The attachment is gone (`not_found`)", body = ErrorJson),
        (status = 409, description = "The upload was already received (`upload_closed`)", body = ErrorJson),
        (status = 413, description = "More bytes than the URL's size (`payload_too_large`)", body = ErrorJson),
    ),
    security(())
)]
/// The bytes of a direct upload (step 2 of the `workspaces` flow), through the
/// URL upload-url answered.
async fn receive(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> HttpResponse {
    let (tenant, attachment) = path.into_inner();
    let query = web::Query::<SignedQuery>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or(SignedQuery {
            expires: None,
            size: None,
            signature: None,
        });
    let request = match (
        Uuid::parse_str(&tenant),
        Uuid::parse_str(&attachment),
        query.expires,
        query.size,
        query.signature,
    ) {
        (Ok(t), Ok(a), Some(expires), Some(size), Some(signature)) => SignedUploadRequest {
            tenant_id: TenantId(t),
            attachment_id: AttachmentId(a),
            expires,
            size,
            signature,
        },
        _ => {
            return error(
                StatusCode::FORBIDDEN,
                "invalid_signature",
                "the URL is not a valid signed upload URL",
            );
        }
    };
    if declared_length(&req).is_some_and(|length| length > request.size) {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            &format!("this URL accepts at most {} bytes", request.size),
        );
    }
    let attachments = &services.attachments;
    let received = body::bridge(payload, |stream| {
        attachments.receive_upload(&request, stream)
    })
    .await;
    match received {
        Ok(done) => {
            let mut res = HttpResponse::Ok();
            if let Some(etag) = done.etag {
                res.insert_header((header::ETAG, quoted(&etag)));
            }
            res.finish()
        }
        Err(e) => refusal(&e),
    }
}

/// The request's `Content-Length`, when it states one.
fn declared_length(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// An entity tag as HTTP writes it: in double quotes.
fn quoted(etag: &str) -> String {
    let bare = etag.trim().trim_matches('"');
    format!("\"{bare}\"")
}

fn refusal(e: &AttachmentError) -> HttpResponse {
    use StatusCode as S;
    let message = e.to_string();
    match e {
        AttachmentError::Signature(_) | AttachmentError::UploadExpired => {
            error(S::FORBIDDEN, "invalid_signature", &message)
        }
        AttachmentError::NotFound => error(S::NOT_FOUND, "not_found", "attachment not found"),
        AttachmentError::NotPending(_) => error(S::CONFLICT, "upload_closed", &message),
        AttachmentError::Invalid(ValidationError::TooLarge { .. }) => {
            error(S::PAYLOAD_TOO_LARGE, "payload_too_large", &message)
        }
        AttachmentError::Invalid(ValidationError::MagicMismatch { .. }) => {
            error(S::BAD_REQUEST, "content_type_mismatch", &message)
        }
        AttachmentError::Invalid(_) => error(S::BAD_REQUEST, "invalid_request", &message),
        AttachmentError::Interrupted(_) => error(S::BAD_REQUEST, "upload_interrupted", &message),
        other => {
            tracing::error!(error = %other, "signed upload failed");
            error(
                S::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the upload failed",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn entity_tags_are_quoted_once() {
        assert_eq!(quoted("abc"), "\"abc\"");
        assert_eq!(quoted("\"abc\""), "\"abc\"");
    }
}
