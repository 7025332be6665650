//! The `chat` dialect (seed 003): `/api/v1/…` with the `clasp_session` cookie;
//! several files per message under field `files`, all kept or none; attachments
//! addressed by their integer `number`; download by number and file name;
//! metadata with the seed's state names, checksum and `hasThumbnail`.
//!
//! Errors are `{"errorText": "<text>", "httpStatusCode": <status>}`: 400 (bad
//! request or file), 401 (no, unknown, expired or revoked session), 404 (no such
//! attachment in the session's tenant, wrong file name, not downloadable),
//! 413 (file too large), 415 (type not allowed), 500.
//! `docs/dialects/chat.md` documents every choice.

use actix_web::http::StatusCode;
use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use clasp_domain::{AttachmentError, AttachmentState, ErrorKind};
use serde::Serialize;

use crate::dialects::Dialect;
use crate::extract::{ChatNumber, PathParam, Session};
use crate::problem::{Problem, ProblemKind};
use crate::routes::{Group, handlers};
use crate::wire::{Reply, Wire, WireDialect, standard};
use crate::{Services, download};

mod json;
mod upload;

pub(crate) use json::SharedError;
use json::{AttachmentJson, DeletedJson, ErrorJson, state_name};

/// The `chat` dialect: the standard statuses, but 413 and 415 for files too
/// large or of a type not allowed, texts of its own, and no codes.
pub struct Chat;

impl WireDialect for Chat {
    const DIALECT: Dialect = Dialect::Chat;
    type Caller = Session<Chat>;

    fn wire(problem: &Problem) -> Wire {
        use ErrorKind as E;
        use ProblemKind as P;
        let wire = standard(problem);
        match problem.kind {
            P::Unauthenticated => {
                wire.saying("Authentication required: a clasp_session cookie or an API token")
            }
            P::BadCredential => {
                let text = format!("session: {}", problem.message);
                wire.saying(text)
            }
            P::Domain(E::NotFound) => wire.saying("Attachment not found"),
            P::Domain(E::TooLarge) => Wire::new(StatusCode::PAYLOAD_TOO_LARGE, "file_too_large"),
            P::Domain(E::DisallowedType) => {
                Wire::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_file_type")
            }
            P::Domain(E::Infected { number }) => {
                let failed = state_name(AttachmentState::VerificationFailed);
                let text = format!("{}; attachment {number} is {failed}", problem.message);
                wire.saying(text)
            }
            _ => wire,
        }
    }

    /// A request without any credential may be meant for either dialect of
    /// `/api/v1`: its 401 carries the `redirect` dialect's fields too.
    fn body<'a>(_: &'a Problem, wire: &'a Wire, message: &'a str) -> impl Serialize + 'a {
        ErrorJson {
            error_text: message,
            http_status_code: wire.status.as_u16(),
        }
    }

    fn challenges(problem: &Problem, _: &Wire) -> bool {
        problem.kind == ProblemKind::Unauthenticated
    }
}

/// The seed's four endpoints. [`crate::dialects::redirect`] claims first the
/// requests of `/api/v1` that are its own: attachments named by UUID, and
/// Bearer requests without the session cookie.
pub(crate) fn routes() -> Group {
    Group::new(
        Dialect::Chat,
        handlers![upload in upload, metadata, delete, download_file],
    )
}

/// An attachment's number; anything else names no attachment.
type Number = PathParam<i64, ChatNumber, Chat>;

#[utoipa::path(get, path = "/api/v1/attachments/{attachmentId}", params(Number), responses(
    (status = 200, description = "The metadata", body = json::AttachmentJson),
    (status = 401, description = "No, unknown, expired or revoked session", body = json::ErrorJson),
    (status = 404, description = "No such attachment in the session's tenant", body = json::ErrorJson),
))]
/// An attachment's metadata, with the seed's state names.
async fn metadata(p: Session<Chat>, number: Number, services: Data<Services>) -> Reply<Chat> {
    let a = services.attachments.find_numbered(&p, number.0).await?;
    Ok(HttpResponse::Ok().json(AttachmentJson::from(&a)))
}

#[utoipa::path(delete, path = "/api/v1/attachments/{attachmentId}", tags = ["chat", "redirect"], params(("attachmentId" = String, Path, description = "The attachment's number (session cookie) or UUID (Bearer, the `redirect` dialect)")), security(("session" = []), ("bearer" = [])), responses(
    (status = 200, description = "Deleted (session cookie)", body = json::DeletedJson),
    (status = 204, description = "Deleted (Bearer)"),
    (status = 401, description = "No, unknown, expired or revoked credential", body = json::SharedError),
    (status = 403, description = "The key lacks `attachments:delete` (`insufficient_scope`)", body = json::SharedError),
    (status = 404, description = "No such attachment in the tenant", body = json::SharedError),
    (status = 429, description = "Too many requests for this credential; see `Retry-After`", body = json::SharedError),
))]
/// Deletes an attachment: by number with the session cookie, by UUID with a Bearer key (the `redirect` dialect).
pub(crate) async fn delete(
    p: Session<Chat>,
    number: Number,
    services: Data<Services>,
) -> Reply<Chat> {
    services.attachments.delete_numbered(&p, number.0).await?;
    Ok(HttpResponse::Ok().json(DeletedJson {
        http_status_code: 200,
    }))
}

#[utoipa::path(get, path = "/api/v1/attachments/{attachmentId}/{attachmentFileName}", params(Number, ("attachmentFileName" = String, Path, description = "The file's name, or `thumbnail`")), responses(
    crate::download::Responses,
    (status = 401, description = "No, unknown, expired or revoked session", body = json::ErrorJson),
    (status = 404, description = "No such attachment in the session's tenant", body = json::ErrorJson),
))]
/// `GET /api/v1/attachments/{number}/{file_name}`: the file, when the name is
/// its name. `thumbnail` is the thumbnail, unless the file is named so.
async fn download_file(
    p: Session<Chat>,
    number: Number,
    req: HttpRequest,
    services: Data<Services>,
) -> Reply<Chat> {
    let name = req
        .match_info()
        .get("attachmentFileName")
        .unwrap_or_default();
    // as the router left it, and percent-decoded once more (`%2B`, `%25`,
    // which the router keeps encoded)
    let decoded = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
    let names = [name, decoded.as_ref()];
    let opened = match services
        .attachments
        .open_numbered(&p, number.0, &names)
        .await
    {
        Err(AttachmentError::NotFound) if name == "thumbnail" => {
            services.attachments.open_thumbnail(&p, number.0).await
        }
        other => other,
    };
    Ok(download::respond(&req, opened?).await?)
}
