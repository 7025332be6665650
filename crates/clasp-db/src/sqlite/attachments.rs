//! [`AttachmentRepository`] on SQLite.

use async_trait::async_trait;
use clasp_domain::ports::{AttachmentRepository, RepoError};
use clasp_domain::{Attachment, AttachmentId, AttachmentState, Message, SubjectRef, TenantId};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;

use super::SqliteStore;
use super::linking::{Linking, link};
use super::models::{AttachmentFields, AttachmentRow, NewAttachment, NewMessage, to_micros};
use super::schema::attachments::dsl::*;
use crate::error::query_error;

impl SqliteStore {
    /// The attachment `query` selects, if any.
    async fn first_attachment(
        &self,
        query: super::schema::attachments::BoxedQuery<'_, diesel::sqlite::Sqlite>,
    ) -> Result<Option<Attachment>, RepoError> {
        let mut conn = self.conn().await?;
        query
            .select(AttachmentRow::as_select())
            .first(&mut *conn)
            .await
            .optional()
            .map_err(query_error)?
            .map(AttachmentRow::into_domain)
            .transpose()
    }
}

#[async_trait]
impl AttachmentRepository for SqliteStore {
    async fn insert(&self, attachment: &Attachment) -> Result<i64, RepoError> {
        let row = NewAttachment::from_domain(attachment)?;
        let mut conn = self.conn().await?;
        diesel::insert_into(attachments)
            .values(row)
            .returning(number)
            .get_result(&mut *conn)
            .await
            .map_err(query_error)
    }

    async fn get(
        &self,
        tenant: TenantId,
        wanted: AttachmentId,
    ) -> Result<Option<Attachment>, RepoError> {
        self.first_attachment(
            attachments
                .filter(tenant_id.eq(tenant.to_string()))
                .filter(id.eq(wanted.to_string()))
                .into_boxed(),
        )
        .await
    }

    async fn get_by_number(
        &self,
        tenant: TenantId,
        wanted: i64,
    ) -> Result<Option<Attachment>, RepoError> {
        self.first_attachment(
            attachments
                .filter(number.eq(wanted))
                .filter(tenant_id.eq(tenant.to_string()))
                .into_boxed(),
        )
        .await
    }

    async fn set_thumbnail(
        &self,
        tenant: TenantId,
        wanted: AttachmentId,
        key: &str,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        let at = to_micros(at)?;
        let mut conn = self.conn().await?;
        // Only these two columns: a concurrent change of any other survives.
        let changed = diesel::update(
            attachments
                .filter(tenant_id.eq(tenant.to_string()))
                .filter(id.eq(wanted.to_string()))
                .filter(state.eq(AttachmentState::Ready.as_str())),
        )
        .set((thumbnail_key.eq(key), updated_at.eq(at)))
        .execute(&mut *conn)
        .await
        .map_err(query_error)?;
        Ok(changed > 0)
    }

    async fn update(&self, attachment: &Attachment) -> Result<bool, RepoError> {
        let changes = AttachmentFields::from_domain(attachment)?;
        let mut conn = self.conn().await?;
        let changed = diesel::update(
            attachments
                .filter(tenant_id.eq(attachment.tenant_id.to_string()))
                .filter(id.eq(attachment.id.to_string())),
        )
        .set(changes)
        .execute(&mut *conn)
        .await
        .map_err(query_error)?;
        Ok(changed > 0)
    }

    async fn list_ready(
        &self,
        tenant: TenantId,
        subject: &SubjectRef,
    ) -> Result<Vec<Attachment>, RepoError> {
        // Each filter matches one of the partial indexes of the migration.
        let ready = attachments
            .filter(tenant_id.eq(tenant.to_string()))
            .filter(state.eq(AttachmentState::Ready.as_str()))
            .into_boxed();
        let of_subject = match subject {
            SubjectRef::Ticket(v) => ready.filter(ticket_id.eq(v)),
            SubjectRef::Message(v) => ready.filter(message_id.eq(v)),
            SubjectRef::Case(v) => ready.filter(case_id.eq(v)),
            SubjectRef::Room(v) => ready.filter(room_id.eq(v)),
        };
        let mut conn = self.conn().await?;
        // Ids are lowercase hyphenated UUIDs: as text they sort as the UUIDs do.
        of_subject
            .order((created_at.asc(), id.asc()))
            .select(AttachmentRow::as_select())
            .load(&mut *conn)
            .await
            .map_err(query_error)?
            .into_iter()
            .map(AttachmentRow::into_domain)
            .collect()
    }

    async fn delete(&self, tenant: TenantId, wanted: AttachmentId) -> Result<bool, RepoError> {
        let mut conn = self.conn().await?;
        let deleted = diesel::delete(
            attachments
                .filter(tenant_id.eq(tenant.to_string()))
                .filter(id.eq(wanted.to_string())),
        )
        .execute(&mut *conn)
        .await
        .map_err(query_error)?;
        Ok(deleted > 0)
    }

    async fn create_message(&self, message: &Message) -> Result<bool, RepoError> {
        let mut ids: Vec<String> = message
            .attachment_ids
            .iter()
            .map(ToString::to_string)
            .collect();
        ids.sort();
        ids.dedup();
        let linking = Linking {
            message: NewMessage::from_domain(message)?,
            tenant_id: message.tenant_id.to_string(),
            ticket_id: message.ticket_id.clone(),
            message_id: message.id.to_string(),
            at: to_micros(message.created_at)?,
            attachment_ids: ids,
        };
        let mut conn = self.conn().await?;
        conn.spawn_blocking(move |conn| link(conn, linking))
            .await
            .map_err(query_error)
    }

    async fn expired_pending(
        &self,
        before: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Attachment>, RepoError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut conn = self.conn().await?;
        // The comparison implies `upload_expires_at IS NOT NULL`: the partial
        // index of the migration serves it.
        attachments
            .filter(upload_expires_at.le(to_micros(before)?))
            .filter(state.eq(AttachmentState::Pending.as_str()))
            .order((upload_expires_at.asc(), id.asc()))
            .limit(limit)
            .select(AttachmentRow::as_select())
            .load(&mut *conn)
            .await
            .map_err(query_error)?
            .into_iter()
            .map(AttachmentRow::into_domain)
            .collect()
    }
}
