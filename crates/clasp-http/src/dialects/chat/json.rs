//! The `chat` dialect's JSON: the seed's metadata object with its state names,
//! its error body, and what an upload or a deletion answers.

use clasp_domain::{Attachment, AttachmentState};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// The seed's name of each domain state. A deleted attachment is never
/// served; were it, it would be the seed's failed upload.
pub(super) fn state_name(state: AttachmentState) -> &'static str {
    match state {
        AttachmentState::Pending => "Initial",
        AttachmentState::Uploading => "UploadFromClientToServerInProgress",
        AttachmentState::Verifying => "ChecksumVerificationOnServerSideInProgress",
        AttachmentState::Ready => "ReadyForDownloadFromServerToClient",
        AttachmentState::UploadFailed | AttachmentState::Deleted => {
            "UploadFromClientToServerFailed"
        }
        AttachmentState::ChecksumMismatch => "ChecksumVerificationOnServerSideMismatch",
        AttachmentState::VerificationFailed => "ChecksumVerificationOnServerSideFailed",
    }
}

/// The seed's metadata object.
#[derive(Serialize, ToSchema)]
#[schema(as = chat::Attachment)]
#[serde(rename_all = "camelCase")]
pub(super) struct AttachmentJson {
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
    pub(super) error_text: &'a str,
    pub(super) http_status_code: u16,
}

/// An error on a path both `/api/v1` dialects answer: the chat shape for
/// session requests (and numbered attachments), the `redirect` shape for Bearer
/// ones (and attachments named by UUID).
pub(crate) struct SharedError;

impl utoipa::PartialSchema for SharedError {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AnyOfBuilder, Ref};
        AnyOfBuilder::new()
            .item(Ref::from_schema_name(ErrorJson::name()))
            .item(Ref::from_schema_name(
                crate::dialects::redirect::ErrorJson::name(),
            ))
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
            crate::dialects::redirect::ErrorJson::name().into(),
            crate::dialects::redirect::ErrorJson::schema(),
        ));
    }
}

/// The success body of a deletion, as the seed shows it.
#[derive(Serialize, ToSchema)]
#[schema(as = chat::Deleted)]
#[serde(rename_all = "camelCase")]
pub(super) struct DeletedJson {
    pub(super) http_status_code: u16,
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
pub(super) struct UploadForm {
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
pub(super) struct UploadJson {
    pub(super) http_status_code: u16,
    pub(super) attachment_ids: Vec<i64>,
    pub(super) attachments: Vec<AttachmentJson>,
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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_state_served_has_its_own_seed_name() {
        let served = AttachmentState::ALL
            .into_iter()
            .filter(|s| *s != AttachmentState::Deleted);
        let names: HashSet<_> = served.clone().map(state_name).collect();
        assert_eq!(names.len(), served.count());
        assert_eq!(
            state_name(AttachmentState::ChecksumMismatch),
            "ChecksumVerificationOnServerSideMismatch"
        );
    }

    #[test]
    fn subject_ids_are_numbers_when_they_are() {
        assert_eq!(id_value(Some("42")), Value::from(42));
        assert_eq!(id_value(Some("m-1")), Value::from("m-1"));
        assert_eq!(id_value(None), Value::Null);
    }
}
