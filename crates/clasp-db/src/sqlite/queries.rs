//! What SQLite asks its own way: tags through the `attachment_tags` table the
//! triggers keep, key prefixes with GLOB, plans with `EXPLAIN QUERY PLAN`, and
//! messages linked in a transaction that takes the write lock first.

use clasp_domain::ports::Stored;
use clasp_domain::{ListQuery, Message, TenantId};
use diesel::expression::BoxableExpression;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Text};
use diesel::sqlite::Sqlite;
use diesel_async::RunQueryDsl;

use super::SqliteStore;
use super::linking::{Linking, link};
use crate::error::query_error;
use crate::listing::Explain;
use crate::models::{AttachmentRow, MessageRow};
use crate::schema::{api_keys, attachment_tags, attachments};
use crate::sql::{DbId, DbTime};

crate::attachments::attachment_repository!(SqliteStore, Sqlite, super::connection::MIGRATIONS);
crate::identities::identity_store!(SqliteStore);
crate::resumable::resumable_store!(SqliteStore);
crate::outbox::webhook_store!(SqliteStore);

diesel::infix_operator!(Glob, " GLOB ", backend: Sqlite);

/// A GLOB pattern matching exactly the strings that start with `prefix`.
///
/// GLOB rather than LIKE: it is case-sensitive, as keys are, and SQLite turns a
/// GLOB whose pattern starts with literal characters into a range scan of the
/// `prefix` index. Its metacharacters are escaped as one-character sets, so the
/// argument is taken literally (`%` and `_` mean nothing to GLOB at all).
fn starts_with_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        match c {
            '*' => pattern.push_str("[*]"),
            '?' => pattern.push_str("[?]"),
            '[' => pattern.push_str("[[]"),
            other => pattern.push(other),
        }
    }
    pattern.push('*');
    pattern
}

impl SqliteStore {
    /// "The attachment has tag `v`": its number among the tag's rows, which
    /// the `(tenant_id, tag, number)` key serves.
    fn tag_filter(
        tenant: TenantId,
        v: String,
    ) -> Box<dyn BoxableExpression<attachments::table, Sqlite, SqlType = Bool>> {
        Box::new(
            attachments::number.eq_any(
                attachment_tags::table
                    .filter(attachment_tags::tenant_id.eq(DbId(tenant.0)))
                    .filter(attachment_tags::tag.eq(v))
                    .select(attachment_tags::number),
            ),
        )
    }

    /// "The key's prefix starts with `prefix`", as a GLOB the index serves.
    fn starts_with(
        prefix: &str,
    ) -> Box<dyn BoxableExpression<api_keys::table, Sqlite, SqlType = Bool>> {
        Box::new(Glob::new(
            api_keys::prefix,
            starts_with_pattern(prefix).into_sql::<Text>(),
        ))
    }

    /// Posts `message` and links its attachments, all or nothing.
    async fn link_message(&self, message: &Message) -> Stored<bool> {
        let mut ids: Vec<DbId> = message.attachment_ids.iter().map(|a| DbId(a.0)).collect();
        ids.sort();
        ids.dedup();
        let linking = Linking {
            message: MessageRow::from_domain(message),
            tenant_id: DbId(message.tenant_id.0),
            ticket_id: message.ticket_id.clone(),
            message_id: message.id.to_string(),
            at: DbTime(message.created_at),
            attachment_ids: ids,
        };
        let mut conn = self.conn().await?;
        conn.spawn_blocking(move |conn| link(conn, linking))
            .await
            .map_err(query_error)
    }

    /// Whether a commit waits until it is synced to disk (`synchronous =
    /// FULL`), as [`SqliteStore::open`] asks and `open_with(url, false)` does
    /// not: for operators' checks and tests of the durability setting.
    pub async fn syncs_commits(&self) -> Stored<bool> {
        let mut conn = self.conn().await?;
        let level: i32 = diesel::select(diesel::dsl::sql::<Integer>(
            "(SELECT synchronous FROM pragma_synchronous)",
        ))
        .get_result(&mut *conn)
        .await
        .map_err(query_error)?;
        Ok(level >= 2)
    }

    /// SQLite's plan (`EXPLAIN QUERY PLAN`, one line per step) for the query
    /// that `AttachmentRepository::list_page` runs for `query`: to check, in
    /// benchmarks and by hand, that an index serves every listing.
    pub async fn explain_list_page(
        &self,
        tenant: TenantId,
        query: &ListQuery,
    ) -> Stored<Vec<String>> {
        let page = Self::page_query(tenant, query)?.select(AttachmentRow::as_select());
        let steps: Vec<(i32, i32, i32, String)> =
            Explain::<_, (Integer, Integer, Integer, Text)>::new("EXPLAIN QUERY PLAN ", page)
                .load(&mut *self.conn().await?)
                .await
                .map_err(query_error)?;
        Ok(steps.into_iter().map(|(_, _, _, detail)| detail).collect())
    }
}
