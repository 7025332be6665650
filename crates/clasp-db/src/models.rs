//! Rows as stored, on either backend, and their conversion to and from the
//! domain's records.

use clasp_domain::credentials::{ApiKey, Scopes, Session};
use clasp_domain::events::EventKind;
use clasp_domain::ports::{RepoError, Stored};
use clasp_domain::webhooks::{Delivery, DeliveryState, Webhook};
use clasp_domain::{
    Attachment, AttachmentId, AttachmentState, Message, Reach, Subject, Tenant, TenantId,
    TenantPolicy,
};
use diesel::prelude::*;

use crate::error::corrupt;
use crate::schema::{
    api_keys, attachments, messages, sessions, tenant_quotas, tenants, webhook_deliveries, webhooks,
};
use crate::sql::{DbId, DbTags, DbTime};

/// A stored attachment: its identity and its columns.
#[derive(Queryable, Selectable)]
#[diesel(table_name = attachments)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct AttachmentRow {
    tenant_number: Option<i64>,
    id: DbId,
    tenant_id: DbId,
    #[diesel(embed)]
    fields: AttachmentFields,
}

impl AttachmentRow {
    /// The domain record, or why the row cannot be one.
    pub(crate) fn into_domain(self) -> Stored<Attachment> {
        let f = self.fields;
        Ok(Attachment {
            id: AttachmentId(self.id.0),
            number: self
                .tenant_number
                .ok_or_else(|| corrupt("attachment number", "none"))?,
            tenant_id: TenantId(self.tenant_id.0),
            subject: Subject {
                ticket_id: f.ticket_id,
                message_id: f.message_id,
                case_id: f.case_id,
                room_id: f.room_id,
            },
            filename: f.filename,
            content_type: f.content_type,
            sniffed_type: f.sniffed_type,
            size_bytes: u64::try_from(f.size_bytes).map_err(|e| corrupt("attachment size", e))?,
            sha256: f.sha256,
            declared_checksum: f.declared_sha256,
            state: AttachmentState::parse(&f.state)
                .ok_or_else(|| corrupt("attachment state", &f.state))?,
            description: f.description,
            tags: f.tags.0,
            locale: f.locale,
            uploaded_by: f.uploaded_by,
            thumbnail_key: f.thumbnail_key,
            upload_expires_at: f.upload_expires_at.map(|t| t.0),
            failure_reason: f.failure_reason,
            created_at: f.created_at.0,
            updated_at: f.updated_at.0,
        })
    }
}

/// A new attachment row; the database assigns its `number` and `tenant_number`.
#[derive(Insertable)]
#[diesel(table_name = attachments)]
pub(crate) struct NewAttachment {
    id: DbId,
    tenant_id: DbId,
    #[diesel(embed)]
    fields: AttachmentFields,
}

impl NewAttachment {
    /// The row storing `a`.
    pub(crate) fn from_domain(a: &Attachment) -> Stored<Self> {
        Ok(Self {
            id: DbId(a.id.0),
            tenant_id: DbId(a.tenant_id.0),
            fields: AttachmentFields::from_domain(a)?,
        })
    }
}

/// An attachment moved from another store, with the number its tenant's
/// clients know it by (`crate::moving`).
#[derive(Insertable)]
#[diesel(table_name = attachments)]
pub(crate) struct ImportedAttachment {
    tenant_number: i64,
    id: DbId,
    tenant_id: DbId,
    #[diesel(embed)]
    fields: AttachmentFields,
}

impl ImportedAttachment {
    /// The row storing `a`, number included.
    pub(crate) fn from_domain(a: &Attachment) -> Stored<Self> {
        Ok(Self {
            tenant_number: a.number,
            id: DbId(a.id.0),
            tenant_id: DbId(a.tenant_id.0),
            fields: AttachmentFields::from_domain(a)?,
        })
    }
}

/// A tenant's quota limits and number counter, as a move carries them (its
/// usage is charged again by the target's triggers).
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = tenant_quotas)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct QuotaLimitsRow {
    tenant_id: DbId,
    max_bytes: Option<i64>,
    max_attachments: Option<i64>,
    last_number: i64,
}

impl QuotaLimitsRow {
    /// Its key, where the next page of a move starts.
    pub(crate) fn key(&self) -> uuid::Uuid {
        self.tenant_id.0
    }
}

/// Everything of an attachment but its identity (number, id, tenant): what an
/// update may change, and what a read returns beside the identity. `None`
/// clears a column.
#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = attachments, treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct AttachmentFields {
    ticket_id: Option<String>,
    message_id: Option<String>,
    case_id: Option<String>,
    room_id: Option<String>,
    filename: String,
    content_type: String,
    sniffed_type: Option<String>,
    size_bytes: i64,
    sha256: Option<String>,
    /// The domain's `declared_checksum`: a SHA-256's hex, or `md5:` and an
    /// MD5's. The column keeps the name it was created with, so that an
    /// instance of an earlier version still reads it during a rolling deploy.
    declared_sha256: Option<String>,
    state: String,
    description: Option<String>,
    tags: DbTags,
    locale: Option<String>,
    uploaded_by: String,
    thumbnail_key: Option<String>,
    created_at: DbTime,
    updated_at: DbTime,
    upload_expires_at: Option<DbTime>,
    failure_reason: Option<String>,
    kind: String,
    file_format: String,
    name_stem: String,
}

impl AttachmentFields {
    /// The columns storing `a`.
    pub(crate) fn from_domain(a: &Attachment) -> Stored<Self> {
        Ok(Self {
            ticket_id: a.subject.ticket_id.clone(),
            message_id: a.subject.message_id.clone(),
            case_id: a.subject.case_id.clone(),
            room_id: a.subject.room_id.clone(),
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            sniffed_type: a.sniffed_type.clone(),
            size_bytes: i64::try_from(a.size_bytes)
                .map_err(|e| RepoError::Backend(format!("attachment size: {e}")))?,
            sha256: a.sha256.clone(),
            declared_sha256: a.declared_checksum.clone(),
            state: a.state.as_str().to_owned(),
            description: a.description.clone(),
            tags: DbTags(a.tags.clone()),
            locale: a.locale.clone(),
            uploaded_by: a.uploaded_by.clone(),
            thumbnail_key: a.thumbnail_key.clone(),
            created_at: DbTime(a.created_at),
            updated_at: DbTime(a.updated_at),
            upload_expires_at: a.upload_expires_at.map(DbTime),
            failure_reason: a.failure_reason.clone(),
            kind: a.kind().to_owned(),
            file_format: a.file_format(),
            name_stem: a.name_without_extension().to_owned(),
        })
    }
}

/// A message row (the dialects only write them: their attachments carry the
/// link; a move to another store reads them).
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = messages)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct MessageRow {
    id: DbId,
    tenant_id: DbId,
    ticket_id: String,
    body: String,
    created_at: DbTime,
}

impl MessageRow {
    /// Its key, where the next page of a move starts.
    pub(crate) fn key(&self) -> uuid::Uuid {
        self.id.0
    }

    /// The row storing `m`.
    pub(crate) fn from_domain(m: &Message) -> Self {
        Self {
            id: DbId(m.id.0),
            tenant_id: DbId(m.tenant_id.0),
            ticket_id: m.ticket_id.clone(),
            body: m.body.clone(),
            created_at: DbTime(m.created_at),
        }
    }
}

/// A stored tenant.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = tenants)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct TenantRow {
    id: DbId,
    slug: String,
    created_at: DbTime,
    deleting_since: Option<DbTime>,
    allowed_types: Option<DbTags>,
    max_upload_bytes: Option<i64>,
}

impl TenantRow {
    /// Its key, where the next page of a move starts.
    pub(crate) fn key(&self) -> uuid::Uuid {
        self.id.0
    }

    /// The row storing `t`.
    pub(crate) fn from_domain(t: &Tenant) -> Self {
        Self {
            id: DbId(t.id.0),
            slug: t.slug.clone(),
            created_at: DbTime(t.created_at),
            deleting_since: t.deleting_since.map(DbTime),
            allowed_types: t.policy.allowed_types.clone().map(DbTags),
            // At most 5 GiB (TenantPolicy::new), far inside i64.
            max_upload_bytes: t
                .policy
                .max_upload_bytes
                .map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
        }
    }

    /// The domain record.
    pub(crate) fn into_domain(self) -> Stored<Tenant> {
        Ok(Tenant {
            id: TenantId(self.id.0),
            slug: self.slug,
            created_at: self.created_at.0,
            deleting_since: self.deleting_since.map(|t| t.0),
            policy: TenantPolicy {
                allowed_types: self.allowed_types.map(|t| t.0),
                max_upload_bytes: self
                    .max_upload_bytes
                    .map(|n| u64::try_from(n).map_err(|e| corrupt("tenant upload size", e)))
                    .transpose()?,
            },
        })
    }
}

/// A stored API key.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct ApiKeyRow {
    id: DbId,
    tenant_id: DbId,
    prefix: String,
    hash: String,
    scopes: String,
    created_at: DbTime,
    revoked_at: Option<DbTime>,
}

impl ApiKeyRow {
    /// Its key, where the next page of a move starts.
    pub(crate) fn key(&self) -> uuid::Uuid {
        self.id.0
    }

    /// The row storing `k`.
    pub(crate) fn from_domain(k: &ApiKey) -> Self {
        Self {
            id: DbId(k.id),
            tenant_id: DbId(k.tenant_id.0),
            prefix: k.prefix.clone(),
            hash: k.hash.clone(),
            scopes: k.scopes.to_list(),
            created_at: DbTime(k.created_at),
            revoked_at: k.revoked_at.map(DbTime),
        }
    }

    /// The domain record, or why the row cannot be one.
    pub(crate) fn into_domain(self) -> Stored<ApiKey> {
        Ok(ApiKey {
            id: self.id.0,
            tenant_id: TenantId(self.tenant_id.0),
            prefix: self.prefix,
            hash: self.hash,
            scopes: Scopes::parse(&self.scopes).map_err(|e| corrupt("API key scopes", e))?,
            created_at: self.created_at.0,
            revoked_at: self.revoked_at.map(|t| t.0),
        })
    }
}

/// A stored session.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct SessionRow {
    id: DbId,
    tenant_id: DbId,
    user_id: String,
    hash: String,
    created_at: DbTime,
    expires_at: DbTime,
    revoked_at: Option<DbTime>,
    rooms: DbTags,
    all_rooms: bool,
}

impl SessionRow {
    /// Its key, where the next page of a move starts.
    pub(crate) fn key(&self) -> uuid::Uuid {
        self.id.0
    }

    /// The row storing `s`.
    pub(crate) fn from_domain(s: &Session) -> Self {
        Self {
            id: DbId(s.id),
            tenant_id: DbId(s.tenant_id.0),
            user_id: s.user_id.clone(),
            hash: s.hash.clone(),
            created_at: DbTime(s.created_at),
            expires_at: DbTime(s.expires_at),
            revoked_at: s.revoked_at.map(DbTime),
            rooms: DbTags(match &s.reach {
                Reach::Rooms(rooms) => rooms.clone(),
                Reach::Own | Reach::AllRooms => Vec::new(),
            }),
            all_rooms: s.reach == Reach::AllRooms,
        }
    }

    /// The domain record.
    pub(crate) fn into_domain(self) -> Stored<Session> {
        Ok(Session {
            id: self.id.0,
            tenant_id: TenantId(self.tenant_id.0),
            user_id: self.user_id,
            hash: self.hash,
            created_at: self.created_at.0,
            expires_at: self.expires_at.0,
            revoked_at: self.revoked_at.map(|t| t.0),
            reach: match (self.all_rooms, self.rooms.0) {
                (true, _) => Reach::AllRooms,
                (false, rooms) if rooms.is_empty() => Reach::Own,
                (false, rooms) => Reach::Rooms(rooms),
            },
        })
    }
}

/// A stored webhook.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = webhooks)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct WebhookRow {
    id: DbId,
    tenant_id: DbId,
    url: String,
    events: String,
    secret: String,
    created_at: DbTime,
}

impl WebhookRow {
    /// The row of `webhook`; its kinds each between commas, so that one is
    /// found with `LIKE '%,kind,%'`.
    pub(crate) fn from_domain(webhook: &Webhook) -> Self {
        let kinds: Vec<_> = webhook.events.iter().map(|k| k.as_str()).collect();
        Self {
            id: DbId(webhook.id),
            tenant_id: DbId(webhook.tenant_id.0),
            url: webhook.url.clone(),
            events: format!(",{},", kinds.join(",")),
            secret: webhook.secret.clone(),
            created_at: DbTime(webhook.created_at),
        }
    }

    /// The domain record, or why the row cannot be one.
    pub(crate) fn into_domain(self) -> Stored<Webhook> {
        let events = self
            .events
            .split(',')
            .filter(|k| !k.is_empty())
            .map(|k| EventKind::parse(k).ok_or_else(|| corrupt("webhook event", k)))
            .collect::<Stored<_>>()?;
        Ok(Webhook {
            id: self.id.0,
            tenant_id: TenantId(self.tenant_id.0),
            url: self.url,
            events,
            secret: self.secret,
            created_at: self.created_at.0,
        })
    }
}

/// A stored delivery.
#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct DeliveryRow {
    pub(crate) event_id: DbId,
    pub(crate) webhook_id: DbId,
    tenant_id: DbId,
    event_type: String,
    url: String,
    secret: String,
    payload: String,
    attempts: i32,
    state: String,
    next_at: DbTime,
    last_status: Option<i32>,
    last_error: Option<String>,
    created_at: DbTime,
}

impl DeliveryRow {
    /// The domain record, or why the row cannot be one.
    pub(crate) fn into_domain(self) -> Stored<Delivery> {
        Ok(Delivery {
            event_id: self.event_id.0,
            webhook_id: self.webhook_id.0,
            tenant_id: TenantId(self.tenant_id.0),
            event_type: self.event_type,
            url: self.url,
            secret: self.secret,
            payload: self.payload,
            attempts: u32::try_from(self.attempts).map_err(|e| corrupt("attempts", e))?,
            state: DeliveryState::parse(&self.state)
                .ok_or_else(|| corrupt("delivery state", &self.state))?,
            next_at: self.next_at.0,
            last_status: self
                .last_status
                .map(u16::try_from)
                .transpose()
                .map_err(|e| corrupt("delivery status", e))?,
            last_error: self.last_error,
            created_at: self.created_at.0,
        })
    }
}
