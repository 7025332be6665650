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

use actix_multipart::{Field, Multipart};
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
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AttachmentJson {
    attachment_id: i64,
    attachment_state: &'static str,
    created_utc: i64,
    file_checksum: Option<String>,
    file_name: String,
    file_size: u64,
    has_thumbnail: bool,
    last_modified_utc: i64,
    room_id: Value,
    text_message_id: Value,
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
        }
    }
}

/// The answer to an upload: the seed's `httpStatusCode`, plus what was created.
#[derive(Serialize)]
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
        let mut body = serde_json::json!({
            "errorText": self.text,
            "httpStatusCode": self.status.as_u16(),
        });
        if self.both_shapes {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            body["error"] = "unauthorized".into();
            body["message"] = self.text.clone().into();
            body["code"] = self.status.as_u16().into();
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

async fn delete(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    let reply = async {
        let p = principal(&req, &services).await?;
        services
            .attachments
            .delete_numbered(&p, number(&req)?)
            .await?;
        Ok(HttpResponse::Ok().json(serde_json::json!({ "httpStatusCode": 200 })))
    }
    .await;
    finish(&req, reply)
}

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

/// `POST /api/v1/messages/{message_id}/attachments`: every `files` part is
/// checked as it streams; one refused file refuses them all.
async fn upload(
    req: HttpRequest,
    services: web::Data<Services>,
    query: web::Query<UploadQuery>,
    form: Multipart,
) -> HttpResponse {
    let reply = async {
        let p = principal(&req, &services).await?;
        let message_id = integer_id(
            "messageId",
            req.match_info().get("message_id").unwrap_or_default(),
        )?;
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
        let created = receive(&services.attachments, &p, &message_id, room, form).await?;
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
    mut form: Multipart,
) -> Result<Vec<Attachment>, ApiError> {
    let mut upload = attachments.message_upload(p, message_id, room.as_deref())?;
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
fn content_digest(field: &Field) -> Result<Option<String>, ApiError> {
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
async fn text(mut field: Field) -> Result<String, ApiError> {
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
async fn drain(mut field: Field) -> Result<(), ApiError> {
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
