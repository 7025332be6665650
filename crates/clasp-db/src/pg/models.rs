//! Rows as stored, and their conversion to and from the domain's records.
//!
//! The columns have native types (`uuid`, `timestamptz`, `text[]`), so unlike
//! SQLite's rows these hold the domain's values as they are; what remains to
//! check on the way in is what the domain types are stricter about (sizes,
//! states, scopes). Inserts and updates borrow from the record.

use clasp_domain::credentials::{ApiKey, Scopes, Session};
use clasp_domain::ports::RepoError;
use clasp_domain::{Attachment, AttachmentId, AttachmentState, Message, Subject, Tenant, TenantId};
use diesel::prelude::*;
use time::OffsetDateTime;
use uuid::Uuid;

use super::schema::{api_keys, attachments, messages, sessions, tenants};
use crate::error::corrupt;

/// A stored attachment.
#[derive(Queryable, Selectable)]
#[diesel(table_name = attachments, check_for_backend(diesel::pg::Pg))]
pub(crate) struct AttachmentRow {
    number: i64,
    id: Uuid,
    tenant_id: Uuid,
    ticket_id: Option<String>,
    message_id: Option<String>,
    case_id: Option<String>,
    room_id: Option<String>,
    filename: String,
    content_type: String,
    sniffed_type: Option<String>,
    size_bytes: i64,
    sha256: Option<String>,
    declared_sha256: Option<String>,
    state: String,
    description: Option<String>,
    tags: Vec<String>,
    locale: Option<String>,
    uploaded_by: String,
    thumbnail_key: Option<String>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    upload_expires_at: Option<OffsetDateTime>,
    failure_reason: Option<String>,
}

impl AttachmentRow {
    /// The domain record, or why the row cannot be one.
    pub(crate) fn into_domain(self) -> Result<Attachment, RepoError> {
        Ok(Attachment {
            id: AttachmentId(self.id),
            number: self.number,
            tenant_id: TenantId(self.tenant_id),
            subject: Subject {
                ticket_id: self.ticket_id,
                message_id: self.message_id,
                case_id: self.case_id,
                room_id: self.room_id,
            },
            filename: self.filename,
            content_type: self.content_type,
            sniffed_type: self.sniffed_type,
            size_bytes: u64::try_from(self.size_bytes)
                .map_err(|e| corrupt("attachment size", e))?,
            sha256: self.sha256,
            declared_sha256: self.declared_sha256,
            state: AttachmentState::parse(&self.state)
                .ok_or_else(|| corrupt("attachment state", &self.state))?,
            description: self.description,
            tags: self.tags,
            locale: self.locale,
            uploaded_by: self.uploaded_by,
            thumbnail_key: self.thumbnail_key,
            upload_expires_at: self.upload_expires_at,
            failure_reason: self.failure_reason,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A new attachment row; the database assigns its `number`.
#[derive(Insertable)]
#[diesel(table_name = attachments)]
pub(crate) struct NewAttachment<'a> {
    id: Uuid,
    tenant_id: Uuid,
    #[diesel(embed)]
    fields: AttachmentFields<'a>,
}

impl<'a> NewAttachment<'a> {
    /// The row storing `a`.
    pub(crate) fn from_domain(a: &'a Attachment) -> Result<Self, RepoError> {
        Ok(Self {
            id: a.id.0,
            tenant_id: a.tenant_id.0,
            fields: AttachmentFields::from_domain(a)?,
        })
    }
}

/// Everything of an attachment but its identity (number, id, tenant): what an
/// update may change. `None` clears a column.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = attachments, treat_none_as_null = true)]
pub(crate) struct AttachmentFields<'a> {
    ticket_id: Option<&'a str>,
    message_id: Option<&'a str>,
    case_id: Option<&'a str>,
    room_id: Option<&'a str>,
    filename: &'a str,
    content_type: &'a str,
    sniffed_type: Option<&'a str>,
    size_bytes: i64,
    sha256: Option<&'a str>,
    declared_sha256: Option<&'a str>,
    state: &'static str,
    description: Option<&'a str>,
    tags: &'a [String],
    locale: Option<&'a str>,
    uploaded_by: &'a str,
    thumbnail_key: Option<&'a str>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    upload_expires_at: Option<OffsetDateTime>,
    failure_reason: Option<String>,
    kind: &'a str,
    file_format: String,
}

impl<'a> AttachmentFields<'a> {
    /// The columns storing `a`.
    pub(crate) fn from_domain(a: &'a Attachment) -> Result<Self, RepoError> {
        Ok(Self {
            ticket_id: a.subject.ticket_id.as_deref(),
            message_id: a.subject.message_id.as_deref(),
            case_id: a.subject.case_id.as_deref(),
            room_id: a.subject.room_id.as_deref(),
            filename: &a.filename,
            content_type: &a.content_type,
            sniffed_type: a.sniffed_type.as_deref(),
            size_bytes: i64::try_from(a.size_bytes)
                .map_err(|e| RepoError::Backend(format!("attachment size: {e}")))?,
            sha256: a.sha256.as_deref(),
            declared_sha256: a.declared_sha256.as_deref(),
            state: a.state.as_str(),
            description: a.description.as_deref(),
            tags: &a.tags,
            locale: a.locale.as_deref(),
            uploaded_by: &a.uploaded_by,
            thumbnail_key: a.thumbnail_key.as_deref(),
            created_at: a.created_at,
            updated_at: a.updated_at,
            upload_expires_at: a.upload_expires_at,
            failure_reason: a.failure_reason.clone(),
            kind: a.kind(),
            file_format: a.file_format(),
        })
    }
}

/// A new message row (messages are only written: their attachments carry the link).
#[derive(Insertable)]
#[diesel(table_name = messages)]
pub(crate) struct NewMessage<'a> {
    id: Uuid,
    tenant_id: Uuid,
    ticket_id: &'a str,
    body: &'a str,
    created_at: OffsetDateTime,
}

impl<'a> NewMessage<'a> {
    /// The row storing `m`.
    pub(crate) fn from_domain(m: &'a Message) -> Self {
        Self {
            id: m.id.0,
            tenant_id: m.tenant_id.0,
            ticket_id: &m.ticket_id,
            body: &m.body,
            created_at: m.created_at,
        }
    }
}

/// A stored tenant.
#[derive(Queryable, Selectable)]
#[diesel(table_name = tenants, check_for_backend(diesel::pg::Pg))]
pub(crate) struct TenantRow {
    id: Uuid,
    slug: String,
    created_at: OffsetDateTime,
}

impl TenantRow {
    /// The domain record.
    pub(crate) fn into_domain(self) -> Tenant {
        Tenant {
            id: TenantId(self.id),
            slug: self.slug,
            created_at: self.created_at,
        }
    }
}

/// A new tenant row.
#[derive(Insertable)]
#[diesel(table_name = tenants)]
pub(crate) struct NewTenant<'a> {
    id: Uuid,
    slug: &'a str,
    created_at: OffsetDateTime,
}

impl<'a> NewTenant<'a> {
    /// The row storing `t`.
    pub(crate) fn from_domain(t: &'a Tenant) -> Self {
        Self {
            id: t.id.0,
            slug: &t.slug,
            created_at: t.created_at,
        }
    }
}

/// A stored API key.
#[derive(Queryable, Selectable)]
#[diesel(table_name = api_keys, check_for_backend(diesel::pg::Pg))]
pub(crate) struct ApiKeyRow {
    id: Uuid,
    tenant_id: Uuid,
    prefix: String,
    hash: String,
    scopes: String,
    created_at: OffsetDateTime,
    revoked_at: Option<OffsetDateTime>,
}

impl ApiKeyRow {
    /// The domain record, or why the row cannot be one.
    pub(crate) fn into_domain(self) -> Result<ApiKey, RepoError> {
        Ok(ApiKey {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            prefix: self.prefix,
            hash: self.hash,
            scopes: Scopes::parse(&self.scopes).map_err(|e| corrupt("API key scopes", e))?,
            created_at: self.created_at,
            revoked_at: self.revoked_at,
        })
    }
}

/// A new API key row.
#[derive(Insertable)]
#[diesel(table_name = api_keys)]
pub(crate) struct NewApiKey<'a> {
    id: Uuid,
    tenant_id: Uuid,
    prefix: &'a str,
    hash: &'a str,
    scopes: String,
    created_at: OffsetDateTime,
    revoked_at: Option<OffsetDateTime>,
}

impl<'a> NewApiKey<'a> {
    /// The row storing `k`.
    pub(crate) fn from_domain(k: &'a ApiKey) -> Self {
        Self {
            id: k.id,
            tenant_id: k.tenant_id.0,
            prefix: &k.prefix,
            hash: &k.hash,
            scopes: k.scopes.to_list(),
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A stored session.
#[derive(Queryable, Selectable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
pub(crate) struct SessionRow {
    id: Uuid,
    tenant_id: Uuid,
    user_id: String,
    hash: String,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    revoked_at: Option<OffsetDateTime>,
}

impl SessionRow {
    /// The domain record.
    pub(crate) fn into_domain(self) -> Session {
        Session {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            user_id: self.user_id,
            hash: self.hash,
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
        }
    }
}

/// A new session row.
#[derive(Insertable)]
#[diesel(table_name = sessions)]
pub(crate) struct NewSession<'a> {
    id: Uuid,
    tenant_id: Uuid,
    user_id: &'a str,
    hash: &'a str,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    revoked_at: Option<OffsetDateTime>,
}

impl<'a> NewSession<'a> {
    /// The row storing `s`.
    pub(crate) fn from_domain(s: &'a Session) -> Self {
        Self {
            id: s.id,
            tenant_id: s.tenant_id.0,
            user_id: &s.user_id,
            hash: &s.hash,
            created_at: s.created_at,
            expires_at: s.expires_at,
            revoked_at: s.revoked_at,
        }
    }
}
