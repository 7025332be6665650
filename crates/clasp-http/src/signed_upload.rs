//! Serves Clasp's own signed upload URLs: `PUT` the bytes of one direct upload,
//! no credentials but a valid, unexpired signature. What an object store's
//! presigned PUT URL is, for deployments whose bytes Clasp keeps itself.
//!
//! The body streams into the domain (never buffered); a `Content-Length` other
//! than the size declared at upload-url is refused at once, naming both sizes
//! (413 when larger, 400 when smaller), and more bytes than declared are
//! refused as soon as they arrive, leaving nothing stored. Success is `200`
//! with the stored object's `ETag`, as an object store answers. Errors are
//! `{"error": "<code>", "message": "<text>"}`, as on `/signed/…` downloads.

use actix_web::http::{Method, header};
use actix_web::web::{self, Data};
use actix_web::{HttpRequest, HttpResponse};
use clasp_domain::ports::SignedUploadRequest;
use clasp_domain::{AttachmentError, ErrorKind, ValidationError};
use serde::Deserialize;

use crate::dialects::Dialect;
use crate::own::{ErrorJson, Own};
use crate::problem::{Problem, ProblemKind};
use crate::routes::{Group, Handler, handlers};
use crate::signed::{not_signed, path_ids};
use crate::wire::Reply;
use crate::{Services, body};

/// `PUT /signed-upload/{tenant}/{attachment}?expires=…&size=…&signature=…`,
/// and `POST` to the same URL: seed 000 says "Upload the file with a PUT or
/// POST to the given URL".
pub(crate) fn routes() -> Group {
    Group::new(Dialect::Signed, handlers![receive]).with([Handler::undocumented(
        Method::POST,
        "/signed-upload/{tenant}/{attachment}",
        "the same as its PUT, which documents both",
        || web::to(receive),
    )])
}

#[derive(Deserialize)]
struct SignedQuery {
    expires: Option<i64>,
    size: Option<u64>,
    signature: Option<String>,
}

#[utoipa::path(put, path = "/signed-upload/{tenant}/{attachment}", params( ("tenant" = Uuid, Path, description = "The tenant's id"), ("attachment" = Uuid, Path, description = "The pending attachment's id"), ("expires" = i64, Query, description = "Unix time the URL stops working"), ("size" = u64, Query, description = "The declared size: the most bytes accepted"), ("signature" = String, Query, description = "The URL's HMAC signature"), ), request_body(content = crate::download::Body, content_type = "application/octet-stream", description = "The file's bytes"), responses(
    (status = 200, description = "Stored; `ETag` names the stored object", headers(("ETag" = String, description = "The stored object's entity tag"))),
    (status = 400, description = "Bytes not of the declared type, a `Content-Length` smaller than the declared size, or an interrupted body", body = ErrorJson),
    (status = 403, description = "Not a valid, unexpired signed upload URL (`invalid_signature`)", body = ErrorJson),
    (status = 404, description = "The attachment is gone (`not_found`)", body = ErrorJson),
    (status = 409, description = "The upload was already received (`upload_closed`)", body = ErrorJson),
    (status = 413, description = "More bytes than the URL's size (`payload_too_large`)", body = ErrorJson),
))]
/// The bytes of a direct upload (step 2 of the `workspaces` flow), through the
/// URL upload-url answered; `POST` to the same URL does the same, as seed 000
/// allows either.
async fn receive(req: HttpRequest, services: Data<Services>, payload: web::Payload) -> Reply<Own> {
    let query = web::Query::<SignedQuery>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .ok();
    let request = match (
        path_ids(&req),
        query.as_ref().and_then(|q| q.expires),
        query.as_ref().and_then(|q| q.size),
        query.and_then(|q| q.signature),
    ) {
        (Some((tenant_id, attachment_id)), Some(expires), Some(size), Some(signature)) => {
            SignedUploadRequest {
                tenant_id,
                attachment_id,
                expires,
                size,
                signature,
            }
        }
        _ => return Err(not_signed("signed upload URL").into()),
    };
    services.attachments.check_upload_url(&request)?;
    if let Some(length) = body::content_length(&req).filter(|l| *l != request.size) {
        let mismatch = ValidationError::SizeMismatch {
            declared: request.size,
            actual: length,
        };
        if length > request.size {
            let too_large = ProblemKind::Domain(ErrorKind::TooLarge);
            return Err(Problem::new(too_large, mismatch.to_string()).into());
        }
        return Err(AttachmentError::Invalid(mismatch).into());
    }
    let attachments = &services.attachments;
    let done = body::bridge(payload, |stream| {
        attachments.receive_upload(&request, stream)
    })
    .await?;
    let mut res = HttpResponse::Ok();
    if let Some(etag) = done.etag {
        res.insert_header((header::ETAG, quoted(&etag)));
    }
    Ok(res.finish())
}

/// An entity tag as HTTP writes it: in double quotes.
fn quoted(etag: &str) -> String {
    let bare = etag.trim().trim_matches('"');
    format!("\"{bare}\"")
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
