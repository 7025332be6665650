//! [`AttachmentRepository`] on PostgreSQL.

use async_trait::async_trait;
use clasp_domain::listing::{FilterField, ListQuery, SortKey};
use clasp_domain::ports::{AttachmentRepository, RepoError};
use clasp_domain::quota::{Quota, QuotaLimits};
use clasp_domain::{Attachment, AttachmentId, AttachmentState, Message, SubjectRef, TenantId};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::result::Error as QueryError;
use diesel_async::{AsyncConnection, RunQueryDsl};
use time::OffsetDateTime;
use uuid::Uuid;

use super::PgStore;
use super::models::{AttachmentFields, AttachmentRow, NewAttachment, NewMessage};
use super::schema::attachments::dsl::*;
use super::schema::messages;
use crate::error::{found, query_error};
use crate::listing::{Explain, filtered, keyset, stored_size};
use crate::quota::{self, QuotaRow};
use crate::readiness::{NEWEST_APPLIED, NewestApplied, require_current};

impl PgStore {
    /// PostgreSQL's plan (`EXPLAIN`, one line per row) for the query that
    /// [`AttachmentRepository::list_page`] runs for `query`, with its values
    /// bound: to check, in benchmarks and by hand, that an index serves every
    /// listing.
    pub async fn explain_list_page(
        &self,
        tenant: TenantId,
        query: &ListQuery,
    ) -> Result<Vec<String>, RepoError> {
        let page = page_query(tenant, query)?.select(AttachmentRow::as_select());
        let mut conn = self.conn().await?;
        Explain::<_, diesel::sql_types::Text>::new("EXPLAIN ", page)
            .load(&mut *conn)
            .await
            .map_err(query_error)
    }
}

impl PgStore {
    /// The attachments `query` selects, whole.
    async fn load<'a>(
        &self,
        query: super::schema::attachments::BoxedQuery<'a, Pg>,
    ) -> Result<Vec<Attachment>, RepoError> {
        let mut conn = self.conn().await?;
        query
            .select(AttachmentRow::as_select())
            .load(&mut *conn)
            .await
            .map_err(query_error)?
            .into_iter()
            .map(AttachmentRow::into_domain)
            .collect()
    }
}

/// The query of one listing page (without its select clause).
fn page_query(
    tenant: TenantId,
    q: &ListQuery,
) -> Result<super::schema::attachments::BoxedQuery<'static, Pg>, RepoError> {
    let ready = attachments
        .filter(tenant_id.eq(tenant.0))
        .filter(state.eq(AttachmentState::Ready.as_str()))
        .into_boxed();
    // `@>`, which the GIN index on tags serves
    let query = filtered!(ready, &q.filters, |v: String| tags.contains(vec![v]));
    let uuid_id = |i: AttachmentId| i.0;
    let query = match &q.sort {
        SortKey::CreatedAt(r) => keyset!(
            query,
            r,
            q.order,
            created_at,
            id,
            |t: &OffsetDateTime| Ok::<_, RepoError>(*t),
            uuid_id
        ),
        SortKey::Filename(r) => keyset!(
            query,
            r,
            q.order,
            filename,
            id,
            |v: &String| Ok::<_, RepoError>(v.clone()),
            uuid_id
        ),
        SortKey::Size(r) => keyset!(query, r, q.order, size_bytes, id, stored_size, uuid_id),
    };
    Ok(query.limit(i64::try_from(q.limit).unwrap_or(i64::MAX)))
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
        let mut conn = self.conn().await?;
        found(
            attachments
                .filter(tenant_id.eq(tenant.0))
                .filter(id.eq(wanted.0))
                .select(AttachmentRow::as_select())
                .get_result(&mut *conn)
                .await,
            AttachmentRow::into_domain,
        )
    }

    async fn get_by_number(
        &self,
        tenant: TenantId,
        wanted: i64,
    ) -> Result<Option<Attachment>, RepoError> {
        let mut conn = self.conn().await?;
        found(
            attachments
                .filter(number.eq(wanted))
                .filter(tenant_id.eq(tenant.0))
                .select(AttachmentRow::as_select())
                .get_result(&mut *conn)
                .await,
            AttachmentRow::into_domain,
        )
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
        // PostgreSQL orders `uuid` bytewise, as `Uuid`'s `Ord` does.
        self.load(of_subject.order((created_at.asc(), id.asc())))
            .await
    }

    async fn list_page(
        &self,
        tenant: TenantId,
        query: &ListQuery,
    ) -> Result<Vec<Attachment>, RepoError> {
        self.load(page_query(tenant, query)?).await
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

    async fn expired_uploads(
        &self,
        before: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Attachment>, RepoError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // The comparison implies `upload_expires_at IS NOT NULL`: the partial
        // index of the migration serves it.
        self.load(
            attachments
                .filter(upload_expires_at.le(before))
                .filter(state.eq_any([
                    AttachmentState::Pending.as_str(),
                    AttachmentState::Uploading.as_str(),
                ]))
                .order((upload_expires_at.asc(), id.asc()))
                .limit(limit)
                .into_boxed(),
        )
        .await
    }

    async fn check_ready(&self) -> Result<(), RepoError> {
        let mut conn = self.conn().await?;
        let applied: NewestApplied = diesel::sql_query(NEWEST_APPLIED)
            .get_result(&mut *conn)
            .await
            .map_err(query_error)?;
        require_current::<diesel::pg::Pg>(&super::migrations::MIGRATIONS, applied.version)
    }

    async fn quota(&self, tenant: TenantId) -> Result<Quota, RepoError> {
        use super::schema::tenant_quotas::dsl as q;
        let mut conn = self.conn().await?;
        let row: Option<QuotaRow> = q::tenant_quotas
            .filter(q::tenant_id.eq(tenant.0))
            .select((
                q::max_bytes,
                q::max_attachments,
                q::used_bytes,
                q::used_attachments,
            ))
            .get_result(&mut *conn)
            .await
            .optional()
            .map_err(query_error)?;
        quota::from_row(row)
    }

    async fn set_quota_limits(
        &self,
        tenant: TenantId,
        limits: QuotaLimits,
    ) -> Result<(), RepoError> {
        use super::schema::tenant_quotas::dsl as q;
        let values = (
            q::max_bytes.eq(quota::limit_value(limits.max_bytes)),
            q::max_attachments.eq(quota::limit_value(limits.max_attachments)),
        );
        let mut conn = self.conn().await?;
        // Usage is the triggers' alone: a new row starts from what the
        // tenant's attachments are charged, which is nothing only when it has
        // none (the first insert of a tenant creates its row).
        diesel::insert_into(q::tenant_quotas)
            .values((q::tenant_id.eq(tenant.0), values.0, values.1))
            .on_conflict(q::tenant_id)
            .do_update()
            .set(values)
            .execute(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(())
    }
}
