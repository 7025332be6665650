//! The `tickets` dialect (seed 001): `/v1/tickets/{ticket_id}/attachments…`,
//! Bearer API keys with scopes, multipart upload under field `file`, signed
//! download URLs valid for one hour, snake_case objects.
//!
//! Errors are `{"error": "<code>", "message": "<text>"}` with 400 (bad upload),
//! 401 (no or bad key), 403 (missing scope), 404 (no such attachment on this
//! ticket in this tenant — also for ids that are not UUIDs), 500.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use clasp_domain::services::{Lookup, NewUpload};
use clasp_domain::{
    Attachment, AttachmentError, AttachmentId, AuthError, Principal, Subject, SubjectRef,
    ValidationError,
};
use futures::StreamExt;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::form::Form;
use crate::limits::Refusal;
use crate::{Services, bearer, body};

/// How long a download URL stays valid, as the seed documents.
const DOWNLOAD_URL_TTL: time::Duration = time::Duration::hours(1);

/// Registers the dialect's five endpoints.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1/tickets/{ticket_id}/attachments")
            .route("", web::get().to(list))
            .route("", web::post().to(upload))
            .route("/{id}", web::get().to(get))
            .route("/{id}", web::delete().to(delete))
            .route("/{id}/download", web::get().to(download_url)),
    );
}

/// This dialect's part of the OpenAPI document, built from the handlers below.
#[derive(OpenApi)]
#[openapi(paths(list, upload, get, delete, download_url))]
pub(crate) struct Api;

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
            created_at: rfc3339(a.created_at),
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

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
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
        Self::new(StatusCode::NOT_FOUND, "not_found", "attachment not found")
    }

    fn response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        res.json(ErrorJson {
            error: self.code,
            message: &self.message,
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
            other => Self::new(StatusCode::UNAUTHORIZED, "unauthorized", other.to_string()),
        }
    }
}

impl From<AttachmentError> for ApiError {
    fn from(e: AttachmentError) -> Self {
        use StatusCode as S;
        let bad = |code, e: &dyn std::fmt::Display| Self::new(S::BAD_REQUEST, code, e.to_string());
        match &e {
            AttachmentError::Forbidden(_) => {
                Self::new(S::FORBIDDEN, "insufficient_scope", e.to_string())
            }
            AttachmentError::NotFound => Self::not_found(),
            AttachmentError::Invalid(v) => match v {
                ValidationError::TooLarge { .. } => bad("file_too_large", v),
                ValidationError::DisallowedType(_) => bad("invalid_file_type", v),
                ValidationError::MagicMismatch { .. } => bad("content_type_mismatch", v),
                ValidationError::MalformedChecksum
                | ValidationError::SizeMismatch { .. }
                | ValidationError::EmptyFile => bad("invalid_request", v),
            },
            AttachmentError::Interrupted(_) => bad("upload_interrupted", &e),
            AttachmentError::ChecksumMismatch { .. } => bad("checksum_mismatch", &e),
            AttachmentError::State(_) => Self::new(S::CONFLICT, "conflict", e.to_string()),
            // The direct-upload and message flows are the workspaces dialect's;
            // no endpoint of this one reaches them.
            AttachmentError::NotUploaded
            | AttachmentError::UploadExpired
            | AttachmentError::NotPending(_) => Self::new(S::CONFLICT, "conflict", e.to_string()),
            AttachmentError::VerificationFailed(_) => bad("content_type_mismatch", &e),
            AttachmentError::ETagMismatch { .. } => bad("checksum_mismatch", &e),
            AttachmentError::NotLinkable { .. } | AttachmentError::InvalidMessage(_) => {
                bad("invalid_request", &e)
            }
            AttachmentError::QuotaExceeded(_) => {
                Self::new(S::FORBIDDEN, "quota_exceeded", e.to_string())
            }
            AttachmentError::Infected { .. } => {
                Self::new(S::UNPROCESSABLE_ENTITY, "infected_file", e.to_string())
            }
            AttachmentError::ScanFailed(_) => {
                tracing::error!(error = %e, "tickets upload not scanned");
                Self::new(
                    S::SERVICE_UNAVAILABLE,
                    "scanner_unavailable",
                    "the file could not be scanned for viruses; try again later",
                )
            }
            AttachmentError::Signature(_)
            | AttachmentError::Storage(_)
            | AttachmentError::Repository(_) => {
                tracing::error!(error = %e, "tickets request failed");
                Self::new(
                    S::INTERNAL_SERVER_ERROR,
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

/// The ticket id of the path, if it is a UUID as the seed requires.
fn ticket_id(req: &HttpRequest) -> Result<String, ApiError> {
    let raw = req.match_info().get("ticket_id").unwrap_or_default();
    Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| ApiError::not_found())
}

fn lookup(req: &HttpRequest) -> Result<Lookup, ApiError> {
    let ticket = ticket_id(req)?;
    let id = req
        .match_info()
        .get("id")
        .and_then(|s| s.parse::<AttachmentId>().ok())
        .ok_or_else(ApiError::not_found)?;
    Ok(Lookup::within(id, SubjectRef::Ticket(ticket)))
}

#[utoipa::path(
    get,
    path = "/v1/tickets/{ticket_id}/attachments",
    tag = "tickets",
    params(("ticket_id" = Uuid, Path, description = "The ticket")),
    responses(
        (status = 200, description = "The ticket's attachments", body = [AttachmentJson]),
        crate::openapi::BearerRefusals<ErrorJson>,
        crate::openapi::NotFound<ErrorJson>,
    ),
    security(("bearer" = []))
)]
/// Lists the attachments of a ticket (scope `attachments:read`).
async fn list(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    finish(
        async {
            let p = principal(&req, &services).await?;
            let ticket = ticket_id(&req)?;
            let found = services
                .attachments
                .list(&p, &SubjectRef::Ticket(ticket))
                .await?;
            Ok(HttpResponse::Ok().json(found.iter().map(AttachmentJson::from).collect::<Vec<_>>()))
        }
        .await,
    )
}

#[utoipa::path(
    get,
    path = "/v1/tickets/{ticket_id}/attachments/{id}",
    tag = "tickets",
    params(("ticket_id" = Uuid, Path, description = "The ticket"), ("id" = Uuid, Path, description = "The attachment")),
    responses(
        (status = 200, description = "The attachment's metadata", body = AttachmentJson),
        crate::openapi::BearerRefusals<ErrorJson>,
        crate::openapi::NotFound<ErrorJson>,
    ),
    security(("bearer" = []))
)]
/// One attachment's metadata (scope `attachments:read`).
async fn get(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    finish(
        async {
            let p = principal(&req, &services).await?;
            let a = services.attachments.get(&p, &lookup(&req)?).await?;
            Ok(HttpResponse::Ok().json(AttachmentJson::from(&a)))
        }
        .await,
    )
}

#[utoipa::path(
    get,
    path = "/v1/tickets/{ticket_id}/attachments/{id}/download",
    tag = "tickets",
    params(("ticket_id" = Uuid, Path, description = "The ticket"), ("id" = Uuid, Path, description = "The attachment")),
    responses(
        (status = 200, description = "A signed URL valid for one hour", body = DownloadJson),
        crate::openapi::BearerRefusals<ErrorJson>,
        crate::openapi::NotFound<ErrorJson>,
    ),
    security(("bearer" = []))
)]
/// A signed download URL valid for one hour (scope `attachments:read`).
async fn download_url(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    finish(
        async {
            let p = principal(&req, &services).await?;
            let (_, url) = services
                .attachments
                .download_url(&p, &lookup(&req)?, DOWNLOAD_URL_TTL)
                .await?;
            Ok(HttpResponse::Ok().json(DownloadJson {
                signed_url: url.url,
                expires_at: rfc3339(url.expires_at),
            }))
        }
        .await,
    )
}

#[utoipa::path(
    delete,
    path = "/v1/tickets/{ticket_id}/attachments/{id}",
    tag = "tickets",
    params(("ticket_id" = Uuid, Path, description = "The ticket"), ("id" = Uuid, Path, description = "The attachment")),
    responses(
        (status = 204, description = "Deleted"),
        crate::openapi::BearerRefusals<ErrorJson>,
        crate::openapi::NotFound<ErrorJson>,
    ),
    security(("bearer" = []))
)]
/// Deletes an attachment and its bytes (scope `attachments:delete`).
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

#[utoipa::path(
    post,
    path = "/v1/tickets/{ticket_id}/attachments",
    tag = "tickets",
    params(("ticket_id" = Uuid, Path, description = "The ticket")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored", body = AttachmentJson),
        (status = 400, description = "Bad form, too large (`file_too_large`), type not allowed (`invalid_file_type`) or bytes not of the declared type", body = ErrorJson),
        (status = 422, description = "The virus scanner found malware (`infected_file`); nothing is served", body = ErrorJson),
        (status = 503, description = "Too many uploads at once (see `Retry-After`), or the virus scanner gave no verdict", body = ErrorJson),
        crate::openapi::BearerRefusals<ErrorJson>,
        crate::openapi::NotFound<ErrorJson>,
    ),
    security(("bearer" = []))
)]
/// Uploads one file, the multipart field `file` (scope `attachments:write`).
async fn upload(req: HttpRequest, services: web::Data<Services>, mut form: Form) -> HttpResponse {
    finish(
        async {
            let p = principal(&req, &services).await?;
            let ticket = ticket_id(&req)?;
            crate::body::refuse_oversized(&req, services.attachments.policy().max_bytes)
                .map_err(|e| ApiError::from(AttachmentError::Invalid(e)))?;
            let mut others = 0;
            while let Some(field) = form.next().await {
                let field = field.map_err(|e| {
                    ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.to_string())
                })?;
                if field.name() != Some("file") {
                    others += 1;
                    if others > MAX_OTHER_FIELDS {
                        return Err(ApiError::new(
                            StatusCode::BAD_REQUEST,
                            "invalid_request",
                            format!("at most {MAX_OTHER_FIELDS} form fields besides \"file\""),
                        ));
                    }
                    drain(field).await?;
                    continue;
                }
                let upload = NewUpload {
                    subject: Subject {
                        ticket_id: Some(ticket.clone()),
                        ..Subject::default()
                    },
                    filename: field
                        .content_disposition()
                        .and_then(|d| d.get_filename())
                        .unwrap_or_default()
                        .to_owned(),
                    content_type: field.content_type().map(|m| m.to_string()),
                    size_hint: body::content_length(&req),
                    ..NewUpload::default()
                };
                let attachments = &services.attachments;
                let created =
                    body::bridge(field, |stream| attachments.upload(&p, upload, stream)).await?;
                return Ok(HttpResponse::Created().json(AttachmentJson::from(&created)));
            }
            Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "missing_file",
                "the multipart field \"file\" is required",
            ))
        }
        .await,
    )
}

/// Largest form field other than `file` this dialect reads (and discards).
const MAX_OTHER_FIELD_BYTES: usize = 64 * 1024;

/// Most form fields other than `file` one upload may carry.
const MAX_OTHER_FIELDS: usize = 16;

/// Reads and discards a form field Clasp does not use, refusing one larger than
/// [`MAX_OTHER_FIELD_BYTES`], so fields around the file cannot make a request
/// unbounded.
async fn drain(mut field: crate::form::Part) -> Result<(), ApiError> {
    let mut read = 0;
    while let Some(chunk) = field.next().await {
        read += chunk
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.to_string()))?
            .len();
        if read > MAX_OTHER_FIELD_BYTES {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!(
                    "form fields other than \"file\" may hold at most {MAX_OTHER_FIELD_BYTES} bytes"
                ),
            ));
        }
    }
    Ok(())
}
