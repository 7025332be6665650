//! [`ResumableStore`](clasp_domain::resumable::ResumableStore) on both
//! backends ([`resumable_store!`]): one row per upload in progress, moved on
//! compare-and-set.

/// Implements `ResumableStore` for `$store`.
macro_rules! resumable_store {
    ($store:ty) => {
        const _: () = {
            use clasp_domain::ports::{RepoError, Stored};
            use clasp_domain::resumable::Progress;
            use clasp_domain::{AttachmentId, TenantId};
            use diesel::prelude::*;
            use diesel_async::RunQueryDsl;
            use $crate::error::{changed_any, query_error};
            use $crate::schema::resumable_uploads as r;
            use $crate::sql::DbId;

            fn stored(n: u64) -> Stored<i64> {
                i64::try_from(n).map_err(|e| RepoError::Backend(e.to_string()))
            }

            /// `stored_by` as the column keeps it: attempt numbers, comma-separated.
            fn attempts_text<'a>(attempts: impl Iterator<Item = &'a u32>) -> String {
                attempts.map(u32::to_string).collect::<Vec<_>>().join(",")
            }

            fn corrupt(e: impl std::fmt::Display) -> RepoError {
                $crate::error::corrupt("upload progress", e)
            }

            fn the_upload(
                tenant: TenantId,
                id: AttachmentId,
            ) -> diesel::dsl::Filter<
                diesel::dsl::Filter<r::table, diesel::dsl::Eq<r::attachment_id, DbId>>,
                diesel::dsl::Eq<r::tenant_id, DbId>,
            > {
                r::table
                    .filter(r::attachment_id.eq(DbId(id.0)))
                    .filter(r::tenant_id.eq(DbId(tenant.0)))
            }

            #[async_trait::async_trait]
            impl clasp_domain::resumable::ResumableStore for $store {
                async fn begin_resumable(&self, progress: &Progress) -> Stored<()> {
                    let mut conn = self.conn().await?;
                    diesel::insert_into(r::table)
                        .values((
                            r::attachment_id.eq(DbId(progress.attachment_id.0)),
                            r::tenant_id.eq(DbId(progress.tenant_id.0)),
                            r::length.eq(stored(progress.length)?),
                            r::received.eq(stored(progress.received)?),
                            r::parts.eq(i32::try_from(progress.parts).unwrap_or(i32::MAX)),
                        ))
                        .execute(&mut *conn)
                        .await
                        .map_err(query_error)?;
                    Ok(())
                }

                async fn progress(
                    &self,
                    tenant: TenantId,
                    id: AttachmentId,
                ) -> Stored<Option<Progress>> {
                    let mut conn = self.conn().await?;
                    let row: Option<(i64, i64, i32, i32, String)> = the_upload(tenant, id)
                        .select((r::length, r::received, r::parts, r::attempts, r::stored_by))
                        .get_result(&mut *conn)
                        .await
                        .optional()
                        .map_err(query_error)?;
                    row.map(|(length, received, parts, attempts, stored_by)| {
                        let stored_by = stored_by
                            .split(',')
                            .filter(|n| !n.is_empty())
                            .map(str::parse)
                            .collect::<Result<Vec<u32>, _>>()
                            .map_err(corrupt)?;
                        Ok(Progress {
                            tenant_id: tenant,
                            attachment_id: id,
                            length: u64::try_from(length).map_err(corrupt)?,
                            received: u64::try_from(received).map_err(corrupt)?,
                            parts: u32::try_from(parts).map_err(corrupt)?,
                            attempts: u32::try_from(attempts).map_err(corrupt)?,
                            stored_by,
                        })
                    })
                    .transpose()
                }

                async fn begin_attempt(
                    &self,
                    tenant: TenantId,
                    id: AttachmentId,
                ) -> Stored<Option<u32>> {
                    let mut conn = self.conn().await?;
                    let attempts: Option<i32> = diesel::update(the_upload(tenant, id))
                        .set(r::attempts.eq(r::attempts + 1))
                        .returning(r::attempts)
                        .get_result(&mut *conn)
                        .await
                        .optional()
                        .map_err(query_error)?;
                    attempts
                        .map(|n| u32::try_from(n - 1).map_err(corrupt))
                        .transpose()
                }

                async fn advance(
                    &self,
                    from: &Progress,
                    received: u64,
                    attempt: u32,
                ) -> Stored<bool> {
                    let parts = i32::try_from(from.parts).unwrap_or(i32::MAX);
                    changed_any!(
                        self,
                        diesel::update(
                            the_upload(from.tenant_id, from.attachment_id)
                                .filter(r::received.eq(stored(from.received)?))
                                .filter(r::parts.eq(parts)),
                        )
                        .set((
                            r::received.eq(stored(received)?),
                            r::parts.eq(parts + 1),
                            r::stored_by.eq(attempts_text(from.stored_by.iter().chain([&attempt]))),
                        ))
                    )
                }

                async fn take_back(&self, to: &Progress, received: u64) -> Stored<bool> {
                    let parts = i32::try_from(to.parts).unwrap_or(i32::MAX);
                    changed_any!(
                        self,
                        diesel::update(
                            the_upload(to.tenant_id, to.attachment_id)
                                .filter(r::received.eq(stored(received)?))
                                .filter(r::parts.eq(parts.saturating_add(1))),
                        )
                        .set((
                            r::received.eq(stored(to.received)?),
                            r::parts.eq(parts),
                            r::stored_by.eq(attempts_text(to.stored_by.iter())),
                        ))
                    )
                }

                async fn forget_resumable(&self, tenant: TenantId, id: AttachmentId) -> Stored<()> {
                    let _: bool = changed_any!(self, diesel::delete(the_upload(tenant, id)))?;
                    Ok(())
                }
            }
        };
    };
}
pub(crate) use resumable_store;
