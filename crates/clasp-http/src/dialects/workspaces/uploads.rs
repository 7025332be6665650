//! The two writes of the dialect that read a JSON body: starting a direct
//! upload (an upload URL for the bytes) and posting a message that links
//! confirmed attachments.

use actix_web::HttpResponse;
use actix_web::web::Data;
use clasp_domain::services::{NewDirectUpload, NewMessage};
use clasp_domain::{AttachmentId, Subject};

use super::json::{
    AttachmentJson, MessageJson, MessageRequest, PostJson, UploadUrlJson, UploadUrlRequest,
};
use super::{Caller, Ticket, Workspaces, Written};
use crate::Services;
use crate::json::seconds;
use crate::openapi::Refusals;
use crate::problem::Problem;
use crate::wire::Reply;

#[utoipa::path(post, path = "/v1/workspaces/{workspace_id}/tickets/{ticket_id}/attachments/upload-url", params(Caller, Ticket), request_body(content = super::json::UploadUrlRequest, content_type = "application/json"), responses(
    (status = 201, description = "Where and how to PUT the bytes", body = super::json::UploadUrlJson),
    (status = 413, description = "The JSON body is too large", body = super::json::ErrorJson),
    (status = 400, description = "A bad request, or no `x-workspace-id` (`missing_workspace_id`)", body = super::json::ErrorJson),
    Refusals<super::json::ErrorJson>,
))]
/// Starts a direct upload: a one-time upload URL for the bytes.
pub(super) async fn upload_url(
    w: Written<UploadUrlRequest>,
    ticket: Ticket,
    services: Data<Services>,
) -> Reply<Workspaces> {
    let (c, asked) = (w.caller, w.body);
    let begun = services
        .attachments
        .begin_upload(
            &c,
            NewDirectUpload {
                subject: Subject::ticket(ticket.to_string()),
                filename: asked.filename,
                content_type: asked.content_type,
                size: asked.size,
            },
        )
        .await?;
    let pairs = |pairs: &[(String, String)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect()
    };
    let headers = pairs(&begun.url.headers);
    let post = PostJson {
        url: begun.url.form.url.clone(),
        fields: pairs(&begun.url.form.fields),
    };
    Ok(HttpResponse::Created().json(UploadUrlJson {
        attachment_id: begun.attachment.id.0,
        upload_url: begun.url.url.clone(),
        url: begun.url.url,
        method: begun.url.method,
        headers,
        post,
        expires_at: seconds(begun.url.expires_at),
        attachment: AttachmentJson::new(&begun.attachment, &c.workspace),
    }))
}

#[utoipa::path(post, path = "/v1/workspaces/{workspace_id}/tickets/{ticket_id}/messages", params(Caller, Ticket), request_body(content = super::json::MessageRequest, content_type = "application/json"), responses(
    (status = 201, description = "The message, with its linked attachments", body = super::json::MessageJson),
    (status = 409, description = "An attachment changed meanwhile (`attachment_changed`)", body = super::json::ErrorJson),
    (status = 413, description = "The JSON body is too large", body = super::json::ErrorJson),
    (status = 422, description = "An attachment is unknown, not ready, on another ticket or already linked", body = super::json::ErrorJson),
    (status = 400, description = "A bad request, or no `x-workspace-id` (`missing_workspace_id`)", body = super::json::ErrorJson),
    Refusals<super::json::ErrorJson>,
))]
/// Posts a message on a ticket linking confirmed attachments (Clasp's addition).
pub(super) async fn post_message(
    w: Written<MessageRequest>,
    ticket: Ticket,
    services: Data<Services>,
) -> Reply<Workspaces> {
    let (c, asked) = (w.caller, w.body);
    let ids = asked
        .attachment_ids
        .iter()
        .map(|raw| {
            raw.parse::<AttachmentId>().map_err(|_| {
                Problem::bad_request(format!("{raw:?} in attachmentIds is not an attachment id"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let message = services
        .attachments
        .post_message(
            &c,
            NewMessage {
                ticket_id: ticket.to_string(),
                body: asked.body,
                attachment_ids: ids,
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(MessageJson::new(message, &c.workspace)))
}
