//! The `workspaces` dialect's JSON: camelCase objects, the request bodies it
//! reads, and its error body.

use clasp_domain::{Attachment, Message};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::json::seconds;

/// The dialect's attachment object.
#[derive(Serialize, ToSchema)]
#[schema(as = workspaces::Attachment)]
#[serde(rename_all = "camelCase")]
pub(super) struct AttachmentJson {
    pub(super) id: Uuid,
    pub(super) workspace_id: String,
    pub(super) ticket_id: Option<String>,
    pub(super) message_id: Option<String>,
    pub(super) filename: String,
    pub(super) content_type: String,
    pub(super) size: u64,
    /// The domain state: `pending`, `uploading`, `verifying`, `ready`, or a failure.
    pub(super) status: &'static str,
    pub(super) sha256: Option<String>,
    pub(super) uploaded_by: String,
    #[schema(format = DateTime)]
    pub(super) created_at: String,
    #[schema(format = DateTime)]
    pub(super) updated_at: String,
}

impl AttachmentJson {
    pub(super) fn new(a: &Attachment, workspace: &str) -> Self {
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
            created_at: seconds(a.created_at),
            updated_at: seconds(a.updated_at),
        }
    }
}

/// The message object (Clasp's addition).
#[derive(Serialize, ToSchema)]
#[schema(as = workspaces::Message)]
#[serde(rename_all = "camelCase")]
pub(super) struct MessageJson {
    pub(super) id: Uuid,
    pub(super) workspace_id: String,
    pub(super) ticket_id: String,
    pub(super) body: String,
    pub(super) attachment_ids: Vec<Uuid>,
    #[schema(format = DateTime)]
    pub(super) created_at: String,
}

impl MessageJson {
    pub(super) fn new(m: Message, workspace: &str) -> Self {
        Self {
            id: m.id.0,
            workspace_id: workspace.to_owned(),
            ticket_id: m.ticket_id,
            body: m.body,
            attachment_ids: m.attachment_ids.into_iter().map(|a| a.0).collect(),
            created_at: seconds(m.created_at),
        }
    }
}

/// What upload-url answers.
#[derive(Serialize, ToSchema)]
#[schema(as = workspaces::UploadUrl)]
#[serde(rename_all = "camelCase")]
pub(super) struct UploadUrlJson {
    pub(super) attachment_id: Uuid,
    pub(super) upload_url: String,
    pub(super) url: String,
    pub(super) method: String,
    /// Headers the upload request must carry.
    #[schema(value_type = HashMap<String, String>)]
    pub(super) headers: serde_json::Map<String, serde_json::Value>,
    /// The same upload as a `multipart/form-data` `POST`, for clients that POST.
    pub(super) post: PostJson,
    #[schema(format = DateTime)]
    pub(super) expires_at: String,
    pub(super) attachment: AttachmentJson,
}

/// How to upload the bytes by a form `POST` instead: send every field of
/// `fields`, then the file as the field `file`, last (S3 ignores what follows
/// it), to `url`. Empty `fields` on local storage; S3's signed POST policy
/// with S3 storage.
#[derive(Serialize, ToSchema)]
#[schema(as = workspaces::UploadPost)]
pub(super) struct PostJson {
    pub(super) url: String,
    /// Form fields to send before the file.
    #[schema(value_type = HashMap<String, String>)]
    pub(super) fields: serde_json::Map<String, serde_json::Value>,
}

/// A download URL and when it stops working.
#[derive(Serialize, ToSchema)]
#[schema(as = workspaces::DownloadUrl)]
#[serde(rename_all = "camelCase")]
pub(super) struct DownloadJson {
    pub(super) url: String,
    #[schema(format = DateTime)]
    pub(super) expires_at: String,
}

/// The error body.
#[derive(Serialize, ToSchema)]
#[schema(as = workspaces::Error)]
pub(super) struct ErrorJson<'a> {
    pub(super) error: ErrorDetail<'a>,
}

/// What went wrong: a stable `code` and a `message` for people.
#[derive(Serialize, ToSchema)]
#[schema(as = workspaces::ErrorDetail)]
pub(super) struct ErrorDetail<'a> {
    pub(super) code: &'a str,
    pub(super) message: &'a str,
}

/// The body of upload-url.
#[derive(Deserialize, ToSchema)]
#[schema(as = workspaces::UploadUrlRequest)]
#[serde(rename_all = "camelCase")]
pub(super) struct UploadUrlRequest {
    pub(super) filename: String,
    pub(super) content_type: Option<String>,
    pub(super) size: u64,
}

/// The optional body of confirm.
#[derive(Deserialize, Default, ToSchema)]
#[schema(as = workspaces::ConfirmRequest)]
#[serde(rename_all = "camelCase")]
pub(super) struct ConfirmRequest {
    #[serde(rename = "s3ETag")]
    pub(super) s3_etag: Option<String>,
}

/// The body of a new message.
#[derive(Deserialize, ToSchema)]
#[schema(as = workspaces::MessageRequest)]
#[serde(rename_all = "camelCase")]
pub(super) struct MessageRequest {
    #[serde(default)]
    pub(super) body: String,
    #[serde(default)]
    pub(super) attachment_ids: Vec<String>,
}

#[derive(Deserialize)]
pub(super) struct DownloadQuery {
    pub(super) redirect: Option<String>,
}

impl super::JsonBody for UploadUrlRequest {}

impl super::JsonBody for MessageRequest {}

impl super::JsonBody for ConfirmRequest {
    /// Confirm's body may be empty: no entity tag to compare.
    fn when_empty() -> Option<Self> {
        Some(Self::default())
    }
}
