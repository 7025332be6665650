//! Attachment metadata and messages in maps.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::attachment::{Attachment, AttachmentId, SubjectRef};
use crate::listing::ListQuery;
use crate::message::{Message, MessageId};
use crate::ports::{AttachmentRepository, RepoError, Stored};
use crate::quota::{Quota, QuotaLimits};
use crate::state::AttachmentState;
use crate::tenant::TenantId;

use super::faults::{Fault, Faults, injected};
use super::{MemoryOutbox, lock};
use crate::events::Event;

/// Attachment metadata and messages in maps; fails where its [`Faults`] say.
#[derive(Default)]
pub struct MemoryAttachments {
    faults: Arc<Faults>,
    outbox: Arc<MemoryOutbox>,
    rows: Mutex<HashMap<AttachmentId, Attachment>>,
    messages: Mutex<HashMap<MessageId, Message>>,
    /// The last number given in each tenant; locked after `rows`.
    last_numbers: Mutex<HashMap<TenantId, i64>>,
    /// Limits and usage by tenant; locked after `rows`, with it held, so usage
    /// changes with the rows it accounts for.
    quotas: Mutex<HashMap<TenantId, Quota>>,
}

impl MemoryAttachments {
    /// An empty store failing where `faults` say, recording events in `outbox`.
    pub fn with_faults(faults: Arc<Faults>, outbox: Arc<MemoryOutbox>) -> Self {
        Self {
            faults,
            outbox,
            ..Self::default()
        }
    }

    /// Charges `bytes` and `attachments` (either may be negative) to `tenant`.
    fn charge(&self, tenant: TenantId, bytes: i128, attachments: i128) {
        let mut quotas = lock(&self.quotas);
        let usage = &mut quotas.entry(tenant).or_default().usage;
        let shift = |v: u64, by: i128| u64::try_from(i128::from(v) + by).unwrap_or(0);
        usage.bytes = shift(usage.bytes, bytes);
        usage.attachments = shift(usage.attachments, attachments);
    }
}

#[async_trait]
impl AttachmentRepository for MemoryAttachments {
    async fn insert(&self, attachment: &Attachment) -> Stored<i64> {
        if self.faults.fire(Fault::InsertFails) {
            return Err(RepoError::Backend(injected("insert")));
        }
        let mut rows = lock(&self.rows);
        if rows.contains_key(&attachment.id) {
            return Err(RepoError::Conflict(attachment.id.to_string()));
        }
        let quota = lock(&self.quotas)
            .get(&attachment.tenant_id)
            .copied()
            .unwrap_or_default();
        if quota.admits(attachment.charged_bytes()).is_err() {
            return Err(RepoError::QuotaExceeded);
        }
        self.charge(
            attachment.tenant_id,
            i128::from(attachment.charged_bytes()),
            i128::from(attachment.counted()),
        );
        let number = {
            let mut last = lock(&self.last_numbers);
            let last = last.entry(attachment.tenant_id).or_default();
            *last += 1;
            *last
        };
        let mut row = attachment.clone();
        row.number = number;
        rows.insert(row.id, row);
        Ok(number)
    }

    async fn get(&self, tenant: TenantId, id: AttachmentId) -> Stored<Option<Attachment>> {
        Ok(lock(&self.rows)
            .get(&id)
            .filter(|a| a.tenant_id == tenant && a.state != AttachmentState::Deleted)
            .cloned())
    }

    async fn get_by_number(&self, tenant: TenantId, number: i64) -> Stored<Option<Attachment>> {
        Ok(lock(&self.rows)
            .values()
            .find(|a| {
                a.number == number && a.tenant_id == tenant && a.state != AttachmentState::Deleted
            })
            .cloned())
    }

    async fn set_thumbnail(
        &self,
        tenant: TenantId,
        id: AttachmentId,
        key: &str,
        at: OffsetDateTime,
        event: Option<&Event>,
    ) -> Stored<bool> {
        let mut rows = lock(&self.rows);
        let made = match rows.get_mut(&id) {
            Some(row) if row.tenant_id == tenant && row.is_ready() => {
                row.thumbnail_key = Some(key.to_owned());
                row.updated_at = at;
                true
            }
            _ => false,
        };
        self.outbox.record(made, event);
        Ok(made)
    }

    async fn clear_upload_deadline(&self, tenant: TenantId, id: AttachmentId) -> Stored<bool> {
        match lock(&self.rows).get_mut(&id) {
            Some(row) if row.tenant_id == tenant && row.state.is_kept() => {
                row.upload_expires_at = None;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn update(&self, attachment: &Attachment, event: Option<&Event>) -> Stored<bool> {
        if self.faults.fire(Fault::UpdateBeforeApply) {
            return Err(RepoError::Backend(injected("update before apply")));
        }
        let mut rows = lock(&self.rows);
        let written_over = attachment.state.written_over();
        let updated = match rows.get_mut(&attachment.id) {
            Some(row)
                if row.tenant_id == attachment.tenant_id && written_over.contains(&row.state) =>
            {
                let bytes =
                    i128::from(attachment.charged_bytes()) - i128::from(row.charged_bytes());
                let count = i128::from(attachment.counted()) - i128::from(row.counted());
                self.charge(row.tenant_id, bytes, count);
                let number = row.number;
                *row = attachment.clone();
                row.number = number;
                true
            }
            _ => false,
        };
        self.outbox.record(updated, event);
        if self.faults.fire(Fault::UpdateAfterApply) {
            return Err(RepoError::Backend(injected("update after apply")));
        }
        Ok(updated)
    }

    async fn list_ready(
        &self,
        tenant: TenantId,
        subject: &SubjectRef,
        limit: usize,
    ) -> Stored<Vec<Attachment>> {
        let mut found: Vec<Attachment> = lock(&self.rows)
            .values()
            .filter(|a| a.tenant_id == tenant && a.is_ready() && a.subject.matches(subject))
            .cloned()
            .collect();
        found.sort_by_key(|a| (a.created_at, a.id));
        found.truncate(limit);
        Ok(found)
    }

    async fn list_page(&self, tenant: TenantId, query: &ListQuery) -> Stored<Vec<Attachment>> {
        Ok(query.select(lock(&self.rows).values().filter(|a| a.tenant_id == tenant)))
    }

    async fn delete(
        &self,
        tenant: TenantId,
        id: AttachmentId,
        event: Option<&Event>,
    ) -> Stored<bool> {
        if self.faults.fire(Fault::RowDeleteFails) {
            return Err(RepoError::Backend(injected("row delete")));
        }
        let mut rows = lock(&self.rows);
        if rows.get(&id).is_some_and(|a| a.tenant_id == tenant) {
            if let Some(gone) = rows.remove(&id) {
                let count = -i128::from(gone.counted());
                self.charge(tenant, -i128::from(gone.charged_bytes()), count);
            }
            self.outbox.record(true, event);
            Ok(true)
        } else {
            Ok(false)
        }
    }

    async fn create_message(&self, message: &Message) -> Stored<bool> {
        // Both locks, always in this order, for the whole check-then-write.
        let mut rows = lock(&self.rows);
        let mut messages = lock(&self.messages);
        if messages.contains_key(&message.id) {
            return Err(RepoError::Conflict(message.id.to_string()));
        }
        let mut wanted = message.attachment_ids.clone();
        wanted.sort();
        wanted.dedup();
        let linkable = wanted.iter().all(|id| {
            rows.get(id).is_some_and(|a| {
                a.tenant_id == message.tenant_id
                    && a.is_ready()
                    && a.subject.ticket_id.as_deref() == Some(message.ticket_id.as_str())
                    && a.subject.message_id.is_none()
            })
        });
        if !linkable {
            return Ok(false);
        }
        for id in &wanted {
            if let Some(a) = rows.get_mut(id) {
                a.subject.message_id = Some(message.id.to_string());
                a.updated_at = message.created_at;
            }
        }
        messages.insert(message.id, message.clone());
        Ok(true)
    }

    async fn expired_uploads(
        &self,
        before: OffsetDateTime,
        limit: usize,
    ) -> Stored<Vec<Attachment>> {
        let mut found: Vec<Attachment> = lock(&self.rows)
            .values()
            .filter(|a| a.upload_expires_at.is_some_and(|at| at <= before))
            .cloned()
            .collect();
        found.sort_by_key(|a| (a.upload_expires_at, a.id));
        found.truncate(limit);
        Ok(found)
    }

    async fn check_ready(&self) -> Stored<()> {
        Ok(())
    }

    async fn quota(&self, tenant: TenantId) -> Stored<Quota> {
        Ok(lock(&self.quotas).get(&tenant).copied().unwrap_or_default())
    }

    async fn set_quota_limits(&self, tenant: TenantId, limits: QuotaLimits) -> Stored<()> {
        lock(&self.quotas).entry(tenant).or_default().limits = limits;
        Ok(())
    }

    async fn any_of_tenant(&self, tenant: TenantId, limit: usize) -> Stored<Vec<Attachment>> {
        let mut found: Vec<Attachment> = lock(&self.rows)
            .values()
            .filter(|a| a.tenant_id == tenant)
            .cloned()
            .collect();
        found.sort_by_key(|a| a.number);
        found.truncate(limit);
        Ok(found)
    }

    async fn forget_tenant(&self, tenant: TenantId) -> Stored<()> {
        lock(&self.messages).retain(|_, m| m.tenant_id != tenant);
        lock(&self.quotas).remove(&tenant);
        lock(&self.last_numbers).remove(&tenant);
        Ok(())
    }
}
