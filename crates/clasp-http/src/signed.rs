//! Serves Clasp's own signed URLs: no credentials, just a valid, unexpired signature.

use actix_web::HttpRequest;
use actix_web::web::Data;
use clasp_domain::ports::SignedRequest;
use clasp_domain::{AttachmentId, ErrorKind, TenantId};
use serde::Deserialize;
use uuid::Uuid;

use crate::dialects::Dialect;
use crate::own::{ErrorJson, Own};
use crate::problem::{Problem, ProblemKind};
use crate::routes::{Group, handlers};
use crate::wire::Reply;
use crate::{Services, download};

/// `GET /signed/{tenant}/{attachment}?expires=…&signature=…`.
pub(crate) fn routes() -> Group {
    Group::new(Dialect::Signed, handlers![serve])
}

#[derive(Deserialize)]
struct SignedQuery {
    expires: Option<i64>,
    signature: Option<String>,
}

/// The tenant and attachment ids of a signed URL's path, if both are UUIDs.
pub(crate) fn path_ids(req: &HttpRequest) -> Option<(TenantId, AttachmentId)> {
    let id = |name| {
        req.match_info()
            .get(name)
            .and_then(|s| Uuid::parse_str(s).ok())
    };
    Some((TenantId(id("tenant")?), AttachmentId(id("attachment")?)))
}

/// The refusal of a URL that is no signed URL at all.
pub(crate) fn not_signed(what: &str) -> Problem {
    Problem::new(
        ProblemKind::Domain(ErrorKind::InvalidSignature),
        format!("the URL is not a valid {what}"),
    )
}

#[utoipa::path(get, path = "/signed/{tenant}/{attachment}", params( ("tenant" = Uuid, Path, description = "The tenant's id"), ("attachment" = Uuid, Path, description = "The attachment's id"), ("expires" = i64, Query, description = "Unix time the URL stops working"), ("signature" = String, Query, description = "The URL's HMAC signature"), ), responses(
    crate::download::Responses,
    (status = 403, description = "Not a valid, unexpired signed URL (`invalid_signature`)", body = ErrorJson),
    (status = 404, description = "The attachment is gone (`not_found`)", body = ErrorJson),
))]
/// A download through a signed URL: no credentials, the signature is the proof.
async fn serve(req: HttpRequest, services: Data<Services>) -> Reply<Own> {
    // Parsed here, not by an extractor, so that a malformed query string gets
    // the JSON error of every other invalid URL.
    let query = actix_web::web::Query::<SignedQuery>::from_query(req.query_string())
        .map(actix_web::web::Query::into_inner)
        .ok();
    let request = match (
        path_ids(&req),
        query.as_ref().and_then(|q| q.expires),
        query.and_then(|q| q.signature),
    ) {
        (Some((tenant_id, attachment_id)), Some(expires), Some(signature)) => SignedRequest {
            tenant_id,
            attachment_id,
            expires,
            signature,
        },
        _ => return Err(not_signed("signed URL").into()),
    };
    let opened = services.attachments.open_signed(&request).await?;
    Ok(download::respond(&req, opened).await?)
}
