//! Moving an instance's metadata into a PostgreSQL database, for `clasp
//! migrate-store`: every row of every table read a page at a time in key order
//! from either store, and inserted into the target as it was — ids, tenant
//! numbers, states, hashes, timestamps — or skipped when it is there already,
//! so that a second run after an interruption copies only what is missing.
//!
//! Quota usage is not copied: the target's triggers charge each attachment as
//! it arrives. Limits and each tenant's number counter follow last.

use std::collections::HashMap;

use clasp_domain::ports::{IdentityStore, Stored};
use clasp_domain::{Attachment, AttachmentId};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::query_error;
use crate::models::AttachmentFields;
use crate::models::{
    ApiKeyRow, ImportedAttachment, MessageRow, QuotaLimitsRow, SessionRow, TenantRow,
};
use crate::pg::PgStore;
use crate::schema::{api_keys, attachments, messages, sessions, tenant_quotas, tenants};
use crate::sql::{DbId, DbTime};
use crate::sqlite::SqliteStore;

/// The tables moved row for row (attachments go with their bytes, apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Table {
    /// Tenants, with their policies and deletions under way.
    Tenants,
    /// API keys, revoked ones included.
    ApiKeys,
    /// Chat sessions, revoked and expired ones included.
    Sessions,
    /// Messages (their attachments point at them).
    Messages,
    /// Quota limits and number counters.
    Quotas,
}

impl Table {
    /// Its name, for progress lines.
    pub fn name(self) -> &'static str {
        match self {
            Table::Tenants => "tenants",
            Table::ApiKeys => "API keys",
            Table::Sessions => "sessions",
            Table::Messages => "messages",
            Table::Quotas => "quotas",
        }
    }
}

/// One page of one table's rows, read from a store to go into another.
pub struct RowPage {
    rows: Rows,
    /// The key of its last row, where the next page starts; `None` when empty.
    pub last: Option<Uuid>,
}

enum Rows {
    Tenants(Vec<TenantRow>),
    ApiKeys(Vec<ApiKeyRow>),
    Sessions(Vec<SessionRow>),
    Messages(Vec<MessageRow>),
    Quotas(Vec<QuotaLimitsRow>),
}

/// Reads the rows of `$table` keyed after `$after`, `$limit` of them, on `$conn`.
macro_rules! page_of {
    ($conn:expr, $table:ident, $key:expr, $row:ty, $after:expr, $limit:expr) => {{
        let mut query = $table::table
            .order($key.asc())
            .limit($limit)
            .select(<$row>::as_select())
            .into_boxed();
        if let Some(after) = $after {
            query = query.filter($key.gt(DbId(after)));
        }
        query.load::<$row>($conn).await.map_err(query_error)?
    }};
}

/// A store a move reads from, whichever backend it is: what `clasp
/// migrate-store` asks of its source (and, to remove what the source no
/// longer has, of its target).
#[async_trait::async_trait]
pub trait Exporter: IdentityStore {
    /// Up to `limit` rows of `table` keyed after `after`, in key order.
    async fn export_page(&self, table: Table, after: Option<Uuid>, limit: usize)
    -> Stored<RowPage>;

    /// Every attachment of every tenant, in id order, at most `limit` after
    /// `after`.
    async fn attachments_after(
        &self,
        after: Option<AttachmentId>,
        limit: usize,
    ) -> Stored<Vec<Attachment>>;

    /// Which of `ids` are here, with when each last changed: a move skips
    /// what it has moved already, and refreshes what changed since.
    async fn existing_attachments(
        &self,
        ids: &[AttachmentId],
    ) -> Stored<HashMap<AttachmentId, OffsetDateTime>>;

    /// How many attachments there are, in any state, and their bytes: what a
    /// move has before it, for its progress.
    async fn attachment_totals(&self) -> Stored<(u64, u64)>;
}

/// The reading side, the same on both stores.
macro_rules! exporter {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl Exporter for $store {
            async fn export_page(
                &self,
                table: Table,
                after: Option<Uuid>,
                limit: usize,
            ) -> Stored<RowPage> {
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let mut conn = self.conn().await?;
                let conn = &mut *conn;
                let (rows, last) = match table {
                    Table::Tenants => {
                        let rows = page_of!(conn, tenants, tenants::id, TenantRow, after, limit);
                        let last = rows.last().map(TenantRow::key);
                        (Rows::Tenants(rows), last)
                    }
                    Table::ApiKeys => {
                        let rows = page_of!(conn, api_keys, api_keys::id, ApiKeyRow, after, limit);
                        let last = rows.last().map(ApiKeyRow::key);
                        (Rows::ApiKeys(rows), last)
                    }
                    Table::Sessions => {
                        let rows = page_of!(conn, sessions, sessions::id, SessionRow, after, limit);
                        let last = rows.last().map(SessionRow::key);
                        (Rows::Sessions(rows), last)
                    }
                    Table::Messages => {
                        let rows = page_of!(conn, messages, messages::id, MessageRow, after, limit);
                        let last = rows.last().map(MessageRow::key);
                        (Rows::Messages(rows), last)
                    }
                    Table::Quotas => {
                        let rows = page_of!(
                            conn,
                            tenant_quotas,
                            tenant_quotas::tenant_id,
                            QuotaLimitsRow,
                            after,
                            limit
                        );
                        let last = rows.last().map(QuotaLimitsRow::key);
                        (Rows::Quotas(rows), last)
                    }
                };
                Ok(RowPage { rows, last })
            }

            async fn attachments_after(
                &self,
                after: Option<AttachmentId>,
                limit: usize,
            ) -> Stored<Vec<Attachment>> {
                <$store>::attachments_after(self, after, limit).await
            }

            async fn existing_attachments(
                &self,
                ids: &[AttachmentId],
            ) -> Stored<HashMap<AttachmentId, OffsetDateTime>> {
                let mut conn = self.conn().await?;
                let wanted: Vec<DbId> = ids.iter().map(|i| DbId(i.0)).collect();
                let found: Vec<(DbId, DbTime)> = attachments::table
                    .filter(attachments::id.eq_any(wanted))
                    .select((attachments::id, attachments::updated_at))
                    .load(&mut *conn)
                    .await
                    .map_err(query_error)?;
                Ok(found
                    .into_iter()
                    .map(|(i, t)| (AttachmentId(i.0), t.0))
                    .collect())
            }

            async fn attachment_totals(&self) -> Stored<(u64, u64)> {
                use diesel::dsl::{count_star, sql};
                use diesel::sql_types::BigInt;
                let mut conn = self.conn().await?;
                // PostgreSQL sums bigints as numeric: cast back, on both.
                let total = sql::<BigInt>("CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT)");
                let (count, bytes): (i64, i64) = attachments::table
                    .select((count_star(), total))
                    .get_result(&mut *conn)
                    .await
                    .map_err(query_error)?;
                Ok((
                    u64::try_from(count).unwrap_or(0),
                    u64::try_from(bytes).unwrap_or(0),
                ))
            }
        }
    };
}

exporter!(SqliteStore);
exporter!(PgStore);

impl PgStore {
    /// Inserts the rows of `page`, or writes over the ones here what can
    /// change (a policy, a deletion begun, a revocation), so that a catch-up
    /// run carries it; how many rows were written. Quota rows set the limits,
    /// and move each tenant's counter up to the source's (never down).
    pub async fn import_page(&self, page: &RowPage) -> Stored<usize> {
        let mut conn = self.conn().await?;
        let conn = &mut *conn;
        let written = match &page.rows {
            Rows::Tenants(rows) => {
                use tenants::{allowed_types, deleting_since, id, max_upload_bytes};
                diesel::insert_into(tenants::table)
                    .values(rows)
                    .on_conflict(id)
                    .do_update()
                    .set((
                        deleting_since.eq(excluded(deleting_since)),
                        allowed_types.eq(excluded(allowed_types)),
                        max_upload_bytes.eq(excluded(max_upload_bytes)),
                    ))
                    .execute(conn)
                    .await
            }
            Rows::ApiKeys(rows) => {
                use api_keys::{id, revoked_at, scopes};
                diesel::insert_into(api_keys::table)
                    .values(rows)
                    .on_conflict(id)
                    .do_update()
                    .set((
                        scopes.eq(excluded(scopes)),
                        revoked_at.eq(excluded(revoked_at)),
                    ))
                    .execute(conn)
                    .await
            }
            Rows::Sessions(rows) => {
                use sessions::{all_rooms, expires_at, id, revoked_at, rooms};
                diesel::insert_into(sessions::table)
                    .values(rows)
                    .on_conflict(id)
                    .do_update()
                    .set((
                        expires_at.eq(excluded(expires_at)),
                        revoked_at.eq(excluded(revoked_at)),
                        rooms.eq(excluded(rooms)),
                        all_rooms.eq(excluded(all_rooms)),
                    ))
                    .execute(conn)
                    .await
            }
            Rows::Messages(rows) => {
                diesel::insert_into(messages::table)
                    .values(rows)
                    .on_conflict_do_nothing()
                    .execute(conn)
                    .await
            }
            Rows::Quotas(rows) => {
                use tenant_quotas::dsl::{last_number, max_attachments, max_bytes, tenant_id};
                diesel::insert_into(tenant_quotas::table)
                    .values(rows)
                    .on_conflict(tenant_id)
                    .do_update()
                    .set((
                        max_bytes.eq(excluded(max_bytes)),
                        max_attachments.eq(excluded(max_attachments)),
                        last_number.eq(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                            "GREATEST(tenant_quotas.last_number, excluded.last_number)",
                        )),
                    ))
                    .execute(conn)
                    .await
            }
        };
        written.map_err(query_error)
    }

    /// Inserts `batch` keeping each attachment's number (the migrations'
    /// trigger keeps a number given, and moves the tenant's counter past it);
    /// those here already are skipped. How many were new.
    pub async fn import_attachments(&self, batch: &[Attachment]) -> Stored<usize> {
        let rows = batch
            .iter()
            .map(ImportedAttachment::from_domain)
            .collect::<Stored<Vec<_>>>()?;
        let mut conn = self.conn().await?;
        diesel::insert_into(attachments::table)
            .values(&rows)
            .on_conflict_do_nothing()
            .execute(&mut *conn)
            .await
            .map_err(query_error)
    }

    /// Writes each of `changed` over its row here when the source's is newer
    /// (its state, hashes, thumbnail, description…; never its number); how
    /// many were written.
    pub async fn refresh_attachments(&self, changed: &[Attachment]) -> Stored<usize> {
        let mut conn = self.conn().await?;
        let mut written = 0;
        for a in changed {
            let row = crate::attachments::the_row!(a.tenant_id, a.id)
                .filter(attachments::updated_at.lt(DbTime(a.updated_at)));
            written += diesel::update(row)
                .set(AttachmentFields::from_domain(a)?)
                .execute(&mut *conn)
                .await
                .map_err(query_error)?;
        }
        Ok(written)
    }
}
