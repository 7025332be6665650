//! The attachment record and the subjects it hangs on.

use serde::Serialize;
use time::OffsetDateTime;

use crate::state::{AttachmentState, InvalidTransition};
use crate::tenant::TenantId;

/// Declares a public identifier: a UUID v7 (so ids sort by creation time),
/// made fresh by `new`, written and parsed as the UUID's text.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }
    };
}
pub(crate) use uuid_id;

uuid_id! {
    /// An attachment's public identifier.
    AttachmentId
}

/// The host-product records an attachment hangs on. Their ids belong to the host
/// product; Clasp records them as it first sees them, inside the tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Subject {
    /// The ticket (tickets and workspaces dialects).
    pub ticket_id: Option<String>,
    /// The message (chat and workspaces dialects), possibly inside a ticket or room.
    pub message_id: Option<String>,
    /// The case (cases dialect).
    pub case_id: Option<String>,
    /// The chat room.
    pub room_id: Option<String>,
}

/// One subject to list by or to check membership in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectRef {
    /// Attachments of a ticket.
    Ticket(String),
    /// Attachments of a message.
    Message(String),
    /// Attachments of a case.
    Case(String),
    /// Attachments of a room.
    Room(String),
}

impl Subject {
    /// The ticket `id`, and nothing else: what the `tickets` and `workspaces`
    /// dialects hang attachments on.
    pub fn ticket(id: impl Into<String>) -> Self {
        Self {
            ticket_id: Some(id.into()),
            ..Self::default()
        }
    }

    /// Whether this subject is (or lies within) `r`.
    pub fn matches(&self, r: &SubjectRef) -> bool {
        let (field, want) = match r {
            SubjectRef::Ticket(v) => (&self.ticket_id, v),
            SubjectRef::Message(v) => (&self.message_id, v),
            SubjectRef::Case(v) => (&self.case_id, v),
            SubjectRef::Room(v) => (&self.room_id, v),
        };
        field.as_deref() == Some(want.as_str())
    }
}

/// A file someone attached, with everything Clasp knows about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attachment {
    /// Public id.
    pub id: AttachmentId,
    /// A tenant-independent integer id, assigned by the repository on insert
    /// (the `chat` dialect addresses attachments by number).
    pub number: i64,
    /// Owner; nothing crosses tenants.
    pub tenant_id: TenantId,
    /// What the attachment hangs on.
    pub subject: Subject,
    /// Sanitised original filename.
    pub filename: String,
    /// The declared (and allow-listed) media type, without parameters.
    pub content_type: String,
    /// The type recognised from the bytes' magic, when any.
    pub sniffed_type: Option<String>,
    /// Exact size of the stored bytes (declared size while pending).
    pub size_bytes: u64,
    /// Lowercase hex SHA-256 of the stored bytes, once known.
    pub sha256: Option<String>,
    /// The checksum the client declared, when it did, as
    /// [`parse_checksum`](crate::validation::parse_checksum) reads it: a
    /// SHA-256's lowercase hex, or [`MD5_PREFIX`](crate::validation::MD5_PREFIX)
    /// and an MD5's (replaced by the SHA-256 once the bytes match it).
    pub declared_checksum: Option<String>,
    /// Life-cycle state.
    pub state: AttachmentState,
    /// Free text from the uploader.
    pub description: Option<String>,
    /// Tags from the uploader.
    pub tags: Vec<String>,
    /// Locale from the uploader (e.g. `en_US`).
    pub locale: Option<String>,
    /// Who uploaded it: an API key id or a session's user id.
    pub uploaded_by: String,
    /// Blob key of a thumbnail, when one was made.
    pub thumbnail_key: Option<String>,
    /// The deadline the sweeper acts on: when an unfinished upload counts as
    /// abandoned (swept with its bytes), when a confirmed or failed direct
    /// upload's URL stops working (its staged object is then deleted a last
    /// time and this cleared), or when a `Deleted` tombstone is due. `None`
    /// when there is nothing left to sweep.
    pub upload_expires_at: Option<OffsetDateTime>,
    /// Why the attachment ended in a failed state (e.g. `infected:
    /// Eicar-Test-Signature`), for clients and operators; `None` otherwise.
    pub failure_reason: Option<String>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

impl Attachment {
    /// A new `Pending` attachment of `tenant_id` on `subject`, named and typed,
    /// of no bytes yet, by `uploaded_by` at `now`: what every upload starts as
    /// (and what adapters' tests build their rows from).
    pub fn pending(
        tenant_id: TenantId,
        subject: Subject,
        (filename, content_type): (String, String),
        uploaded_by: String,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id: AttachmentId::new(),
            number: 0,
            tenant_id,
            subject,
            filename,
            content_type,
            sniffed_type: None,
            size_bytes: 0,
            sha256: None,
            declared_checksum: None,
            state: AttachmentState::Pending,
            description: None,
            tags: Vec::new(),
            locale: None,
            uploaded_by,
            thumbnail_key: None,
            upload_expires_at: None,
            failure_reason: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Where the bytes live in the blob store: tenant-prefixed, so a tenant's bytes
    /// can be listed or purged together and never collide with another's.
    pub fn blob_key(&self) -> String {
        format!("{}/{}", self.tenant_id, self.id)
    }

    /// Where the bytes of a direct upload land before they are verified: apart
    /// from [`Attachment::blob_key`], so that nothing a client sends to its upload
    /// URL (even after confirming) can ever replace verified bytes. Confirm copies
    /// the bytes from here to the blob key while checking them, then deletes this.
    /// Every staged object is under `uploads/`, outside the tenants' prefixes, so
    /// one bucket lifecycle rule can expire whatever of them is left (README).
    pub fn upload_key(&self) -> String {
        format!("uploads/{}/{}", self.tenant_id, self.id)
    }

    /// The objects that hold this attachment once stored: its bytes, and its
    /// thumbnail if it has one. What deleting, backing up or moving it must
    /// reach (a direct upload's staged object, [`Attachment::upload_key`], is
    /// apart).
    pub fn object_keys(&self) -> impl Iterator<Item = String> + '_ {
        std::iter::once(self.blob_key()).chain(self.thumbnail_key.clone())
    }

    /// Where the thumbnail of an image goes in the blob store: beside the
    /// original, under the same tenant prefix.
    pub fn thumbnail_blob_key(&self) -> String {
        format!("{}/thumbnails/{}", self.tenant_id, self.id)
    }

    /// Moves to `to` if the state machine allows it, stamping `updated_at`.
    pub fn transition(
        &mut self,
        to: AttachmentState,
        at: OffsetDateTime,
    ) -> Result<(), InvalidTransition> {
        self.state = self.state.transition(to)?;
        self.updated_at = at;
        Ok(())
    }

    /// The media type's top-level type (`image` of `image/png`): a coarse
    /// category clients filter listings by.
    pub fn kind(&self) -> &str {
        self.content_type
            .split_once('/')
            .map_or(self.content_type.as_str(), |(kind, _)| kind)
    }

    /// The filename's extension after its last dot, in ASCII lowercase (`pdf`),
    /// or empty without a dot: the file format clients filter listings by.
    /// Adapters store it beside the filename so the filter can use an index.
    pub fn file_format(&self) -> String {
        self.filename
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_ascii_lowercase())
            .unwrap_or_default()
    }

    /// The filename without its last dot and extension (all of it without a dot).
    pub fn name_without_extension(&self) -> &str {
        self.filename
            .rsplit_once('.')
            .map_or(self.filename.as_str(), |(stem, _)| stem)
    }

    /// Only ready attachments are shown to clients and downloaded.
    pub fn is_ready(&self) -> bool {
        self.state == AttachmentState::Ready
    }
}
