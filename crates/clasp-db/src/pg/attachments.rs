//! [`AttachmentRepository`] on PostgreSQL.

use async_trait::async_trait;
use clasp_domain::ports::{AttachmentRepository, RepoError};
use clasp_domain::{Attachment, AttachmentId, AttachmentState, Message, SubjectRef, TenantId};
use diesel::prelude::*;
use diesel::result::Error as QueryError;
use diesel_async::{AsyncConnection, RunQueryDsl};
use time::OffsetDateTime;
use uuid::Uuid;

use super::PgStore;
use super::models::{AttachmentFields, AttachmentRow, NewAttachment, NewMessage};
use super::schema::attachments::dsl::*;
use super::schema::messages;
use crate::error::query_error;

impl PgStore {
    /// The attachment `query` selects, if any.
    async fn first_attachment(
        &self,
        query: super::schema::attachments::BoxedQuery<'_, diesel::pg::Pg>,
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
impl AttachmentRepository for PgStore {
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
                .filter(tenant_id.eq(tenant.0))
                .filter(id.eq(wanted.0))
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
                .filter(tenant_id.eq(tenant.0))
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
        let mut conn = self.conn().await?;
        // Only these two columns: a concurrent change of any other survives.
        let changed = diesel::update(
            attachments
                .filter(tenant_id.eq(tenant.0))
                .filter(id.eq(wanted.0))
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
                .filter(tenant_id.eq(attachment.tenant_id.0))
                .filter(id.eq(attachment.id.0)),
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
            .filter(tenant_id.eq(tenant.0))
            .filter(state.eq(AttachmentState::Ready.as_str()))
            .into_boxed();
        let of_subject = match subject {
            SubjectRef::Ticket(v) => ready.filter(ticket_id.eq(v)),
            SubjectRef::Message(v) => ready.filter(message_id.eq(v)),
            SubjectRef::Case(v) => ready.filter(case_id.eq(v)),
            SubjectRef::Room(v) => ready.filter(room_id.eq(v)),
        };
        let mut conn = self.conn().await?;
        // PostgreSQL orders `uuid` bytewise, as `Uuid`'s `Ord` does.
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
                .filter(tenant_id.eq(tenant.0))
                .filter(id.eq(wanted.0)),
        )
        .execute(&mut *conn)
        .await
        .map_err(query_error)?;
        Ok(deleted > 0)
    }

    async fn create_message(&self, message: &Message) -> Result<bool, RepoError> {
        let mut ids: Vec<Uuid> = message.attachment_ids.iter().map(|a| a.0).collect();
        ids.sort();
        ids.dedup();
        let row = NewMessage::from_domain(message);
        let link_id = message.id.to_string();
        let mut conn = self.conn().await?;
        // One transaction: the message, then every link or none. The UPDATE
        // locks the rows it links, so a concurrent message cannot take them too.
        let outcome = conn
            .transaction(async |conn| {
                diesel::insert_into(messages::table)
                    .values(&row)
                    .execute(conn)
                    .await?;
                let linked = diesel::update(
                    attachments
                        .filter(tenant_id.eq(message.tenant_id.0))
                        .filter(ticket_id.eq(&message.ticket_id))
                        .filter(state.eq(AttachmentState::Ready.as_str()))
                        .filter(message_id.is_null())
                        .filter(id.eq_any(&ids)),
                )
                .set((message_id.eq(&link_id), updated_at.eq(message.created_at)))
                .execute(conn)
                .await?;
                if linked == ids.len() {
                    Ok(())
                } else {
                    Err(QueryError::RollbackTransaction)
                }
            })
            .await;
        match outcome {
            Ok(()) => Ok(true),
            Err(QueryError::RollbackTransaction) => Ok(false),
            Err(e) => Err(query_error(e)),
        }
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
            .filter(upload_expires_at.le(before))
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
