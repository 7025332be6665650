//! Rows as stored, and their conversion to and from the domain's records.

use clasp_domain::credentials::{ApiKey, Scopes, Session};
use clasp_domain::{Attachment, AttachmentId, AttachmentState, Message, Subject, Tenant, TenantId};
use diesel::prelude::*;
use time::OffsetDateTime;
use uuid::Uuid;

use super::schema::{api_keys, attachments, messages, sessions, tenants};
use crate::error::corrupt;
use clasp_domain::ports::RepoError;

/// Microseconds since the Unix epoch: the stored form of every timestamp.
pub(crate) fn to_micros(at: OffsetDateTime) -> Result<i64, RepoError> {
    i64::try_from(at.unix_timestamp_nanos().div_euclid(1_000)).map_err(|_| corrupt("timestamp", at))
}

/// The inverse of [`to_micros`], in UTC.
pub(crate) fn from_micros(micros: i64) -> Result<OffsetDateTime, RepoError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|e| corrupt("timestamp", e))
}

fn uuid(what: &str, text: &str) -> Result<Uuid, RepoError> {
    Uuid::parse_str(text).map_err(|e| corrupt(what, format_args!("{text:?}: {e}")))
}

fn opt_micros(at: Option<OffsetDateTime>) -> Result<Option<i64>, RepoError> {
    at.map(to_micros).transpose()
}

fn opt_time(micros: Option<i64>) -> Result<Option<OffsetDateTime>, RepoError> {
    micros.map(from_micros).transpose()
}

/// A stored attachment.
#[derive(Queryable, Selectable)]
#[diesel(table_name = attachments, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct AttachmentRow {
    number: i64,
    id: String,
    tenant_id: String,
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
    tags: String,
    locale: Option<String>,
    uploaded_by: String,
    thumbnail_key: Option<String>,
    created_at: i64,
    updated_at: i64,
    upload_expires_at: Option<i64>,
    failure_reason: Option<String>,
}

impl AttachmentRow {
    /// The domain record, or why the row cannot be one.
    pub(crate) fn into_domain(self) -> Result<Attachment, RepoError> {
        Ok(Attachment {
            id: AttachmentId(uuid("attachment id", &self.id)?),
            number: self.number,
            tenant_id: TenantId(uuid("tenant id", &self.tenant_id)?),
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
            tags: serde_json::from_str(&self.tags).map_err(|e| corrupt("attachment tags", e))?,
            locale: self.locale,
            uploaded_by: self.uploaded_by,
            thumbnail_key: self.thumbnail_key,
            upload_expires_at: opt_time(self.upload_expires_at)?,
            failure_reason: self.failure_reason,
            created_at: from_micros(self.created_at)?,
            updated_at: from_micros(self.updated_at)?,
        })
    }
}

/// A new attachment row; the database assigns its `number`.
#[derive(Insertable)]
#[diesel(table_name = attachments)]
pub(crate) struct NewAttachment {
    id: String,
    tenant_id: String,
    #[diesel(embed)]
    fields: AttachmentFields,
}

impl NewAttachment {
    /// The row storing `a`.
    pub(crate) fn from_domain(a: &Attachment) -> Result<Self, RepoError> {
        Ok(Self {
            id: a.id.to_string(),
            tenant_id: a.tenant_id.to_string(),
            fields: AttachmentFields::from_domain(a)?,
        })
    }
}

/// Everything of an attachment but its identity (number, id, tenant): what an
/// update may change. `None` clears a column.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = attachments, treat_none_as_null = true)]
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
    declared_sha256: Option<String>,
    state: &'static str,
    description: Option<String>,
    tags: String,
    locale: Option<String>,
    uploaded_by: String,
    thumbnail_key: Option<String>,
    created_at: i64,
    updated_at: i64,
    upload_expires_at: Option<i64>,
    failure_reason: Option<String>,
    kind: String,
    file_format: String,
}

impl AttachmentFields {
    /// The columns storing `a`.
    pub(crate) fn from_domain(a: &Attachment) -> Result<Self, RepoError> {
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
            declared_sha256: a.declared_sha256.clone(),
            state: a.state.as_str(),
            description: a.description.clone(),
            tags: serde_json::to_string(&a.tags)
                .map_err(|e| RepoError::Backend(format!("attachment tags: {e}")))?,
            locale: a.locale.clone(),
            uploaded_by: a.uploaded_by.clone(),
            thumbnail_key: a.thumbnail_key.clone(),
            created_at: to_micros(a.created_at)?,
            updated_at: to_micros(a.updated_at)?,
            upload_expires_at: opt_micros(a.upload_expires_at)?,
            failure_reason: a.failure_reason.clone(),
            kind: a.kind().to_owned(),
            file_format: a.file_format(),
        })
    }
}

/// A new message row (messages are only written: their attachments carry the link).
#[derive(Insertable)]
#[diesel(table_name = messages)]
pub(crate) struct NewMessage {
    id: String,
    tenant_id: String,
    ticket_id: String,
    body: String,
    created_at: i64,
}

impl NewMessage {
    /// The row storing `m`.
    pub(crate) fn from_domain(m: &Message) -> Result<Self, RepoError> {
        Ok(Self {
            id: m.id.to_string(),
            tenant_id: m.tenant_id.to_string(),
            ticket_id: m.ticket_id.clone(),
            body: m.body.clone(),
            created_at: to_micros(m.created_at)?,
        })
    }
}

/// A stored tenant.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = tenants, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct TenantRow {
    id: String,
    slug: String,
    created_at: i64,
}

impl TenantRow {
    /// The row storing `t`.
    pub(crate) fn from_domain(t: &Tenant) -> Result<Self, RepoError> {
        Ok(Self {
            id: t.id.to_string(),
            slug: t.slug.clone(),
            created_at: to_micros(t.created_at)?,
        })
    }

    /// The domain record, or why the row cannot be one.
    pub(crate) fn into_domain(self) -> Result<Tenant, RepoError> {
        Ok(Tenant {
            id: TenantId(uuid("tenant id", &self.id)?),
            slug: self.slug,
            created_at: from_micros(self.created_at)?,
        })
    }
}

/// A stored API key.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct ApiKeyRow {
    id: String,
    tenant_id: String,
    prefix: String,
    hash: String,
    scopes: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl ApiKeyRow {
    /// The row storing `k`.
    pub(crate) fn from_domain(k: &ApiKey) -> Result<Self, RepoError> {
        Ok(Self {
            id: k.id.to_string(),
            tenant_id: k.tenant_id.to_string(),
            prefix: k.prefix.clone(),
            hash: k.hash.clone(),
            scopes: k.scopes.to_list(),
            created_at: to_micros(k.created_at)?,
            revoked_at: opt_micros(k.revoked_at)?,
        })
    }

    /// The domain record, or why the row cannot be one.
    pub(crate) fn into_domain(self) -> Result<ApiKey, RepoError> {
        Ok(ApiKey {
            id: uuid("API key id", &self.id)?,
            tenant_id: TenantId(uuid("tenant id", &self.tenant_id)?),
            prefix: self.prefix,
            hash: self.hash,
            scopes: Scopes::parse(&self.scopes).map_err(|e| corrupt("API key scopes", e))?,
            created_at: from_micros(self.created_at)?,
            revoked_at: opt_time(self.revoked_at)?,
        })
    }
}

/// A stored session.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct SessionRow {
    id: String,
    tenant_id: String,
    user_id: String,
    hash: String,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
}

impl SessionRow {
    /// The row storing `s`.
    pub(crate) fn from_domain(s: &Session) -> Result<Self, RepoError> {
        Ok(Self {
            id: s.id.to_string(),
            tenant_id: s.tenant_id.to_string(),
            user_id: s.user_id.clone(),
            hash: s.hash.clone(),
            created_at: to_micros(s.created_at)?,
            expires_at: to_micros(s.expires_at)?,
            revoked_at: opt_micros(s.revoked_at)?,
        })
    }

    /// The domain record, or why the row cannot be one.
    pub(crate) fn into_domain(self) -> Result<Session, RepoError> {
        Ok(Session {
            id: uuid("session id", &self.id)?,
            tenant_id: TenantId(uuid("tenant id", &self.tenant_id)?),
            user_id: self.user_id,
            hash: self.hash,
            created_at: from_micros(self.created_at)?,
            expires_at: from_micros(self.expires_at)?,
            revoked_at: opt_time(self.revoked_at)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_keep_microseconds_before_and_after_the_epoch() {
        for micros in [0, 1, -1, 1_750_000_000_123_456, -86_400_000_001] {
            let at = from_micros(micros).unwrap();
            assert_eq!(to_micros(at).unwrap(), micros);
        }
        let at = OffsetDateTime::UNIX_EPOCH - time::Duration::nanoseconds(1_500);
        assert_eq!(to_micros(at).unwrap(), -2, "sub-microseconds round down");
    }
}
