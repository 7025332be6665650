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

use actix_web::http::header;
use actix_web::web::{self, Data};
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use clasp_domain::ports::SignedUploadRequest;
use clasp_domain::{AttachmentError, ErrorKind, ValidationError};
use futures::StreamExt;
use serde::Deserialize;
use utoipa::{IntoParams, IntoResponses, ToSchema};
use uuid::Uuid;

use crate::dialects::Dialect;
use crate::form::{FieldLimits, Fields, Form};
use crate::own::{ErrorJson, Own};
use crate::problem::{Problem, ProblemKind};
use crate::routes::{Group, handlers};
use crate::signed::{not_signed, path_ids};
use crate::wire::Reply;
use crate::{Services, body};

/// `PUT /signed-upload/{tenant}/{attachment}?expires=…&size=…&signature=…`,
/// and `POST` to the same URL: seed 000 says "Upload the file with a PUT or
/// POST to the given URL".
pub(crate) fn routes() -> Group {
    Group::new(Dialect::Signed, handlers![receive, receive_post])
}

/// Form fields besides `file` a form POST may carry (read and discarded):
/// an object store's policy fields, as a client sends them to either store.
const FORM_FIELDS: FieldLimits = FieldLimits {
    max_fields: 16,
    max_bytes: 8 * 1024,
};

#[derive(Deserialize)]
struct SignedQuery {
    expires: Option<i64>,
    size: Option<u64>,
    signature: Option<String>,
}

/// The URL's parts, as upload-url made them.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(dead_code, reason = "only describes the URL in the OpenAPI document")]
struct UploadUrlPath {
    /// The tenant's id.
    tenant: Uuid,
    /// The pending attachment's id.
    attachment: Uuid,
}

/// The URL's query, as upload-url made it.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "only describes the URL in the OpenAPI document")]
struct UploadUrlQuery {
    /// Unix time the URL stops working.
    expires: i64,
    /// The declared size: the bytes the body must have.
    size: u64,
    /// The URL's HMAC signature.
    signature: String,
}

/// What an upload URL answers, to a `PUT` or a `POST` alike.
#[derive(IntoResponses)]
#[expect(dead_code, reason = "only describes answers in the OpenAPI document")]
enum UploadAnswers {
    /// Stored; `ETag` names the stored object.
    #[response(status = 200, headers(("ETag" = String, description = "The stored object's entity tag")))]
    Stored,
    /// Bytes not of the declared type, a `Content-Length` smaller than the
    /// declared size, or an interrupted body.
    #[response(status = 400)]
    Refused(ErrorJson<'static>),
    /// Not a valid, unexpired signed upload URL (`invalid_signature`).
    #[response(status = 403)]
    NotSigned(ErrorJson<'static>),
    /// The attachment is gone (`not_found`).
    #[response(status = 404)]
    Gone(ErrorJson<'static>),
    /// The upload was already received (`upload_closed`).
    #[response(status = 409)]
    Closed(ErrorJson<'static>),
    /// More bytes than the URL's size (`payload_too_large`).
    #[response(status = 413)]
    TooLarge(ErrorJson<'static>),
}

#[utoipa::path(put, path = "/signed-upload/{tenant}/{attachment}", params(UploadUrlPath, UploadUrlQuery), request_body(content = crate::download::Body, content_type = "application/octet-stream", description = "The file's bytes"), responses(UploadAnswers))]
/// The bytes of a direct upload (step 2 of the `workspaces` flow), through the
/// URL upload-url answered; `POST` to the same URL does the same, as seed 000
/// allows either.
async fn receive(req: HttpRequest, services: Data<Services>, payload: web::Payload) -> Reply<Own> {
    take_in(req, services, payload).await
}

#[utoipa::path(post, path = "/signed-upload/{tenant}/{attachment}", params(UploadUrlPath, UploadUrlQuery), request_body(content = UploadPost, content_type = "multipart/form-data", description = "A form whose field `file` holds the file (the upload's `post` form); the raw bytes as the body, as to `PUT`, work too"), responses(UploadAnswers))]
/// The same as `PUT`: seed 000 says "Upload the file with a PUT or POST to
/// the given URL". The bytes come as the raw body, or as the field `file` of
/// a `multipart/form-data` form (as to an object store's POST).
async fn receive_post(
    req: HttpRequest,
    services: Data<Services>,
    payload: web::Payload,
) -> Reply<Own> {
    if !is_form(&req) {
        return take_in(req, services, payload).await;
    }
    let request = signed_request(&req)?;
    services.attachments.check_upload_url(&request)?;
    let mut form = Form::from_request(&req, &mut payload.into_inner())
        .await
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    body::bound_form(&req, &form, request.size, 1, FORM_FIELDS)?;
    let mut others = Fields::new(FORM_FIELDS);
    while let Some(field) = form.next().await {
        let field = field?;
        if field.name() != "file" {
            others.skip(field).await?;
            continue;
        }
        let attachments = &services.attachments;
        let done =
            body::bridge(field, |stream| attachments.receive_upload(&request, stream)).await?;
        return Ok(stored(done.etag));
    }
    let missing = Problem::new(
        ProblemKind::MissingField,
        "the multipart field \"file\" is required",
    );
    Err(missing.at("file").into())
}

/// A form POST's body, as the OpenAPI document shows it.
#[derive(ToSchema)]
#[expect(dead_code, reason = "only describes the form in the OpenAPI document")]
struct UploadPost {
    /// The file (last: fields after it are not read).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Whether the body is a `multipart/form-data` form.
fn is_form(req: &HttpRequest) -> bool {
    crate::form::body_type(req)
        .is_some_and(|m| m.type_() == mime::MULTIPART && m.subtype() == mime::FORM_DATA)
}

/// The signed upload request the URL carries, or `invalid_signature`.
fn signed_request(req: &HttpRequest) -> Result<SignedUploadRequest, Problem> {
    let query = web::Query::<SignedQuery>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .ok();
    match (
        path_ids(req),
        query.as_ref().and_then(|q| q.expires),
        query.as_ref().and_then(|q| q.size),
        query.and_then(|q| q.signature),
    ) {
        (Some((tenant_id, attachment_id)), Some(expires), Some(size), Some(signature)) => {
            Ok(SignedUploadRequest {
                tenant_id,
                attachment_id,
                expires,
                size,
                signature,
            })
        }
        _ => Err(not_signed("signed upload URL")),
    }
}

/// Checks the URL, then its length, then streams the body into the domain.
async fn take_in(req: HttpRequest, services: Data<Services>, payload: web::Payload) -> Reply<Own> {
    let request = signed_request(&req)?;
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
    Ok(stored(done.etag))
}

/// `200`, with the stored object's `ETag` when it has one, as an object store answers.
fn stored(etag: Option<String>) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    if let Some(etag) = etag {
        res.insert_header((header::ETAG, quoted(&etag)));
    }
    res.finish()
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
