//! The `tickets` dialect (seed 001): `/v1/tickets/{ticket_id}/attachments…`,
//! Bearer API keys with scopes, multipart upload under field `file`, signed
//! download URLs valid for one hour, snake_case objects.
//!
//! Errors are `{"error": "<code>", "message": "<text>"}` with 400 (bad upload),
//! 401 (no or bad key), 403 (missing scope), 404 (no such attachment on this
//! ticket in this tenant — also for ids that are not UUIDs), 500.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::Data;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use clasp_domain::services::{Lookup, NewUpload};
use clasp_domain::{
    Attachment, AttachmentError, AttachmentId, Scope, Subject, SubjectRef, ValidationError,
};
use futures::StreamExt;
use futures::future::LocalBoxFuture;
use serde::Serialize;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::dialects::Dialect;
use crate::extract::{Bearer, Id, PathParam, TicketId};
use crate::form::{FieldLimits, Fields, Form};
use crate::json::seconds;
use crate::openapi::Refusals;
use crate::problem::{Problem, ProblemKind};
use crate::routes::{Group, handlers};
use crate::wire::{ApiError, Reply, Wire, WireDialect};
use crate::{Services, body};

/// How long a download URL stays valid, as the seed documents.
const DOWNLOAD_URL_TTL: time::Duration = time::Duration::hours(1);

/// Form fields other than `file` an upload may carry (read and discarded).
const OTHER_FIELDS: FieldLimits = FieldLimits {
    max_fields: 16,
    max_bytes: 64 * 1024,
};

/// The `tickets` dialect: the standard table of [`crate::wire::standard`].
pub struct Tickets;

impl WireDialect for Tickets {
    const DIALECT: Dialect = Dialect::Tickets;
    type Caller = Bearer<Tickets>;

    fn body<'a>(_: &'a Problem, wire: &'a Wire, message: &'a str) -> impl Serialize + 'a {
        ErrorJson {
            error: &wire.code,
            message,
        }
    }
}

/// The dialect's five endpoints.
pub(crate) fn routes() -> Group {
    Group::new(
        Dialect::Tickets,
        handlers![list, upload, get, delete, download_url],
    )
}

type Ticket = PathParam<Uuid, TicketId, Tickets>;
type Attached = PathParam<AttachmentId, Id, Tickets>;

/// The attachment `{id}` on the ticket `{ticket_id}`, as every lookup of this
/// dialect names it.
struct OnTicket(Lookup);

impl FromRequest for OnTicket {
    type Error = ApiError<Tickets>;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let ticket = Ticket::extract(&req).await?;
            let id = Attached::extract(&req).await?;
            let on = SubjectRef::Ticket(ticket.to_string());
            Ok(OnTicket(Lookup::within(id.0, on)))
        })
    }
}

impl IntoParams for OnTicket {
    fn into_params(place: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params = Ticket::into_params(&place);
        params.extend(Attached::into_params(place));
        params
    }
}

/// The seed's attachment object.
#[derive(Serialize, ToSchema)]
#[schema(as = tickets::Attachment)]
struct AttachmentJson {
    id: Uuid,
    #[schema(format = Uuid)]
    ticket_id: String,
    filename: String,
    content_type: String,
    size_bytes: u64,
    uploaded_by_user_id: String,
    #[schema(format = DateTime)]
    created_at: String,
}

impl From<&Attachment> for AttachmentJson {
    fn from(a: &Attachment) -> Self {
        Self {
            id: a.id.0,
            ticket_id: a.subject.ticket_id.clone().unwrap_or_default(),
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            size_bytes: a.size_bytes,
            uploaded_by_user_id: a.uploaded_by.clone(),
            created_at: seconds(a.created_at),
        }
    }
}

/// A signed download URL and when it stops working.
#[derive(Serialize, ToSchema)]
#[schema(as = tickets::DownloadUrl)]
struct DownloadJson {
    signed_url: String,
    #[schema(format = DateTime)]
    expires_at: String,
}

/// The error body: `error` is a stable code, `message` a text for people.
#[derive(Serialize, ToSchema)]
#[schema(as = tickets::Error)]
struct ErrorJson<'a> {
    error: &'a str,
    message: &'a str,
}

/// The multipart form of an upload (described for the OpenAPI document; the
/// handler streams the parts instead of deserialising them).
#[derive(ToSchema)]
#[schema(as = tickets::UploadForm)]
#[expect(
    dead_code,
    reason = "only describes the request body in the OpenAPI document"
)]
struct UploadForm {
    /// The file; its part's filename and content type are the attachment's.
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    file: String,
}

#[utoipa::path(get, path = "/v1/tickets/{ticket_id}/attachments", params(Ticket), responses(
    (status = 200, description = "The ticket's attachments", body = [AttachmentJson]),
    Refusals<ErrorJson>,
))]
/// Lists the attachments of a ticket (scope `attachments:read`).
async fn list(p: Bearer<Tickets>, ticket: Ticket, services: Data<Services>) -> Reply<Tickets> {
    let found = services
        .attachments
        .list(&p, &SubjectRef::Ticket(ticket.to_string()))
        .await?;
    Ok(HttpResponse::Ok().json(found.iter().map(AttachmentJson::from).collect::<Vec<_>>()))
}

#[utoipa::path(get, path = "/v1/tickets/{ticket_id}/attachments/{id}", params(OnTicket), responses(
    (status = 200, description = "The attachment's metadata", body = AttachmentJson),
    Refusals<ErrorJson>,
))]
/// One attachment's metadata (scope `attachments:read`).
async fn get(p: Bearer<Tickets>, at: OnTicket, services: Data<Services>) -> Reply<Tickets> {
    let a = services.attachments.get(&p, &at.0).await?;
    Ok(HttpResponse::Ok().json(AttachmentJson::from(&a)))
}

#[utoipa::path(get, path = "/v1/tickets/{ticket_id}/attachments/{id}/download", params(OnTicket), responses(
    (status = 200, description = "A signed URL valid for one hour", body = DownloadJson),
    Refusals<ErrorJson>,
))]
/// A signed download URL valid for one hour (scope `attachments:read`).
async fn download_url(p: Bearer<Tickets>, at: OnTicket, s: Data<Services>) -> Reply<Tickets> {
    let (_, url) = s
        .attachments
        .download_url(&p, &at.0, DOWNLOAD_URL_TTL)
        .await?;
    // The URL is a bearer credential for the file: never cache it.
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(DownloadJson {
            signed_url: url.url,
            expires_at: seconds(url.expires_at),
        }))
}

#[utoipa::path(delete, path = "/v1/tickets/{ticket_id}/attachments/{id}", params(OnTicket), responses(
    (status = 204, description = "Deleted"),
    Refusals<ErrorJson>,
))]
/// Deletes an attachment and its bytes (scope `attachments:delete`).
async fn delete(p: Bearer<Tickets>, at: OnTicket, services: Data<Services>) -> Reply<Tickets> {
    services.attachments.delete(&p, &at.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The header an API key names the user it uploads for with.
const ON_BEHALF_OF: &str = "x-on-behalf-of";

/// The user `X-On-Behalf-Of` names, if the request carries it (its text, as
/// the domain checks it).
fn on_behalf_of(req: &HttpRequest) -> Result<Option<String>, ApiError<Tickets>> {
    req.headers()
        .get(ON_BEHALF_OF)
        .map(|value| {
            value
                .to_str()
                .map(str::to_owned)
                .map_err(|_| AttachmentError::from(ValidationError::InvalidUploader).into())
        })
        .transpose()
}

#[utoipa::path(post, path = "/v1/tickets/{ticket_id}/attachments", params(Ticket, ("X-On-Behalf-Of" = Option<String>, Header, description = "The user the key uploads for, shown as `uploaded_by_user_id` (1 to 255 bytes); without it, the key's id")), request_body(content = UploadForm, content_type = "multipart/form-data"), responses(
    (status = 201, description = "Stored", body = AttachmentJson),
    (status = 400, description = "Bad form, too large (`file_too_large`), type not allowed (`invalid_file_type`) or bytes not of the declared type", body = ErrorJson),
    (status = 422, description = "The virus scanner found malware (`infected_file`); nothing is served", body = ErrorJson),
    (status = 503, description = "Too many uploads at once (see `Retry-After`), or the virus scanner gave no verdict", body = ErrorJson),
    Refusals<ErrorJson>,
))]
/// Uploads one file, the multipart field `file` (scope `attachments:write`).
async fn upload(
    p: Bearer<Tickets>,
    ticket: Ticket,
    req: HttpRequest,
    services: Data<Services>,
    mut form: Form,
) -> Reply<Tickets> {
    services.attachments.authorize(&p, Scope::Write)?;
    let attachments = services.attachments.for_tenant(p.tenant_id).await?;
    let max = attachments.policy().max_bytes;
    body::bound_form(&req, &form, max, 1, OTHER_FIELDS)?;
    let mut others = Fields::new(OTHER_FIELDS);
    while let Some(field) = form.next().await {
        let field = field?;
        if field.name() != "file" {
            others.skip(field).await?;
            continue;
        }
        let upload = NewUpload {
            subject: Subject::ticket(ticket.to_string()),
            filename: field.filename(),
            content_type: field.media_type(),
            size_hint: body::content_length(&req),
            on_behalf_of: on_behalf_of(&req)?,
            ..NewUpload::default()
        };
        let created = body::bridge(field, |stream| attachments.upload(&p, upload, stream)).await?;
        return Ok(HttpResponse::Created().json(AttachmentJson::from(&created)));
    }
    Err(Problem::new(
        ProblemKind::MissingField,
        "the multipart field \"file\" is required",
    )
    .at("file")
    .into())
}
