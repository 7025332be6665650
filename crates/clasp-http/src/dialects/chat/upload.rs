//! A chat message's files: several `files` parts, each checked as it streams,
//! all kept or none; thumbnails of the images made once the upload answered.

use actix_web::web::{self, Data};
use actix_web::{HttpRequest, HttpResponse};
use clasp_domain::services::{MAX_FILES_PER_MESSAGE, MessageFile};
use clasp_domain::{Attachment, AttachmentService, Principal};
use futures::StreamExt;
use serde::Deserialize;

use super::Chat;
use super::json::{AttachmentJson, UploadJson};
use crate::extract::Session;
use crate::form::{FieldLimits, Fields, Form, Part};
use crate::problem::Problem;
use crate::thumbnails::ThumbnailQueue;
use crate::wire::{ApiError, Reply};
use crate::{Services, body};

/// The text fields a message's form may carry besides its files (a checksum
/// per file, the room, fields Clasp ignores).
const TEXT_FIELDS: FieldLimits = FieldLimits {
    max_fields: 64,
    max_bytes: 64 * 1024,
};

/// The most bytes read of a field Clasp uses (`roomId`, `fileChecksum`).
const MAX_KNOWN_FIELD_BYTES: usize = 1024;

#[derive(Deserialize)]
struct UploadQuery {
    #[serde(rename = "roomId")]
    room_id: Option<String>,
}

/// A message or room id: the chat product's ids are integers.
fn integer_id(name: &str, raw: &str) -> Result<String, Problem> {
    raw.trim()
        .parse::<i64>()
        .map(|n| n.to_string())
        .map_err(|_| Problem::bad_request(format!("{name} must be an integer, not {raw:?}")))
}

#[utoipa::path(post, path = "/api/v1/messages/{messageId}/attachments", params(("messageId" = i64, Path, description = "The message"), ("roomId" = Option<i64>, Query, description = "The room of the message")), request_body(content = super::json::UploadForm, content_type = "multipart/form-data"), responses(
    (status = 200, description = "Every file was stored", body = super::json::UploadJson),
    (status = 400, description = "Bad form, no `files`, bad ids, bytes not of the declared type, checksum mismatch", body = super::json::ErrorJson),
    (status = 401, description = "No, unknown, expired or revoked session", body = super::json::ErrorJson),
    (status = 403, description = "The tenant's quota of bytes or attachments is used up", body = super::json::ErrorJson),
    (status = 413, description = "A file is too large", body = super::json::ErrorJson),
    (status = 415, description = "A file's type is not allowed", body = super::json::ErrorJson),
    (status = 429, description = "Too many requests for this session; see `Retry-After`", body = super::json::ErrorJson),
    (status = 422, description = "The virus scanner found malware (the signature in `errorText`); nothing is served", body = super::json::ErrorJson),
    (status = 503, description = "Too many uploads at once (see `Retry-After`), or the virus scanner gave no verdict", body = super::json::ErrorJson),
))]
/// `POST /api/v1/messages/{messageId}/attachments`: every `files` part is
/// checked as it streams; one refused file refuses them all.
pub(super) async fn upload(
    p: Session<Chat>,
    req: HttpRequest,
    services: Data<Services>,
    thumbnails: Data<ThumbnailQueue>,
    form: Form,
) -> Reply<Chat> {
    let message_id = integer_id(
        "messageId",
        req.match_info().get("messageId").unwrap_or_default(),
    )?;
    // Parsed here, not by an extractor, so that a bad query string gets this
    // dialect's error body.
    let query = web::Query::<UploadQuery>::from_query(req.query_string())
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    let room = query
        .into_inner()
        .room_id
        .map(|r| integer_id("roomId", &r))
        .transpose()?;
    let attachments = services.attachments.for_tenant(p.tenant_id).await?;
    let max = attachments.policy().max_bytes;
    body::bound_form(&req, &form, max, MAX_FILES_PER_MESSAGE as u64, TEXT_FIELDS)?;
    let size_hint = body::content_length(&req);
    let created = receive(&attachments, &p, &message_id, room, size_hint, form).await?;
    thumbnails.enqueue(&services.attachments, &created);
    Ok(HttpResponse::Ok().json(UploadJson {
        http_status_code: 200,
        attachment_ids: created.iter().map(|a| a.number).collect(),
        attachments: created.iter().map(AttachmentJson::from).collect(),
    }))
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
) -> Result<Vec<Attachment>, ApiError<Chat>> {
    let mut upload = attachments
        .message_upload(p, message_id, room.as_deref())
        .await?;
    upload.set_size_hint(size_hint);
    let mut declared: Option<String> = None;
    let mut fields = Fields::new(TEXT_FIELDS);
    let outcome: Result<(), ApiError<Chat>> = async {
        while let Some(field) = form.next().await {
            let field = field?;
            match field.name() {
                "files" => {
                    let file = MessageFile {
                        filename: field.filename(),
                        content_type: field.media_type(),
                        declared_checksum: content_digest(&field)?.or(declared.take()),
                    };
                    let name = file.filename.clone();
                    let up = &mut upload;
                    body::bridge(field, |stream| up.add(file, stream))
                        .await
                        .map_err(|e| ApiError::from(e).about(&name))?;
                }
                "fileChecksum" => {
                    declared = Some(fields.text_of_at_most(field, MAX_KNOWN_FIELD_BYTES).await?);
                }
                "roomId" => {
                    let raw = fields.text_of_at_most(field, MAX_KNOWN_FIELD_BYTES).await?;
                    upload.set_room(&integer_id("roomId", &raw)?)?;
                }
                _ => fields.skip(field).await?,
            }
        }
        if upload.is_empty() {
            return Err(Problem::bad_request("the multipart field \"files\" is required").into());
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
fn content_digest(field: &Part) -> Result<Option<String>, Problem> {
    let Some(value) = field.headers().get("content-digest") else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Problem::bad_request("Content-Digest is not ASCII"))?;
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

#[cfg(test)]
mod tests {
    use super::sha256_entry;

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
}
