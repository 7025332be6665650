//! [`AttachmentRepository`](clasp_domain::ports::AttachmentRepository) on both
//! backends: one body of queries, expanded once per store by
//! [`attachment_repository!`], since diesel needs each backend's concrete
//! connection type to run a query.
//!
//! What differs lives with each store: how "has tag `v`" is asked (`tag_filter`),
//! how a message links its attachments in one transaction (`link_message`),
//! which connection a single-row read takes (`read_conn`), and the migrations
//! it must have.

/// The row of attachment `$id` of tenant `$tenant` (whatever its state), as
/// updates and deletes name it.
macro_rules! the_row {
    ($tenant:expr, $id:expr) => {
        diesel::QueryDsl::filter(
            diesel::QueryDsl::filter(
                $crate::schema::attachments::table,
                diesel::ExpressionMethods::eq(
                    $crate::schema::attachments::tenant_id,
                    $crate::sql::DbId($tenant.0),
                ),
            ),
            diesel::ExpressionMethods::eq(
                $crate::schema::attachments::id,
                $crate::sql::DbId($id.0),
            ),
        )
    };
}
pub(crate) use the_row;

/// Implements `AttachmentRepository` for `$store` (over backend `$backend`),
/// whose embedded migrations are `$migrations`.
macro_rules! attachment_repository {
    ($store:ty, $backend:ident, $migrations:expr) => {
        // One block, so that its imports serve every method.
        const _: () = {
            use clasp_domain::ports::{RepoError, Stored};
            use clasp_domain::{Attachment, AttachmentId, AttachmentState, ListQuery, TenantId};
            use diesel::prelude::*;
            use diesel_async::RunQueryDsl;
            use $crate::error::{changed_any, find_all, find_one};
            use $crate::models::{AttachmentFields, AttachmentRow, NewAttachment};
            use $crate::schema::attachments::dsl::*;
            use $crate::sql::{DbId, DbTime};

            /// What a lookup of one attachment answers.
            type Found = Stored<Option<Attachment>>;

            impl $store {
                /// Every attachment of every tenant, in any state, in id
                /// order, at most `limit` after `after`: what a backup (and a
                /// move to other stores) walks, a page at a time.
                pub async fn attachments_after(
                    &self,
                    after: Option<AttachmentId>,
                    limit: usize,
                ) -> Stored<Vec<Attachment>> {
                    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                    let mut query = attachments.order(id.asc()).limit(limit).into_boxed();
                    if let Some(after) = after {
                        query = query.filter(id.gt(DbId(after.0)));
                    }
                    self.load(query).await
                }

                /// The attachments `query` selects, whole.
                async fn load<'a>(
                    &self,
                    query: $crate::schema::attachments::BoxedQuery<'a, $backend>,
                ) -> Stored<Vec<Attachment>> {
                    find_all!(self, query, AttachmentRow)
                }

                /// The query of one listing page (without its select clause).
                fn page_query(
                    tenant: TenantId,
                    q: &ListQuery,
                ) -> Stored<$crate::schema::attachments::BoxedQuery<'static, $backend>> {
                    use clasp_domain::listing::{FilterField, SortKey};
                    use $crate::listing::{filtered, keyset, or_empty, stored_size};
                    let ready = attachments
                        .filter(tenant_id.eq(DbId(tenant.0)))
                        .filter(state.eq(AttachmentState::Ready.as_str()))
                        .into_boxed();
                    let query =
                        filtered!(ready, &q.filters, |v: String| Self::tag_filter(tenant, v));
                    let by_id = |i: AttachmentId| DbId(i.0);
                    let query = match &q.sort {
                        SortKey::CreatedAt(r) => keyset!(
                            query,
                            r,
                            q.order,
                            created_at,
                            id,
                            |t: &time::OffsetDateTime| Ok::<_, RepoError>(DbTime(*t)),
                            by_id
                        ),
                        SortKey::Filename(r) => keyset!(
                            query,
                            r,
                            q.order,
                            filename,
                            id,
                            |v: &String| Ok::<_, RepoError>(v.clone()),
                            by_id
                        ),
                        SortKey::Size(r) => {
                            keyset!(query, r, q.order, size_bytes, id, stored_size, by_id)
                        }
                        SortKey::UpdatedAt(r) => keyset!(
                            query,
                            r,
                            q.order,
                            updated_at,
                            id,
                            |t: &time::OffsetDateTime| Ok::<_, RepoError>(DbTime(*t)),
                            by_id
                        ),
                        SortKey::Id(r) => keyset!(
                            query,
                            r,
                            q.order,
                            id,
                            id,
                            |v: &AttachmentId| Ok::<_, RepoError>(DbId(v.0)),
                            by_id
                        ),
                        SortKey::Text(field, r) => {
                            use clasp_domain::listing::TextField as T;
                            let text = |v: &String| Ok::<_, RepoError>(v.clone());
                            match field {
                                T::ContentType => {
                                    keyset!(query, r, q.order, content_type, id, text, by_id)
                                }
                                T::Kind => keyset!(query, r, q.order, kind, id, text, by_id),
                                T::FileFormat => {
                                    keyset!(query, r, q.order, file_format, id, text, by_id)
                                }
                                T::NameWithoutExtension => {
                                    keyset!(query, r, q.order, name_stem, id, text, by_id)
                                }
                                T::CaseId => {
                                    keyset!(query, r, q.order, or_empty(case_id), id, text, by_id)
                                }
                                T::Description => {
                                    let col = or_empty(description);
                                    keyset!(query, r, q.order, col, id, text, by_id)
                                }
                                T::Locale => {
                                    keyset!(query, r, q.order, or_empty(locale), id, text, by_id)
                                }
                                T::Sha256 => {
                                    keyset!(query, r, q.order, or_empty(sha256), id, text, by_id)
                                }
                            }
                        }
                    };
                    Ok(query.limit(i64::try_from(q.limit).unwrap_or(i64::MAX)))
                }
            }

            #[async_trait::async_trait]
            impl clasp_domain::ports::AttachmentRepository for $store {
                async fn insert(&self, attachment: &Attachment) -> Stored<i64> {
                    let row = NewAttachment::from_domain(attachment)?;
                    let mut conn = self.conn().await?;
                    let (key, numbered): (i64, Option<i64>) = diesel::insert_into(attachments)
                        .values(row)
                        .returning((number, tenant_number))
                        .get_result(&mut *conn)
                        .await
                        .map_err($crate::error::query_error)?;
                    if let Some(numbered) = numbered {
                        return Ok(numbered);
                    }
                    // SQLite's trigger numbers the row after the insert, which
                    // RETURNING does not show (the migration says why).
                    let numbered: Option<i64> = attachments
                        .find(key)
                        .select(tenant_number)
                        .get_result(&mut *conn)
                        .await
                        .map_err($crate::error::query_error)?;
                    numbered.ok_or_else(|| RepoError::Backend("an attachment got no number".into()))
                }

                // The point lookups every metadata request makes are not
                // boxed: diesel then caches their prepared statement by type,
                // where a boxed query's SQL is rebuilt and hashed on every call
                // (a tenth of a metadata GET's CPU on SQLite).
                async fn get(&self, tenant: TenantId, wanted: AttachmentId) -> Found {
                    let live = $crate::attachments::the_row!(tenant, wanted)
                        .filter(state.ne(AttachmentState::Deleted.as_str()));
                    find_one!($backend, self, live, AttachmentRow)
                }

                async fn get_by_number(&self, tenant: TenantId, wanted: i64) -> Found {
                    let numbered = attachments
                        .filter(tenant_id.eq(DbId(tenant.0)))
                        .filter(tenant_number.eq(wanted))
                        .filter(state.ne(AttachmentState::Deleted.as_str()));
                    find_one!($backend, self, numbered, AttachmentRow)
                }

                async fn set_thumbnail(
                    &self,
                    tenant: TenantId,
                    wanted: AttachmentId,
                    key: &str,
                    at: time::OffsetDateTime,
                    event: Option<&clasp_domain::events::Event>,
                ) -> Stored<bool> {
                    // Only these two columns: a concurrent change of any other survives.
                    $crate::outbox::announced!(
                        self,
                        diesel::update(
                            $crate::attachments::the_row!(tenant, wanted)
                                .filter(state.eq(AttachmentState::Ready.as_str())),
                        )
                        .set((thumbnail_key.eq(key), updated_at.eq(DbTime(at)))),
                        event
                    )
                }

                async fn clear_upload_deadline(
                    &self,
                    tenant: TenantId,
                    wanted: AttachmentId,
                ) -> Stored<bool> {
                    let kept = AttachmentState::ALL.into_iter().filter(|s| s.is_kept());
                    let ready = $crate::attachments::the_row!(tenant, wanted).filter(
                        state.eq_any(kept.map(AttachmentState::as_str).collect::<Vec<_>>()),
                    );
                    let no_deadline: Option<DbTime> = None;
                    changed_any!(
                        self,
                        diesel::update(ready).set(upload_expires_at.eq(no_deadline))
                    )
                }

                async fn update(
                    &self,
                    attachment: &Attachment,
                    event: Option<&clasp_domain::events::Event>,
                ) -> Stored<bool> {
                    let changes = AttachmentFields::from_domain(attachment)?;
                    let over = attachment
                        .state
                        .written_over()
                        .into_iter()
                        .map(AttachmentState::as_str);
                    $crate::outbox::announced!(
                        self,
                        diesel::update(
                            $crate::attachments::the_row!(attachment.tenant_id, attachment.id)
                                .filter(state.eq_any(over.collect::<Vec<_>>())),
                        )
                        .set(changes),
                        event
                    )
                }

                async fn list_ready(
                    &self,
                    tenant: TenantId,
                    subject: &clasp_domain::SubjectRef,
                    limit: usize,
                ) -> Stored<Vec<Attachment>> {
                    use clasp_domain::SubjectRef;
                    // Each filter matches one of the partial indexes of the migrations.
                    let ready = attachments
                        .filter(tenant_id.eq(DbId(tenant.0)))
                        .filter(state.eq(AttachmentState::Ready.as_str()))
                        .into_boxed();
                    let of_subject = match subject {
                        SubjectRef::Ticket(v) => ready.filter(ticket_id.eq(v)),
                        SubjectRef::Message(v) => ready.filter(message_id.eq(v)),
                        SubjectRef::Case(v) => ready.filter(case_id.eq(v)),
                        SubjectRef::Room(v) => ready.filter(room_id.eq(v)),
                    };
                    // Ids sort as `Uuid`'s `Ord` does on both: PostgreSQL orders
                    // `uuid` bytewise, and lowercase hyphenated text sorts alike.
                    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                    self.load(of_subject.order((created_at.asc(), id.asc())).limit(limit))
                        .await
                }

                async fn list_page(
                    &self,
                    tenant: TenantId,
                    query: &ListQuery,
                ) -> Stored<Vec<Attachment>> {
                    self.load(Self::page_query(tenant, query)?).await
                }

                async fn delete(
                    &self,
                    tenant: TenantId,
                    wanted: AttachmentId,
                    event: Option<&clasp_domain::events::Event>,
                ) -> Stored<bool> {
                    $crate::outbox::announced!(
                        self,
                        diesel::delete($crate::attachments::the_row!(tenant, wanted)),
                        event
                    )
                }

                async fn create_message(&self, message: &clasp_domain::Message) -> Stored<bool> {
                    self.link_message(message).await
                }

                async fn expired_uploads(
                    &self,
                    before: time::OffsetDateTime,
                    limit: usize,
                ) -> Stored<Vec<Attachment>> {
                    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                    // The comparison implies `upload_expires_at IS NOT NULL`: the
                    // partial index of the migrations serves it.
                    self.load(
                        attachments
                            .filter(upload_expires_at.le(DbTime(before)))
                            .order((upload_expires_at.asc(), id.asc()))
                            .limit(limit)
                            .into_boxed(),
                    )
                    .await
                }

                async fn check_ready(&self) -> Stored<()> {
                    use $crate::readiness::{NEWEST_APPLIED, NewestApplied, require_current};
                    let mut conn = self.conn().await?;
                    let applied: NewestApplied = diesel::sql_query(NEWEST_APPLIED)
                        .get_result(&mut *conn)
                        .await
                        .map_err($crate::error::query_error)?;
                    require_current::<$backend>(&$migrations, applied.version)
                }

                async fn quota(&self, tenant: TenantId) -> Stored<clasp_domain::Quota> {
                    use $crate::schema::tenant_quotas::dsl as q;
                    let mut conn = self.conn().await?;
                    let row: Option<$crate::quota::QuotaRow> = q::tenant_quotas
                        .filter(q::tenant_id.eq(DbId(tenant.0)))
                        .select((
                            q::max_bytes,
                            q::max_attachments,
                            q::used_bytes,
                            q::used_attachments,
                        ))
                        .get_result(&mut *conn)
                        .await
                        .optional()
                        .map_err($crate::error::query_error)?;
                    $crate::quota::from_row(row)
                }

                async fn set_quota_limits(
                    &self,
                    tenant: TenantId,
                    limits: clasp_domain::QuotaLimits,
                ) -> Stored<()> {
                    use $crate::quota::limit_value;
                    use $crate::schema::tenant_quotas::dsl as q;
                    let values = (
                        q::max_bytes.eq(limit_value(limits.max_bytes)),
                        q::max_attachments.eq(limit_value(limits.max_attachments)),
                    );
                    let mut conn = self.conn().await?;
                    // Usage is the triggers' alone: a new row starts from what the
                    // tenant's attachments are charged, which is nothing only when
                    // it has none (the first insert of a tenant creates its row).
                    diesel::insert_into(q::tenant_quotas)
                        .values((q::tenant_id.eq(DbId(tenant.0)), values.0, values.1))
                        .on_conflict(q::tenant_id)
                        .do_update()
                        .set(values)
                        .execute(&mut *conn)
                        .await
                        .map_err($crate::error::query_error)?;
                    Ok(())
                }

                async fn any_of_tenant(
                    &self,
                    tenant: TenantId,
                    limit: usize,
                ) -> Stored<Vec<Attachment>> {
                    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                    let batch = attachments
                        .filter(tenant_id.eq(DbId(tenant.0)))
                        .order(number.asc())
                        .limit(limit);
                    find_all!(self, batch, AttachmentRow)
                }

                async fn forget_tenant(&self, tenant: TenantId) -> Stored<()> {
                    use $crate::schema::{messages, tenant_quotas};
                    let messages_of =
                        messages::table.filter(messages::tenant_id.eq(DbId(tenant.0)));
                    let _: bool = changed_any!(self, diesel::delete(messages_of))?;
                    let quota_of =
                        tenant_quotas::table.filter(tenant_quotas::tenant_id.eq(DbId(tenant.0)));
                    let _: bool = changed_any!(self, diesel::delete(quota_of))?;
                    Ok(())
                }
            }
        };
    };
}
pub(crate) use attachment_repository;
