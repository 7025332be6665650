//! The progress of resumable uploads, in a map.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::attachment::AttachmentId;
use crate::ports::Stored;
use crate::resumable::{Progress, ResumableStore};
use crate::tenant::TenantId;

use super::lock;

/// Resumable uploads' progress by tenant and attachment.
#[derive(Default)]
pub struct MemoryResumable(Mutex<HashMap<(TenantId, AttachmentId), Progress>>);

#[async_trait]
impl ResumableStore for MemoryResumable {
    async fn begin_resumable(&self, progress: &Progress) -> Stored<()> {
        let key = (progress.tenant_id, progress.attachment_id);
        lock(&self.0).insert(key, progress.clone());
        Ok(())
    }

    async fn progress(&self, tenant: TenantId, id: AttachmentId) -> Stored<Option<Progress>> {
        Ok(lock(&self.0).get(&(tenant, id)).cloned())
    }

    async fn begin_attempt(&self, tenant: TenantId, id: AttachmentId) -> Stored<Option<u32>> {
        Ok(lock(&self.0).get_mut(&(tenant, id)).map(|p| {
            p.attempts += 1;
            p.attempts - 1
        }))
    }

    async fn advance(&self, from: &Progress, received: u64, attempt: u32) -> Stored<bool> {
        let mut all = lock(&self.0);
        match all.get_mut(&(from.tenant_id, from.attachment_id)) {
            Some(p) if p.received == from.received && p.parts == from.parts => {
                p.received = received;
                p.parts += 1;
                p.stored_by.push(attempt);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn take_back(&self, to: &Progress, received: u64) -> Stored<bool> {
        let mut all = lock(&self.0);
        match all.get_mut(&(to.tenant_id, to.attachment_id)) {
            Some(p) if p.received == received && p.parts == to.parts + 1 => {
                p.received = to.received;
                p.parts = to.parts;
                p.stored_by.clone_from(&to.stored_by);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn forget_resumable(&self, tenant: TenantId, id: AttachmentId) -> Stored<()> {
        lock(&self.0).remove(&(tenant, id));
        Ok(())
    }
}
