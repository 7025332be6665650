//! Posting a message and linking its attachments in one SQLite transaction.
//!
//! Synchronous diesel, run on the pooled connection's blocking thread: the
//! transaction starts with `BEGIN IMMEDIATE`, taking the write lock before it
//! reads, so a concurrent writer waits (busy timeout) instead of failing the
//! upgrade from a read lock half-way.

use diesel::prelude::*;
use diesel::result::Error as QueryError;

use crate::models::MessageRow;
use crate::schema::{attachments, messages};
use crate::sql::{DbId, DbTime};

/// What [`link`] inserts and updates, owned (it crosses to a blocking thread).
pub(crate) struct Linking {
    /// The message row.
    pub(crate) message: MessageRow,
    /// Its tenant, ticket, id and time, as stored.
    pub(crate) tenant_id: DbId,
    pub(crate) ticket_id: String,
    pub(crate) message_id: String,
    pub(crate) at: DbTime,
    /// The attachments to link, without duplicates.
    pub(crate) attachment_ids: Vec<DbId>,
}

/// Inserts the message and links every attachment, or changes nothing and
/// returns false when any of them is not a ready attachment of the message's
/// tenant and ticket on no message yet.
pub(crate) fn link(conn: &mut SqliteConnection, linking: Linking) -> QueryResult<bool> {
    let outcome = conn.immediate_transaction(|conn| {
        diesel::insert_into(messages::table)
            .values(&linking.message)
            .execute(conn)?;
        let linked = diesel::update(
            attachments::table
                .filter(attachments::tenant_id.eq(&linking.tenant_id))
                .filter(attachments::ticket_id.eq(&linking.ticket_id))
                .filter(attachments::state.eq(clasp_domain::AttachmentState::Ready.as_str()))
                .filter(attachments::message_id.is_null())
                .filter(attachments::id.eq_any(&linking.attachment_ids)),
        )
        .set((
            attachments::message_id.eq(&linking.message_id),
            attachments::updated_at.eq(linking.at),
        ))
        .execute(conn)?;
        if linked == linking.attachment_ids.len() {
            Ok(())
        } else {
            Err(QueryError::RollbackTransaction)
        }
    });
    match outcome {
        Ok(()) => Ok(true),
        Err(QueryError::RollbackTransaction) => Ok(false),
        Err(e) => Err(e),
    }
}
