//! Messages on a ticket, and the attachments they carry.
//!
//! The `workspaces` dialect uploads attachments to a ticket first and then posts
//! a message that names them; linking makes each attachment part of the message
//! (its subject gains the message id), so it lists under the message and, as
//! before, under the ticket.

use serde::Serialize;
use time::OffsetDateTime;

use crate::attachment::AttachmentId;
use crate::tenant::TenantId;

crate::attachment::uuid_id! {
    /// A message's public identifier.
    MessageId
}

/// A message posted on a ticket, with the attachments it links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// Public id; the `message_id` its attachments carry is its string form.
    pub id: MessageId,
    /// Owner; a message links only its own tenant's attachments.
    pub tenant_id: TenantId,
    /// The ticket it is posted on; it links only that ticket's attachments.
    pub ticket_id: String,
    /// The text of the message.
    pub body: String,
    /// The attachments it carries, in the order the client gave them.
    pub attachment_ids: Vec<AttachmentId>,
    /// When it was posted.
    pub created_at: OffsetDateTime,
}
