//! Deleting a tenant: every attachment's bytes and row, its messages, quota,
//! keys and sessions. Its credentials are revoked first, so nothing of it is
//! reachable from the moment the deletion begins; the purge then runs batch by
//! batch, each object deleted before the row that points to it, so a purge cut
//! off anywhere (a crash included) leaves no bytes that nothing points to and
//! is resumed from the tenant's mark ([`AttachmentService::resume_tenant_deletions`]).

use crate::audit::{Actor, Change};
use crate::error::{IdentityError, Outcome};
use crate::events::Event;
use crate::services::AttachmentService;
use crate::tenant::{Tenant, TenantId};

/// Attachments one batch of a purge deletes.
pub const PURGE_BATCH: usize = 200;

impl AttachmentService {
    /// Begins deleting the tenant `slug` (or finds its deletion begun): its
    /// keys and sessions stop working now. Returns the tenant to purge.
    pub async fn begin_tenant_deletion(&self, slug: &str) -> Result<Tenant, IdentityError> {
        let done: Result<Tenant, IdentityError> = async {
            let tenant = self
                .ports
                .identities
                .tenant_by_slug(slug)
                .await?
                .ok_or_else(|| IdentityError::UnknownTenant(slug.to_owned()))?;
            let now = self.ports.clock.now();
            // Told once: a deletion resumed (or asked for again) is no news.
            let deleted = tenant
                .deleting_since
                .is_none()
                .then(|| Event::tenant_deleted(tenant.id, &Actor::Operator, now));
            self.ports
                .identities
                .begin_tenant_deletion(tenant.id, now, deleted.as_ref())
                .await?;
            Ok(tenant)
        }
        .await;
        self.ports.audit(
            Change::DeleteTenant,
            Actor::Operator,
            done.as_ref().ok().map(|t| t.id),
            slug,
            &done,
        );
        done
    }

    /// Purges at most `batches` batches of [`PURGE_BATCH`] attachments of the
    /// tenant being deleted, and the tenant itself once none is left; whether
    /// it is gone. An object that cannot be deleted stops the purge, keeping
    /// its row, for the next attempt.
    pub async fn purge_tenant(&self, tenant: TenantId, batches: usize) -> Outcome<bool> {
        let done = self.purge_batches(tenant, batches).await;
        // Recorded once the tenant is gone, or when a batch fails.
        if !matches!(done, Ok(false)) {
            self.ports.audit(
                Change::PurgeTenant,
                Actor::System,
                Some(tenant),
                tenant.to_string(),
                &done,
            );
        }
        done
    }

    /// [`AttachmentService::purge_tenant`], before its audit record.
    async fn purge_batches(&self, tenant: TenantId, batches: usize) -> Outcome<bool> {
        for _ in 0..batches {
            let batch = self
                .ports
                .attachments
                .any_of_tenant(tenant, PURGE_BATCH)
                .await?;
            if batch.is_empty() {
                self.ports.attachments.forget_tenant(tenant).await?;
                self.ports.identities.delete_tenant(tenant).await?;
                return Ok(true);
            }
            for attachment in batch {
                self.remove_bytes(&attachment).await?;
                self.ports
                    .attachments
                    .delete(tenant, attachment.id, None)
                    .await?;
            }
        }
        Ok(false)
    }

    /// Finishes every tenant deletion begun and not finished (a purge a crash
    /// or a restart cut off, or one left to run after its request answered);
    /// returns how many tenants are gone now.
    pub async fn resume_tenant_deletions(&self) -> Outcome<usize> {
        let mut finished = 0;
        for tenant in self.ports.identities.tenants_being_deleted().await? {
            self.finish_tenant_purge(tenant.id).await?;
            finished += 1;
        }
        Ok(finished)
    }

    /// Purges the tenant being deleted to the end, one batch at a time so
    /// that other work interleaves; stops at the first failure, which a later
    /// [`AttachmentService::resume_tenant_deletions`] takes up.
    pub async fn finish_tenant_purge(&self, tenant: TenantId) -> Outcome<()> {
        while !self.purge_tenant(tenant, 1).await? {}
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use crate::memory::{Fault, MemoryPorts};
    use crate::services::{AttachmentService, IdentityService, NewUpload};
    use crate::validation::UploadPolicy;
    use crate::{AuthError, Reach, Scopes, Subject};

    #[test]
    fn a_deleted_tenant_loses_its_credentials_at_once_and_everything_once_purged() {
        let mem = MemoryPorts::new("http://x");
        let service = AttachmentService::new(mem.ports.clone(), UploadPolicy::default());
        let ids = IdentityService::new(mem.ports.clone());
        block_on(ids.create_tenant("gone")).unwrap();
        block_on(ids.create_tenant("kept")).unwrap();
        let (_, key) = block_on(ids.create_api_key("gone", Scopes::ALL)).unwrap();
        let (_, kept_key) = block_on(ids.create_api_key("kept", Scopes::ALL)).unwrap();
        let hour = time::Duration::hours(1);
        let (_, cookie) = block_on(ids.create_session("gone", "u", hour, Reach::Own)).unwrap();
        let upload = |key: &str| {
            let principal = block_on(ids.authenticate_api_key(key)).unwrap();
            let new = NewUpload {
                subject: Subject::ticket("t"),
                filename: "a.txt".into(),
                content_type: Some("text/plain".into()),
                ..NewUpload::default()
            };
            let body = futures::stream::iter([Ok(bytes::Bytes::from_static(b"hello"))]);
            block_on(service.upload(&principal, new, Box::pin(body))).unwrap()
        };
        let mine: Vec<_> = (0..3).map(|_| upload(&key)).collect();
        let theirs = upload(&kept_key);
        assert_eq!(mem.blobs.len(), 4);

        let tenant = block_on(service.begin_tenant_deletion("gone")).unwrap();
        assert_eq!(
            block_on(ids.authenticate_api_key(&key)),
            Err(AuthError::Revoked)
        );
        assert_eq!(
            block_on(ids.authenticate_session(&cookie)),
            Err(AuthError::Revoked)
        );
        mem.faults.arm(Fault::BlobDeleteFails);
        assert!(
            block_on(service.purge_tenant(tenant.id, 1)).is_err(),
            "a failing store stops it"
        );
        assert_eq!(mem.blobs.len(), 4, "no row lost its bytes' trace");
        assert_eq!(block_on(service.resume_tenant_deletions()).unwrap(), 1);
        assert_eq!(mem.blobs.len(), 1, "only the other tenant's bytes are left");
        assert!(matches!(
            block_on(ids.tenant("gone")),
            Err(crate::IdentityError::UnknownTenant(_))
        ));
        assert!(block_on(ids.authenticate_api_key(&kept_key)).is_ok());
        assert!(block_on(service.resume_tenant_deletions()).unwrap() == 0);
        assert!(mine.iter().all(|a| a.tenant_id == tenant.id) && theirs.tenant_id != tenant.id);
    }
}
