//! What a host product is told happened to its files: one [`Event`] per
//! change it cares about. The services build events and hand them to the
//! repository method that makes the change, which records them in the same
//! transaction (the outbox), so an event is never lost and never told of a
//! change that rolled back. Webhooks ([`crate::webhooks`]) carry them out.

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::attachment::{Attachment, AttachmentId, Subject};
use crate::audit::Actor;
use crate::credentials::Principal;
use crate::tenant::TenantId;

/// The kinds of event, a fixed set: what a webhook subscribes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum EventKind {
    /// An upload was verified (and scanned) and is now downloadable.
    #[serde(rename = "attachment.ready")]
    AttachmentReady,
    /// An upload that had begun was refused: its type or magic, its size, a
    /// checksum that did not match, or a virus (the reason says which).
    #[serde(rename = "attachment.rejected")]
    AttachmentRejected,
    /// A client deleted an attachment.
    #[serde(rename = "attachment.deleted")]
    AttachmentDeleted,
    /// A thumbnail of an image attachment exists.
    #[serde(rename = "attachment.thumbnail_ready")]
    ThumbnailReady,
    /// An upload did not finish by its deadline and was swept.
    #[serde(rename = "upload.abandoned")]
    UploadAbandoned,
    /// A tenant was deleted (its files are being purged).
    #[serde(rename = "tenant.deleted")]
    TenantDeleted,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 6] = [
        Self::AttachmentReady,
        Self::AttachmentRejected,
        Self::AttachmentDeleted,
        Self::ThumbnailReady,
        Self::UploadAbandoned,
        Self::TenantDeleted,
    ];

    /// The kind's wire name (`attachment.ready`): the payload's `type`, and
    /// what a webhook lists in its `events`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AttachmentReady => "attachment.ready",
            Self::AttachmentRejected => "attachment.rejected",
            Self::AttachmentDeleted => "attachment.deleted",
            Self::ThumbnailReady => "attachment.thumbnail_ready",
            Self::UploadAbandoned => "upload.abandoned",
            Self::TenantDeleted => "tenant.deleted",
        }
    }

    /// The kind named `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// One thing that happened, as webhooks deliver it (Standard Webhooks:
/// `{"type", "timestamp", "data"}`, the id in the `webhook-id` header).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Stable across every retry of every delivery: receivers deduplicate by it.
    #[serde(skip)]
    pub id: Uuid,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    /// About what, and who did it.
    pub data: EventData,
}

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventData {
    /// The tenant it happened in.
    pub tenant_id: TenantId,
    /// Who caused it: `key:<id>`, `user:<id>`, `operator` or `system`.
    pub actor: String,
    /// The dialect of the request that caused it, when a request did.
    pub dialect: Option<&'static str>,
    /// The attachment, for the `attachment.*` and `upload.*` kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<AttachmentFacts>,
}

/// An attachment as an event describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttachmentFacts {
    /// Its id.
    pub id: AttachmentId,
    /// Its number in its tenant (how the chat dialect names it).
    pub number: i64,
    /// What it hangs on: ticket, case, message, room.
    pub subject: Subject,
    /// Its filename.
    pub filename: String,
    /// Its declared media type.
    pub content_type: String,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// Its SHA-256, once known.
    pub sha256: Option<String>,
    /// Why it was refused or failed, when it was.
    pub reason: Option<String>,
}

/// Who or what caused an event, and through which dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// Who.
    pub actor: Actor,
    /// The dialect of the request, when a request caused it.
    pub dialect: Option<&'static str>,
}

impl Cause {
    /// Clasp itself: the sweeper, a background thumbnail.
    pub const SYSTEM: Cause = Cause {
        actor: Actor::System,
        dialect: None,
    };
}

impl From<&Principal> for Cause {
    fn from(principal: &Principal) -> Self {
        Self {
            actor: principal.into(),
            dialect: principal.dialect,
        }
    }
}

impl Event {
    /// A fresh event of `kind` about `attachment` as it is now, by `cause`
    /// at `at`.
    pub fn about(
        kind: EventKind,
        attachment: &Attachment,
        cause: &Cause,
        at: OffsetDateTime,
    ) -> Self {
        Self::new(
            kind,
            attachment.tenant_id,
            &cause.actor,
            cause.dialect,
            at,
            Some(AttachmentFacts {
                id: attachment.id,
                number: attachment.number,
                subject: attachment.subject.clone(),
                filename: attachment.filename.clone(),
                content_type: attachment.content_type.clone(),
                size_bytes: attachment.size_bytes,
                sha256: attachment.sha256.clone(),
                reason: attachment.failure_reason.clone(),
            }),
        )
    }

    /// A fresh `tenant.deleted` of `tenant`.
    pub fn tenant_deleted(tenant: TenantId, actor: &Actor, at: OffsetDateTime) -> Self {
        Self::new(EventKind::TenantDeleted, tenant, actor, None, at, None)
    }

    fn new(
        kind: EventKind,
        tenant_id: TenantId,
        actor: &Actor,
        dialect: Option<&'static str>,
        timestamp: OffsetDateTime,
        attachment: Option<AttachmentFacts>,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            kind,
            timestamp,
            data: EventData {
                tenant_id,
                actor: actor.to_string(),
                dialect,
                attachment,
            },
        }
    }

    /// The event's tenant.
    pub fn tenant(&self) -> TenantId {
        self.data.tenant_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_back_from_its_name() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventKind::parse("attachment.*"), None);
    }
}
