//! The `workspaces` dialect (seed 000): `/v1/workspaces/{workspaceId}/…`, Bearer
//! API keys plus `x-workspace-id`, direct uploads (upload URL → PUT → confirm),
//! messages that link confirmed attachments (Clasp's addition), download as a
//! JSON URL or a 302, camelCase objects.
//!
//! Errors are `{"error": {"code": "<code>", "message": "<text>"}}`: 400 (bad
//! request), 401 (no or bad key), 403 (workspace mismatch, missing scope), 404
//! (no such attachment in this workspace — also for ids that are not UUIDs),
//! 409/410/422 (the upload's state), 500. `docs/dialects/workspaces.md` lists
//! every code.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use clasp_domain::message::MessageId;
use clasp_domain::services::{Lookup, NewDirectUpload, NewMessage};
use clasp_domain::{
    Attachment, AttachmentError, AttachmentId, AuthError, IdentityError, LinkRefusal, Message,
    Principal, Subject, SubjectRef, ValidationError,
};
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::limits::Refusal;
use crate::{Services, bearer};

/// How long a download URL stays valid: the seed says nothing; as long as an
/// upload URL, and as the `redirect` dialect's presigned URLs.
const DOWNLOAD_URL_TTL: time::Duration = time::Duration::minutes(15);

/// The header naming the workspace, which must agree with the path.
const WORKSPACE_HEADER: &str = "x-workspace-id";

/// Largest JSON request body read (a message body of 64 KiB, escaped, plus ids).
const MAX_JSON_BYTES: usize = 512 * 1024;

/// Registers the seed's six endpoints and Clasp's message endpoint.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1/workspaces/{workspace_id}")
            .route(
                "/attachments/{attachment_id}/download",
                web::get().to(download),
            )
            .route(
                "/attachments/{attachment_id}/confirm",
                web::post().to(confirm),
            )
            .route("/attachments/{attachment_id}", web::delete().to(delete))
            .route(
                "/messages/{message_id}/attachments",
                web::get().to(list_message),
            )
            .route(
                "/tickets/{ticket_id}/attachments",
                web::get().to(list_ticket),
            )
            .route(
                "/tickets/{ticket_id}/attachments/upload-url",
                web::post().to(upload_url),
            )
            .route(
                "/tickets/{ticket_id}/messages",
                web::post().to(post_message),
            ),
    );
}

/// This dialect's part of the OpenAPI document, built from the handlers below.
#[derive(OpenApi)]
#[openapi(paths(
    download,
    confirm,
    delete,
    list_message,
    list_ticket,
    upload_url,
    post_message
))]
pub(crate) struct Api;

/// The dialect's attachment object.
#[derive(Serialize, ToSchema)]
#[schema(as = workspaces::Attachment)]
#[serde(rename_all = "camelCase")]
struct AttachmentJson {
    id: Uuid,
    workspace_id: String,
    ticket_id: Option<String>,
    message_id: Option<String>,
    filename: String,
    content_type: String,
    size: u64,
    /// The domain state: `pending`, `uploading`, `verifying`, `ready`, or a failure.
    status: &'static str,
    sha256: Option<String>,
    uploaded_by: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

impl AttachmentJson {
    fn new(a: &Attachment, workspace: &str) -> Self {
        Self {
            id: a.id.0,
            workspace_id: workspace.to_owned(),
            ticket_id: a.subject.ticket_id.clone(),
            message_id: a.subject.message_id.clone(),
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            size: a.size_bytes,
            status: a.state.as_str(),
            sha256: a.sha256.clone(),
            uploaded_by: a.uploaded_by.clone(),
            created_at: rfc3339(a.created_at),
            updated_at: rfc3339(a.updated_at),
        }
    }
}

/// The message object (Clasp's addition).
#[derive(Serialize, ToSchema)]
#[schema(as = workspaces::Message)]
#[serde(rename_all = "camelCase")]
struct MessageJson {
    id: Uuid,
    workspace_id: String,
    ticket_id: String,
    body: String,
    attachment_ids: Vec<Uuid>,
    #[schema(format = DateTime)]
    created_at: String,
}

impl MessageJson {
    fn new(m: Message, workspace: &str) -> Self {
        Self {
            id: m.id.0,
            workspace_id: workspace.to_owned(),
            ticket_id: m.ticket_id,
            body: m.body,
            attachment_ids: m.attachment_ids.into_iter().map(|a| a.0).collect(),
            created_at: rfc3339(m.created_at),
        }
    }
}

/// What upload-url answers.
#[derive(Serialize, ToSchema)]
#[schema(as = workspaces::UploadUrl)]
#[serde(rename_all = "camelCase")]
struct UploadUrlJson {
    attachment_id: Uuid,
    upload_url: String,
    url: String,
    method: String,
    /// Headers the upload request must carry.
    #[schema(value_type = HashMap<String, String>)]
    headers: serde_json::Map<String, serde_json::Value>,
    #[schema(format = DateTime)]
    expires_at: String,
    attachment: AttachmentJson,
}

/// A download URL and when it stops working.
#[derive(Serialize, ToSchema)]
#[schema(as = workspaces::DownloadUrl)]
#[serde(rename_all = "camelCase")]
struct DownloadJson {
    url: String,
    #[schema(format = DateTime)]
    expires_at: String,
}

/// The error body.
#[derive(Serialize, ToSchema)]
#[schema(as = workspaces::Error)]
struct ErrorJson<'a> {
    error: ErrorDetail<'a>,
}

/// What went wrong: a stable `code` and a `message` for people.
#[derive(Serialize, ToSchema)]
#[schema(as = workspaces::ErrorDetail)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
}

/// The body of upload-url.
#[derive(Deserialize, ToSchema)]
#[schema(as = workspaces::UploadUrlRequest)]
#[serde(rename_all = "camelCase")]
struct UploadUrlRequest {
    filename: String,
    content_type: Option<String>,
    size: u64,
}

/// The optional body of confirm.
#[derive(Deserialize, Default, ToSchema)]
#[schema(as = workspaces::ConfirmRequest)]
#[serde(rename_all = "camelCase")]
struct ConfirmRequest {
    #[serde(rename = "s3ETag")]
    s3_etag: Option<String>,
}

/// The body of a new message.
#[derive(Deserialize, ToSchema)]
#[schema(as = workspaces::MessageRequest)]
#[serde(rename_all = "camelCase")]
struct MessageRequest {
    #[serde(default)]
    body: String,
    #[serde(default)]
    attachment_ids: Vec<String>,
}

#[derive(Deserialize)]
struct DownloadQuery {
    redirect: Option<String>,
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

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    fn internal(what: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %what, "workspaces request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the request could not be completed",
        )
    }

    /// The same answer whether or not the workspace exists.
    fn workspace_mismatch() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "workspace_mismatch",
            "the credentials do not grant access to this workspace",
        )
    }

    fn response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        res.json(ErrorJson {
            error: ErrorDetail {
                code: self.code,
                message: &self.message,
            },
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
            AuthError::Backend(b) => Self::internal(&b),
            other => Self::new(StatusCode::UNAUTHORIZED, "unauthorized", other.to_string()),
        }
    }
}

impl From<AttachmentError> for ApiError {
    fn from(e: AttachmentError) -> Self {
        use StatusCode as S;
        let message = e.to_string();
        let with = |status, code| Self::new(status, code, message.clone());
        match &e {
            AttachmentError::Forbidden(_) => with(S::FORBIDDEN, "insufficient_scope"),
            AttachmentError::NotFound => Self::not_found(),
            AttachmentError::Invalid(v) => match v {
                ValidationError::TooLarge { .. } => with(S::BAD_REQUEST, "file_too_large"),
                ValidationError::DisallowedType(_) => with(S::BAD_REQUEST, "invalid_file_type"),
                ValidationError::MagicMismatch { .. } => {
                    with(S::BAD_REQUEST, "content_type_mismatch")
                }
                ValidationError::EmptyFile
                | ValidationError::MalformedChecksum
                | ValidationError::SizeMismatch { .. } => with(S::BAD_REQUEST, "invalid_request"),
            },
            AttachmentError::Interrupted(_) => with(S::BAD_REQUEST, "upload_interrupted"),
            AttachmentError::NotUploaded => with(S::CONFLICT, "not_uploaded"),
            AttachmentError::UploadExpired => with(S::GONE, "upload_expired"),
            AttachmentError::NotPending(_) | AttachmentError::State(_) => {
                with(S::CONFLICT, "invalid_state")
            }
            AttachmentError::VerificationFailed(_) => {
                with(S::UNPROCESSABLE_ENTITY, "verification_failed")
            }
            AttachmentError::ETagMismatch { .. } | AttachmentError::ChecksumMismatch { .. } => {
                with(S::UNPROCESSABLE_ENTITY, "checksum_mismatch")
            }
            AttachmentError::NotLinkable { reason, .. } => match reason {
                LinkRefusal::Unknown => with(S::UNPROCESSABLE_ENTITY, "attachment_not_found"),
                LinkRefusal::NotReady => with(S::UNPROCESSABLE_ENTITY, "attachment_not_ready"),
                LinkRefusal::OtherTicket => {
                    with(S::UNPROCESSABLE_ENTITY, "attachment_on_other_ticket")
                }
                LinkRefusal::AlreadyLinked => {
                    with(S::UNPROCESSABLE_ENTITY, "attachment_already_linked")
                }
                LinkRefusal::Changed => with(S::CONFLICT, "attachment_changed"),
            },
            AttachmentError::InvalidMessage(_) => with(S::BAD_REQUEST, "invalid_request"),
            AttachmentError::QuotaExceeded(_) => with(S::FORBIDDEN, "quota_exceeded"),
            AttachmentError::Infected { .. } => with(S::UNPROCESSABLE_ENTITY, "infected_file"),
            AttachmentError::ScanFailed(_) => {
                tracing::error!(error = %e, "workspaces upload not scanned");
                Self::new(
                    S::SERVICE_UNAVAILABLE,
                    "scanner_unavailable",
                    "the file could not be scanned for viruses; confirm again later",
                )
            }
            AttachmentError::Signature(_)
            | AttachmentError::Storage(_)
            | AttachmentError::Repository(_) => Self::internal(&e),
        }
    }
}

type Reply = Result<HttpResponse, ApiError>;

fn finish(r: Reply) -> HttpResponse {
    r.unwrap_or_else(|e| e.response())
}

/// The authenticated principal, once the key, the `x-workspace-id` header and
/// the path's workspace all name the same tenant; and that workspace's id. A
/// mismatch is answered alike whether or not the workspace exists.
async fn authorize(
    req: &HttpRequest,
    services: &Services,
) -> Result<(Principal, String), ApiError> {
    let principal = bearer::authenticate(req, &services.identities).await?;
    let workspace = req
        .match_info()
        .get("workspace_id")
        .unwrap_or_default()
        .to_owned();
    let named = req
        .headers()
        .get(WORKSPACE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    match named {
        None => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "missing_workspace_id",
                "the x-workspace-id header is required",
            ));
        }
        Some(header) if header != workspace => return Err(ApiError::workspace_mismatch()),
        Some(_) => {}
    }
    match services.identities.tenant(&workspace).await {
        Ok(tenant) if tenant.id == principal.tenant_id => Ok((principal, workspace)),
        Ok(_) | Err(IdentityError::UnknownTenant(_)) => Err(ApiError::workspace_mismatch()),
        Err(e) => Err(ApiError::internal(&e)),
    }
}

/// A UUID path segment, canonicalised (lowercase, hyphenated) as every dialect
/// stores host ids; anything else names nothing.
fn uuid_segment(req: &HttpRequest, name: &str) -> Result<Uuid, ApiError> {
    req.match_info()
        .get(name)
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(ApiError::not_found)
}

fn attachment_id(req: &HttpRequest) -> Result<Lookup, ApiError> {
    Ok(Lookup::id(AttachmentId(uuid_segment(
        req,
        "attachment_id",
    )?)))
}

fn ticket_id(req: &HttpRequest) -> Result<String, ApiError> {
    Ok(uuid_segment(req, "ticket_id")?.to_string())
}

/// Reads a small JSON body; an empty body is `default` when there is one.
async fn read_json<T: DeserializeOwned>(
    mut payload: web::Payload,
    default: Option<T>,
) -> Result<T, ApiError> {
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::invalid(e.to_string()))?;
        if buf.len() + chunk.len() > MAX_JSON_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_too_large",
                format!("a request body may hold at most {MAX_JSON_BYTES} bytes"),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    if buf.iter().all(u8::is_ascii_whitespace)
        && let Some(default) = default
    {
        return Ok(default);
    }
    serde_json::from_slice(&buf)
        .map_err(|e| ApiError::invalid(format!("the body is not the expected JSON: {e}")))
}

fn attachments_json(found: &[Attachment], workspace: &str) -> HttpResponse {
    HttpResponse::Ok().json(
        found
            .iter()
            .map(|a| AttachmentJson::new(a, workspace))
            .collect::<Vec<_>>(),
    )
}

#[utoipa::path(
    get,
    path = "/v1/workspaces/{workspace_id}/tickets/{ticket_id}/attachments",
    tag = "workspaces",
    params(("workspace_id" = String, Path, description = "The workspace slug; must equal `x-workspace-id`"), ("ticket_id" = Uuid, Path, description = "The ticket")),
    responses(
        (status = 200, description = "The attachments of every message on the ticket", body = [AttachmentJson]),
        (status = 400, description = "A bad request, or no `x-workspace-id` (`missing_workspace_id`)", body = ErrorJson),
        crate::openapi::BearerRefusals<ErrorJson>,
        crate::openapi::NotFound<ErrorJson>,
    ),
    security(("bearer" = [], "workspace" = []))
)]
/// Lists a ticket's attachments.
async fn list_ticket(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    finish(
        async {
            let (p, ws) = authorize(&req, &services).await?;
            let ticket = ticket_id(&req)?;
            let found = services
                .attachments
                .list(&p, &SubjectRef::Ticket(ticket))
                .await?;
            Ok(attachments_json(&found, &ws))
        }
        .await,
    )
}

#[utoipa::path(
    get,
    path = "/v1/workspaces/{workspace_id}/messages/{message_id}/attachments",
    tag = "workspaces",
    params(("workspace_id" = String, Path, description = "The workspace slug; must equal `x-workspace-id`"), ("message_id" = Uuid, Path, description = "The message")),
    responses(
        (status = 200, description = "The message's attachments", body = [AttachmentJson]),
        (status = 400, description = "A bad request, or no `x-workspace-id` (`missing_workspace_id`)", body = ErrorJson),
        crate::openapi::BearerRefusals<ErrorJson>,
        crate::openapi::NotFound<ErrorJson>,
    ),
    security(("bearer" = [], "workspace" = []))
)]
/// Lists a message's attachments.
async fn list_message(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    finish(
        async {
            let (p, ws) = authorize(&req, &services).await?;
            let message = MessageId(uuid_segment(&req, "message_id")?);
            let found = services
                .attachments
                .list(&p, &SubjectRef::Message(message.to_string()))
                .await?;
            Ok(attachments_json(&found, &ws))
        }
        .await,
    )
}

#[utoipa::path(
    post,
    path = "/v1/workspaces/{workspace_id}/tickets/{ticket_id}/attachments/upload-url",
    tag = "workspaces",
    params(("workspace_id" = String, Path, description = "The workspace slug; must equal `x-workspace-id`"), ("ticket_id" = Uuid, Path, description = "The ticket")),
    request_body(content = UploadUrlRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Where and how to PUT the bytes", body = UploadUrlJson),
        (status = 413, description = "The JSON body is too large", body = ErrorJson),
        (status = 400, description = "A bad request, or no `x-workspace-id` (`missing_workspace_id`)", body = ErrorJson),
        crate::openapi::BearerRefusals<ErrorJson>,
        crate::openapi::NotFound<ErrorJson>,
    ),
    security(("bearer" = [], "workspace" = []))
)]
/// Starts a direct upload: a one-time upload URL for the bytes.
async fn upload_url(
    req: HttpRequest,
    services: web::Data<Services>,
    payload: web::Payload,
) -> HttpResponse {
    finish(
        async {
            let (p, ws) = authorize(&req, &services).await?;
            let ticket = ticket_id(&req)?;
            let asked: UploadUrlRequest = read_json(payload, None).await?;
            let begun = services
                .attachments
                .begin_upload(
                    &p,
                    NewDirectUpload {
                        subject: Subject {
                            ticket_id: Some(ticket),
                            ..Subject::default()
                        },
                        filename: asked.filename,
                        content_type: asked.content_type,
                        size: asked.size,
                    },
                )
                .await?;
            let headers = begun
                .url
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            Ok(HttpResponse::Created().json(UploadUrlJson {
                attachment_id: begun.attachment.id.0,
                upload_url: begun.url.url.clone(),
                url: begun.url.url,
                method: begun.url.method,
                headers,
                expires_at: rfc3339(begun.url.expires_at),
                attachment: AttachmentJson::new(&begun.attachment, &ws),
            }))
        }
        .await,
    )
}

#[utoipa::path(
    post,
    path = "/v1/workspaces/{workspace_id}/attachments/{attachment_id}/confirm",
    tag = "workspaces",
    params(("workspace_id" = String, Path, description = "The workspace slug; must equal `x-workspace-id`"), ("attachment_id" = Uuid, Path, description = "The attachment")),
    request_body(content = ConfirmRequest, content_type = "application/json", description = "May be empty"),
    responses(
        (status = 200, description = "The verified attachment", body = AttachmentJson),
        (status = 409, description = "Not uploaded yet, or not pending", body = ErrorJson),
        (status = 410, description = "The upload URL expired (`upload_expired`)", body = ErrorJson),
        (status = 413, description = "The JSON body is too large", body = ErrorJson),
        (status = 422, description = "Verification or checksum failed, or the virus scanner found malware (`infected_file`)", body = ErrorJson),
        (status = 503, description = "The virus scanner gave no verdict (`scanner_unavailable`); the attachment stays pending", body = ErrorJson),
        (status = 400, description = "A bad request, or no `x-workspace-id` (`missing_workspace_id`)", body = ErrorJson),
        crate::openapi::BearerRefusals<ErrorJson>,
        crate::openapi::NotFound<ErrorJson>,
    ),
    security(("bearer" = [], "workspace" = []))
)]
/// Confirms a direct upload once its bytes are stored; verifies them.
async fn confirm(
    req: HttpRequest,
    services: web::Data<Services>,
    payload: web::Payload,
) -> HttpResponse {
    finish(
        async {
            let (p, ws) = authorize(&req, &services).await?;
            let lookup = attachment_id(&req)?;
            let asked: ConfirmRequest = read_json(payload, Some(ConfirmRequest::default())).await?;
            let confirmed = services
                .attachments
                .confirm(&p, &lookup, asked.s3_etag.as_deref())
                .await?;
            Ok(HttpResponse::Ok().json(AttachmentJson::new(&confirmed, &ws)))
        }
        .await,
    )
}

#[utoipa::path(
    post,
    path = "/v1/workspaces/{workspace_id}/tickets/{ticket_id}/messages",
    tag = "workspaces",
    params(("workspace_id" = String, Path, description = "The workspace slug; must equal `x-workspace-id`"), ("ticket_id" = Uuid, Path, description = "The ticket")),
    request_body(content = MessageRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The message, with its linked attachments", body = MessageJson),
        (status = 409, description = "An attachment changed meanwhile (`attachment_changed`)", body = ErrorJson),
        (status = 413, description = "The JSON body is too large", body = ErrorJson),
        (status = 422, description = "An attachment is unknown, not ready, on another ticket or already linked", body = ErrorJson),
        (status = 400, description = "A bad request, or no `x-workspace-id` (`missing_workspace_id`)", body = ErrorJson),
        crate::openapi::BearerRefusals<ErrorJson>,
        crate::openapi::NotFound<ErrorJson>,
    ),
    security(("bearer" = [], "workspace" = []))
)]
/// Posts a message on a ticket linking confirmed attachments (Clasp's addition).
async fn post_message(
    req: HttpRequest,
    services: web::Data<Services>,
    payload: web::Payload,
) -> HttpResponse {
    finish(
        async {
            let (p, ws) = authorize(&req, &services).await?;
            let ticket = ticket_id(&req)?;
            let asked: MessageRequest = read_json(payload, None).await?;
            let ids = asked
                .attachment_ids
                .iter()
                .map(|raw| {
                    raw.parse::<AttachmentId>().map_err(|_| {
                        ApiError::invalid(format!(
                            "{raw:?} in attachmentIds is not an attachment id"
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let message = services
                .attachments
                .post_message(
                    &p,
                    NewMessage {
                        ticket_id: ticket,
                        body: asked.body,
                        attachment_ids: ids,
                    },
                )
                .await?;
            Ok(HttpResponse::Created().json(MessageJson::new(message, &ws)))
        }
        .await,
    )
}

#[utoipa::path(
    get,
    path = "/v1/workspaces/{workspace_id}/attachments/{attachment_id}/download",
    tag = "workspaces",
    params(("workspace_id" = String, Path, description = "The workspace slug; must equal `x-workspace-id`"), ("attachment_id" = Uuid, Path, description = "The attachment"), ("redirect" = Option<bool>, Query, description = "`true`: answer 302 to the URL instead of JSON")),
    responses(
        (status = 200, description = "A download URL valid for 15 minutes", body = DownloadJson),
        (status = 302, description = "Redirect to the download URL (`?redirect=true`)", headers(("Location" = String, description = "The download URL"))),
        (status = 400, description = "A bad request, or no `x-workspace-id` (`missing_workspace_id`)", body = ErrorJson),
        crate::openapi::BearerRefusals<ErrorJson>,
        crate::openapi::NotFound<ErrorJson>,
    ),
    security(("bearer" = [], "workspace" = []))
)]
/// A download URL as JSON, or a 302 to it with `?redirect=true`.
async fn download(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    finish(
        async {
            let (p, _) = authorize(&req, &services).await?;
            let lookup = attachment_id(&req)?;
            let query = web::Query::<DownloadQuery>::from_query(req.query_string())
                .map_err(|e| ApiError::invalid(e.to_string()))?;
            let redirect = match query.redirect.as_deref() {
                None | Some("false" | "0") => false,
                Some("true" | "1" | "") => true,
                Some(other) => {
                    return Err(ApiError::invalid(format!(
                        "redirect must be true or false, not {other:?}"
                    )));
                }
            };
            let (_, url) = services
                .attachments
                .download_url(&p, &lookup, DOWNLOAD_URL_TTL)
                .await?;
            let mut res = if redirect {
                let mut found = HttpResponse::Found();
                found.insert_header((header::LOCATION, url.url.as_str()));
                found
            } else {
                HttpResponse::Ok()
            };
            // The URL is a bearer credential for the file: never cache it.
            res.insert_header((header::CACHE_CONTROL, "no-store"));
            Ok(if redirect {
                res.finish()
            } else {
                res.json(DownloadJson {
                    url: url.url,
                    expires_at: rfc3339(url.expires_at),
                })
            })
        }
        .await,
    )
}

#[utoipa::path(
    delete,
    path = "/v1/workspaces/{workspace_id}/attachments/{attachment_id}",
    tag = "workspaces",
    params(("workspace_id" = String, Path, description = "The workspace slug; must equal `x-workspace-id`"), ("attachment_id" = Uuid, Path, description = "The attachment")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "A bad request, or no `x-workspace-id` (`missing_workspace_id`)", body = ErrorJson),
        crate::openapi::BearerRefusals<ErrorJson>,
        crate::openapi::NotFound<ErrorJson>,
    ),
    security(("bearer" = [], "workspace" = []))
)]
/// Deletes an attachment and its bytes.
async fn delete(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    finish(
        async {
            let (p, _) = authorize(&req, &services).await?;
            services
                .attachments
                .delete(&p, &attachment_id(&req)?)
                .await?;
            Ok(HttpResponse::NoContent().finish())
        }
        .await,
    )
}

#[cfg(test)]
mod tests;
