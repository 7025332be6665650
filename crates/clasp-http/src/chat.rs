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

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use clasp_domain::services::{MAX_FILES_PER_MESSAGE, MessageFile};
use clasp_domain::{
    Attachment, AttachmentError, AttachmentService, AttachmentState, AuthError, Principal,
    ValidationError,
};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

use crate::form::{Form, Part};
use crate::limits::Refusal;
use crate::{Services, body, download, session};

/// The most bytes read of a text form field (`roomId`, `fileChecksum`).
const MAX_TEXT_FIELD_BYTES: usize = 1024;

/// Registers the seed's four endpoints and Clasp's thumbnail endpoint. Requests
/// with `Authorization: Bearer` never reach them: [`crate::redirect`] owns those.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/api/v1/messages/{message_id}/attachments",
        web::post().to(upload),
    )
    .route("/api/v1/attachments/{number}", web::get().to(metadata))
    .route("/api/v1/attachments/{number}", web::delete().to(delete))
    .route(
        "/api/v1/attachments/{number}/{file_name}",
        web::get().to(download_file),
    );
}

/// This dialect's part of the OpenAPI document, built from the handlers below.
#[derive(OpenApi)]
#[openapi(paths(upload, metadata, delete, download_file))]
pub(crate) struct Api;

/// The seed's name of each domain state.
pub fn state_name(state: AttachmentState) -> &'static str {
    match state {
        AttachmentState::Pending => "Initial",
        AttachmentState::Uploading => "UploadFromClientToServerInProgress",
        AttachmentState::Verifying => "ChecksumVerificationOnServerSideInProgress",
        AttachmentState::Ready => "ReadyForDownloadFromServerToClient",
        AttachmentState::UploadFailed => "UploadFromClientToServerFailed",
        AttachmentState::ChecksumMismatch => "ChecksumVerificationOnServerSideMismatch",
        AttachmentState::VerificationFailed => "ChecksumVerificationOnServerSideFailed",
    }
}

/// The seed's metadata object.
#[derive(Serialize, ToSchema)]
#[schema(as = chat::Attachment)]
#[serde(rename_all = "camelCase")]
struct AttachmentJson {
    attachment_id: i64,
    #[schema(value_type = String, example = "ReadyForDownloadFromServerToClient")]
    attachment_state: &'static str,
    /// Milliseconds since the Unix epoch.
    created_utc: i64,
    /// The SHA-256 of the bytes, in hex.
    file_checksum: Option<String>,
    file_name: String,
    file_size: u64,
    has_thumbnail: bool,
    /// Milliseconds since the Unix epoch.
    last_modified_utc: i64,
    /// A number for the chat product's ids, a string for ids another dialect recorded.
    #[schema(value_type = Option<IdValue>)]
    room_id: Value,
    /// A number for the chat product's ids, a string for ids another dialect recorded.
    #[schema(value_type = Option<IdValue>)]
    text_message_id: Value,
    /// Clasp's addition, only on failed attachments: why it failed (e.g.
    /// `infected: Eicar-Test-Signature`).
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<String>,
}

/// A subject id as [`id_value`] writes it (described for the OpenAPI document).
#[derive(ToSchema)]
#[schema(as = chat::IdValue)]
#[serde(untagged)]
#[expect(
    dead_code,
    reason = "only describes `id_value` in the OpenAPI document"
)]
enum IdValue {
    Number(i64),
    Text(String),
}

/// The error body; a request without any credential also gets the `redirect`
/// dialect's fields (`error`, `message`, `code`), since it may be meant for either.
#[derive(Serialize, ToSchema)]
#[schema(as = chat::Error)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ErrorJson<'a> {
    error_text: &'a str,
    http_status_code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<u16>,
}

/// An error on a path both `/api/v1` dialects answer: the chat shape for
/// session requests, the `redirect` shape for Bearer ones. `anyOf`, not
/// `oneOf`: a 401 to a request without credentials carries both shapes at once.
pub(crate) struct SharedError;

impl utoipa::PartialSchema for SharedError {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AnyOfBuilder, Ref};
        AnyOfBuilder::new()
            .item(Ref::from_schema_name(ErrorJson::name()))
            .item(Ref::from_schema_name(crate::redirect::ErrorJson::name()))
            .description(Some(
                "The chat error with the session cookie, the redirect error with a Bearer key",
            ))
            .into()
    }
}

impl ToSchema for SharedError {
    fn name() -> std::borrow::Cow<'static, str> {
        "chat.SharedError".into()
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push((ErrorJson::name().into(), ErrorJson::schema()));
        schemas.push((
            crate::redirect::ErrorJson::name().into(),
            crate::redirect::ErrorJson::schema(),
        ));
    }
}

/// The success body of a deletion, as the seed shows it.
#[derive(Serialize, ToSchema)]
#[schema(as = chat::Deleted)]
#[serde(rename_all = "camelCase")]
struct DeletedJson {
    http_status_code: u16,
}

/// The multipart form of an upload (described for the OpenAPI document; the
/// handler streams the parts instead of deserialising them).
#[derive(ToSchema)]
#[schema(as = chat::UploadForm)]
#[serde(rename_all = "camelCase")]
#[expect(
    dead_code,
    reason = "only describes the request body in the OpenAPI document"
)]
struct UploadForm {
    /// One or more files; all are kept or none.
    #[schema(value_type = Vec<String>, format = Binary)]
    files: Vec<String>,
    /// The SHA-256 (hex) the next file must have.
    file_checksum: Option<String>,
    /// The room of the message.
    room_id: Option<i64>,
}

impl From<&Attachment> for AttachmentJson {
    fn from(a: &Attachment) -> Self {
        Self {
            attachment_id: a.number,
            attachment_state: state_name(a.state),
            created_utc: epoch_millis(a.created_at),
            file_checksum: a.sha256.clone(),
            file_name: a.filename.clone(),
            file_size: a.size_bytes,
            has_thumbnail: a.thumbnail_key.is_some(),
            last_modified_utc: epoch_millis(a.updated_at),
            room_id: id_value(a.subject.room_id.as_deref()),
            text_message_id: id_value(a.subject.message_id.as_deref()),
            failure_reason: a.failure_reason.clone(),
        }
    }
}

/// The answer to an upload: the seed's `httpStatusCode`, plus what was created.
#[derive(Serialize, ToSchema)]
#[schema(as = chat::Uploaded)]
#[serde(rename_all = "camelCase")]
struct UploadJson {
    http_status_code: u16,
    attachment_ids: Vec<i64>,
    attachments: Vec<AttachmentJson>,
}

fn epoch_millis(t: time::OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A subject id as the seed shows it: a number when it is one (ids of the chat
/// product are), the string otherwise (ids another dialect recorded).
fn id_value(id: Option<&str>) -> Value {
    match id {
        None => Value::Null,
        Some(s) => s
            .parse::<i64>()
            .map_or_else(|_| Value::String(s.to_owned()), Value::from),
    }
}

/// A failure as this dialect reports it.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    text: String,
    expire_cookie: bool,
    /// A request with no credential at all may be meant for either dialect of
    /// `/api/v1`: its 401 carries the `redirect` fields too.
    both_shapes: bool,
}

impl ApiError {
    fn new(status: StatusCode, text: impl Into<String>) -> Self {
        Self {
            status,
            text: text.into(),
            expire_cookie: false,
            both_shapes: false,
        }
    }

    fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Attachment not found")
    }

    fn bad_request(text: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, text)
    }

    fn response(&self, req: &HttpRequest) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if self.expire_cookie {
            res.insert_header((header::SET_COOKIE, session::expire_cookie(req)));
        }
        let status = self.status.as_u16();
        let mut body = ErrorJson {
            error_text: &self.text,
            http_status_code: status,
            error: None,
            message: None,
            code: None,
        };
        if self.both_shapes {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            body.error = Some("unauthorized");
            body.message = Some(&self.text);
            body.code = Some(status);
        }
        res.json(body)
    }

    /// The same error, naming the file it is about.
    fn about(mut self, filename: &str) -> Self {
        self.text = format!("{filename:?}: {}", self.text);
        self
    }
}

/// A refusal made before the handler ran (rate limit, upload cap), in this
/// dialect's error shape.
pub(crate) fn refusal(req: &HttpRequest, refused: Refusal) -> HttpResponse {
    let (status, _, message) = refused.describe();
    ApiError::new(status, message).response(req)
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Backend(b) => {
                tracing::error!(error = %b, "session authentication failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "authentication is unavailable",
                )
            }
            AuthError::Missing => Self {
                both_shapes: true,
                ..Self::new(
                    StatusCode::UNAUTHORIZED,
                    "Authentication required: a clasp_session cookie or an API token",
                )
            },
            other => Self {
                expire_cookie: true,
                ..Self::new(StatusCode::UNAUTHORIZED, format!("session: {other}"))
            },
        }
    }
}

impl From<AttachmentError> for ApiError {
    fn from(e: AttachmentError) -> Self {
        use StatusCode as S;
        match &e {
            AttachmentError::Forbidden(_) => Self::new(S::FORBIDDEN, e.to_string()),
            AttachmentError::NotFound => Self::not_found(),
            AttachmentError::Invalid(ValidationError::TooLarge { .. }) => {
                Self::new(S::PAYLOAD_TOO_LARGE, e.to_string())
            }
            AttachmentError::Invalid(ValidationError::DisallowedType(_)) => {
                Self::new(S::UNSUPPORTED_MEDIA_TYPE, e.to_string())
            }
            AttachmentError::Invalid(_)
            | AttachmentError::Interrupted(_)
            | AttachmentError::InvalidMessage(_) => Self::bad_request(e.to_string()),
            // Flows of other dialects, which no endpoint of this one reaches.
            AttachmentError::ChecksumMismatch { .. }
            | AttachmentError::ETagMismatch { .. }
            | AttachmentError::VerificationFailed(_)
            | AttachmentError::NotLinkable { .. } => Self::bad_request(e.to_string()),
            AttachmentError::QuotaExceeded(_) => Self::new(S::FORBIDDEN, e.to_string()),
            AttachmentError::Infected { number, .. } => Self::new(
                S::UNPROCESSABLE_ENTITY,
                format!(
                    "{e}; attachment {number} is {}",
                    state_name(AttachmentState::VerificationFailed)
                ),
            ),
            AttachmentError::ScanFailed(_) => {
                tracing::error!(error = %e, "chat upload not scanned");
                Self::new(
                    S::SERVICE_UNAVAILABLE,
                    "the file could not be scanned for viruses; try again later",
                )
            }
            AttachmentError::State(_)
            | AttachmentError::NotUploaded
            | AttachmentError::UploadExpired
            | AttachmentError::NotPending(_) => Self::new(S::CONFLICT, e.to_string()),
            AttachmentError::Signature(_)
            | AttachmentError::Storage(_)
            | AttachmentError::Repository(_) => {
                tracing::error!(error = %e, "chat request failed");
                Self::new(
                    S::INTERNAL_SERVER_ERROR,
                    "the request could not be completed",
                )
            }
        }
    }
}

type Reply = Result<HttpResponse, ApiError>;

fn finish(req: &HttpRequest, r: Reply) -> HttpResponse {
    r.unwrap_or_else(|e| e.response(req))
}

async fn principal(req: &HttpRequest, services: &Services) -> Result<Principal, ApiError> {
    Ok(session::authenticate(req, &services.identities).await?)
}

/// The attachment number of the path; anything else names no attachment.
fn number(req: &HttpRequest) -> Result<i64, ApiError> {
    req.match_info()
        .get("number")
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(ApiError::not_found)
}

/// A message or room id: the chat product's ids are integers.
fn integer_id(name: &str, raw: &str) -> Result<String, ApiError> {
    raw.trim()
        .parse::<i64>()
        .map(|n| n.to_string())
        .map_err(|_| ApiError::bad_request(format!("{name} must be an integer, not {raw:?}")))
}

#[utoipa::path(
    get,
    path = "/api/v1/attachments/{attachmentId}",
    tag = "chat",
    params(("attachmentId" = i64, Path, description = "The attachment's number")),
    responses(
        (status = 200, description = "The metadata", body = AttachmentJson),
        (status = 401, description = "No, unknown, expired or revoked session", body = ErrorJson),
        (status = 404, description = "No such attachment in the session's tenant", body = ErrorJson),
    ),
    security(("session" = []))
)]
/// An attachment's metadata, with the seed's state names.
async fn metadata(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    let reply = async {
        let p = principal(&req, &services).await?;
        let a = services
            .attachments
            .find_numbered(&p, number(&req)?)
            .await?;
        Ok(HttpResponse::Ok().json(AttachmentJson::from(&a)))
    }
    .await;
    finish(&req, reply)
}

#[utoipa::path(
    delete,
    path = "/api/v1/attachments/{attachmentId}",
    tags = ["chat", "redirect"],
    params(("attachmentId" = String, Path, description = "The attachment's number (session cookie) or UUID (Bearer, the `redirect` dialect)")),
    responses(
        (status = 200, description = "Deleted (session cookie)", body = DeletedJson),
        (status = 204, description = "Deleted (Bearer)"),
        (status = 401, description = "No, unknown, expired or revoked credential", body = SharedError),
        (status = 403, description = "The key lacks `attachments:delete` (`insufficient_scope`)", body = SharedError),
        (status = 404, description = "No such attachment in the tenant", body = SharedError),
        (status = 429, description = "Too many requests for this credential; see `Retry-After`", body = SharedError),
    ),
    security(("session" = []), ("bearer" = []))
)]
/// Deletes an attachment: by number with the session cookie, by UUID with a Bearer key (the `redirect` dialect).
async fn delete(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    let reply = async {
        let p = principal(&req, &services).await?;
        services
            .attachments
            .delete_numbered(&p, number(&req)?)
            .await?;
        Ok(HttpResponse::Ok().json(DeletedJson {
            http_status_code: 200,
        }))
    }
    .await;
    finish(&req, reply)
}

#[utoipa::path(
    get,
    path = "/api/v1/attachments/{attachmentId}/{attachmentFileName}",
    tag = "chat",
    params(("attachmentId" = i64, Path, description = "The attachment's number"), ("attachmentFileName" = String, Path, description = "The file's name, or `thumbnail`")),
    responses(
        crate::download::Responses,
        (status = 401, description = "No, unknown, expired or revoked session", body = ErrorJson),
        (status = 404, description = "No such attachment in the session's tenant", body = ErrorJson),
    ),
    security(("session" = []))
)]
/// `GET /api/v1/attachments/{number}/{file_name}`: the file, when the name is
/// its name. `thumbnail` is the thumbnail, unless the file is named so.
async fn download_file(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    let reply = async {
        let p = principal(&req, &services).await?;
        let number = number(&req)?;
        let name = req.match_info().get("file_name").unwrap_or_default();
        let opened = services.attachments.open_numbered(&p, number, name).await;
        let opened = match opened {
            Err(AttachmentError::NotFound) if name == "thumbnail" => {
                services.attachments.open_thumbnail(&p, number).await
            }
            other => other,
        };
        Ok(download::respond(&req, opened?).await?)
    }
    .await;
    finish(&req, reply)
}

#[derive(Deserialize)]
struct UploadQuery {
    #[serde(rename = "roomId")]
    room_id: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/messages/{messageId}/attachments",
    tag = "chat",
    params(("messageId" = i64, Path, description = "The message"), ("roomId" = Option<i64>, Query, description = "The room of the message")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Every file was stored", body = UploadJson),
        (status = 400, description = "Bad form, no `files`, bad ids, bytes not of the declared type, checksum mismatch", body = ErrorJson),
        (status = 401, description = "No, unknown, expired or revoked session", body = ErrorJson),
        (status = 403, description = "The tenant's quota of bytes or attachments is used up", body = ErrorJson),
        (status = 413, description = "A file is too large", body = ErrorJson),
        (status = 415, description = "A file's type is not allowed", body = ErrorJson),
        (status = 429, description = "Too many requests for this session; see `Retry-After`", body = ErrorJson),
        (status = 422, description = "The virus scanner found malware (the signature in `errorText`); nothing is served", body = ErrorJson),
        (status = 503, description = "Too many uploads at once (see `Retry-After`), or the virus scanner gave no verdict", body = ErrorJson),
    ),
    security(("session" = []))
)]
/// `POST /api/v1/messages/{message_id}/attachments`: every `files` part is
/// checked as it streams; one refused file refuses them all.
async fn upload(req: HttpRequest, services: web::Data<Services>, form: Form) -> HttpResponse {
    let reply = async {
        let p = principal(&req, &services).await?;
        let message_id = integer_id(
            "messageId",
            req.match_info().get("message_id").unwrap_or_default(),
        )?;
        // Parsed here, not by an extractor, so that a bad query string gets
        // this dialect's error body.
        let query = web::Query::<UploadQuery>::from_query(req.query_string())
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let room = query
            .into_inner()
            .room_id
            .map(|r| integer_id("roomId", &r))
            .transpose()?;
        let max_request = services
            .attachments
            .policy()
            .max_bytes
            .saturating_mul(MAX_FILES_PER_MESSAGE as u64);
        body::refuse_oversized(&req, max_request)
            .map_err(|e| ApiError::from(AttachmentError::Invalid(e)))?;
        let size_hint = body::content_length(&req);
        let created = receive(
            &services.attachments,
            &p,
            &message_id,
            room,
            size_hint,
            form,
        )
        .await?;
        spawn_thumbnails(services.attachments.clone(), &created);
        Ok(HttpResponse::Ok().json(UploadJson {
            http_status_code: 200,
            attachment_ids: created.iter().map(|a| a.number).collect(),
            attachments: created.iter().map(AttachmentJson::from).collect(),
        }))
    }
    .await;
    finish(&req, reply)
}

/// Reads the form into a message upload, committing it when every file was
/// accepted and aborting it otherwise.
async fn receive(
    attachments: &AttachmentService,
    p: &Principal,
    message_id: &str,
    room: Option<String>,
    size_hint: Option<u64>,
    mut form: Form,
) -> Result<Vec<Attachment>, ApiError> {
    let mut upload = attachments.message_upload(p, message_id, room.as_deref())?;
    upload.set_size_hint(size_hint);
    let mut declared: Option<String> = None;
    let outcome: Result<(), ApiError> = async {
        while let Some(field) = form.next().await {
            let field = field.map_err(|e| ApiError::bad_request(e.to_string()))?;
            match field.name() {
                Some("files") => {
                    let file = MessageFile {
                        filename: field
                            .content_disposition()
                            .and_then(|d| d.get_filename())
                            .unwrap_or_default()
                            .to_owned(),
                        content_type: field.content_type().map(ToString::to_string),
                        declared_sha256: content_digest(&field)?.or(declared.take()),
                    };
                    let name = file.filename.clone();
                    let up = &mut upload;
                    body::bridge(field, |stream| up.add(file, stream))
                        .await
                        .map_err(|e| ApiError::from(e).about(&name))?;
                }
                Some("fileChecksum") => declared = Some(text(field).await?),
                Some("roomId") => upload.set_room(&integer_id("roomId", &text(field).await?)?),
                _ => drain(field).await?,
            }
        }
        if upload.is_empty() {
            return Err(ApiError::bad_request(
                "the multipart field \"files\" is required",
            ));
        }
        Ok(())
    }
    .await;
    match outcome {
        Ok(()) => Ok(upload.commit().await?),
        Err(e) => {
            upload.abort().await;
            Err(e)
        }
    }
}

/// The SHA-256 of an RFC 9530 `Content-Digest: sha-256=:<base64>:` part header,
/// if the part has one; other algorithms are ignored, as the RFC allows.
fn content_digest(field: &Part) -> Result<Option<String>, ApiError> {
    let Some(value) = field.headers().get("content-digest") else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::bad_request("Content-Digest is not ASCII"))?;
    Ok(sha256_entry(value))
}

/// The `sha-256` digest (base64, colons removed) of a `Content-Digest` value.
fn sha256_entry(value: &str) -> Option<String> {
    value
        .split(',')
        .filter_map(|entry| entry.trim().split_once('='))
        .find(|(algorithm, _)| algorithm.trim().eq_ignore_ascii_case("sha-256"))
        .map(|(_, digest)| digest.trim().trim_matches(':').to_owned())
}

/// Makes the thumbnails of the ready ones of `created` in the background (the
/// upload has answered), one after the other, so a request holds at most one
/// image in memory for them.
fn spawn_thumbnails(attachments: AttachmentService, created: &[Attachment]) {
    let ready: Vec<_> = created
        .iter()
        .filter(|a| a.is_ready())
        .map(|a| (a.tenant_id, a.id))
        .collect();
    actix_web::rt::spawn(async move {
        for (tenant, id) in ready {
            if let Err(e) = attachments.make_thumbnail(tenant, id).await {
                tracing::warn!(error = %e, attachment = %id, "making a thumbnail failed");
            }
        }
    });
}

/// A small text field, as UTF-8.
async fn text(mut field: Part) -> Result<String, ApiError> {
    let name = field.name().unwrap_or_default().to_owned();
    let mut buf = Vec::new();
    while let Some(chunk) = field.next().await {
        buf.extend_from_slice(&chunk.map_err(|e| ApiError::bad_request(e.to_string()))?);
        if buf.len() > MAX_TEXT_FIELD_BYTES {
            return Err(ApiError::bad_request(format!("{name} is too long")));
        }
    }
    String::from_utf8(buf).map_err(|_| ApiError::bad_request(format!("{name} is not UTF-8")))
}

/// Reads and discards a form field Clasp does not use.
async fn drain(mut field: Part) -> Result<(), ApiError> {
    while let Some(chunk) = field.next().await {
        chunk.map_err(|e| ApiError::bad_request(e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_state_has_its_own_seed_name() {
        let names: HashSet<_> = AttachmentState::ALL.into_iter().map(state_name).collect();
        assert_eq!(names.len(), AttachmentState::ALL.len());
        assert_eq!(
            state_name(AttachmentState::ChecksumMismatch),
            "ChecksumVerificationOnServerSideMismatch"
        );
    }

    #[test]
    fn content_digest_yields_the_sha256_entry_only() {
        assert_eq!(sha256_entry("sha-256=:AbC=:"), Some("AbC=".into()));
        assert_eq!(
            sha256_entry("sha-512=:x:, SHA-256=:y:"),
            Some("y".into()),
            "any order, any case"
        );
        assert_eq!(sha256_entry("sha-512=:x:"), None);
        assert_eq!(sha256_entry("garbage"), None);
    }

    #[test]
    fn subject_ids_are_numbers_when_they_are() {
        assert_eq!(id_value(Some("42")), Value::from(42));
        assert_eq!(id_value(Some("m-1")), Value::from("m-1"));
        assert_eq!(id_value(None), Value::Null);
    }
}
