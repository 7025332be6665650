//! What PostgreSQL asks its own way: tags with `@>` on the array (its GIN index
//! serves it), key prefixes with LIKE, plans with `EXPLAIN`, and messages linked
//! in an async transaction whose UPDATE locks the rows it links.

use clasp_domain::ports::Stored;
use clasp_domain::{AttachmentState, ListQuery, Message, TenantId};
use diesel::expression::BoxableExpression;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::result::Error as QueryError;
use diesel::sql_types::Bool;
use diesel_async::pooled_connection::deadpool::Object;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::PgStore;
use crate::error::query_error;
use crate::listing::Explain;
use crate::models::{AttachmentRow, MessageRow};
use crate::schema::{api_keys, attachments, messages};
use crate::sql::{DbId, DbTags, DbTime};

crate::attachments::attachment_repository!(PgStore, Pg, super::migrations::MIGRATIONS);
crate::identities::identity_store!(PgStore);
crate::resumable::resumable_store!(PgStore);
crate::outbox::webhook_store!(PgStore, for_update, skip_locked);

/// The escape character of [`starts_with_pattern`].
const LIKE_ESCAPE: char = '\\';

/// A LIKE pattern matching exactly the strings that start with `prefix`.
///
/// LIKE is case-sensitive in PostgreSQL, as keys are, and with a literal start
/// it can use the `text_pattern_ops` index of the migration. Its metacharacters
/// (`%`, `_` and the escape character itself) are escaped, so the argument is
/// taken literally.
fn starts_with_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | LIKE_ESCAPE) {
            pattern.push(LIKE_ESCAPE);
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

diesel::infix_operator!(Contains, " @> ", backend: Pg);

impl PgStore {
    /// A connection for a single-row read: PostgreSQL has one pool for all.
    async fn read_conn(&self) -> Stored<Object<AsyncPgConnection>> {
        self.conn().await
    }

    /// "The attachment has tag `v`": `tags @> ARRAY[v]`, which the GIN index
    /// on tags serves.
    fn tag_filter(
        _tenant: TenantId,
        v: String,
    ) -> Box<dyn BoxableExpression<attachments::table, Pg, SqlType = Bool>> {
        Box::new(Contains::new(
            attachments::tags,
            DbTags(vec![v]).into_sql::<crate::sql::types::Tags>(),
        ))
    }

    /// "The key's prefix starts with `prefix`", as a LIKE the index serves.
    fn starts_with(
        prefix: &str,
    ) -> Box<dyn BoxableExpression<api_keys::table, Pg, SqlType = Bool>> {
        Box::new(
            api_keys::prefix
                .like(starts_with_pattern(prefix))
                .escape(LIKE_ESCAPE),
        )
    }

    /// Posts `message` and links its attachments, all or nothing, in one
    /// transaction: the UPDATE locks the rows it links, so a concurrent message
    /// cannot take them too.
    async fn link_message(&self, message: &Message) -> Stored<bool> {
        let mut ids: Vec<DbId> = message.attachment_ids.iter().map(|a| DbId(a.0)).collect();
        ids.sort();
        ids.dedup();
        let row = MessageRow::from_domain(message);
        let link_id = message.id.to_string();
        let mut conn = self.conn().await?;
        let outcome = conn
            .transaction(async |conn| {
                diesel::insert_into(messages::table)
                    .values(&row)
                    .execute(conn)
                    .await?;
                let linked = diesel::update(
                    attachments::table
                        .filter(attachments::tenant_id.eq(DbId(message.tenant_id.0)))
                        .filter(attachments::ticket_id.eq(&message.ticket_id))
                        .filter(attachments::state.eq(AttachmentState::Ready.as_str()))
                        .filter(attachments::message_id.is_null())
                        .filter(attachments::id.eq_any(&ids)),
                )
                .set((
                    attachments::message_id.eq(&link_id),
                    attachments::updated_at.eq(DbTime(message.created_at)),
                ))
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

    /// PostgreSQL's plan (`EXPLAIN`, one line per row) for the query that
    /// `AttachmentRepository::list_page` runs for `query`, with its values
    /// bound: to check, in benchmarks and by hand, that an index serves every
    /// listing.
    pub async fn explain_list_page(
        &self,
        tenant: TenantId,
        query: &ListQuery,
    ) -> Stored<Vec<String>> {
        let page = Self::page_query(tenant, query)?;
        Explain::<_, diesel::sql_types::Text>::new(
            "EXPLAIN ",
            page.select(AttachmentRow::as_select()),
        )
        .load(&mut *self.conn().await?)
        .await
        .map_err(query_error)
    }
}
