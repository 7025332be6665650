//! Quotas in the services: reserving before bytes are accepted, explaining a
//! refusal, and the admin's view and settings (rules in [`crate::quota`]).

use crate::attachment::Attachment;
use crate::audit::{Actor, Change};
use crate::error::{AttachmentError, IdentityError, Outcome};
use crate::ports::RepoError;
use crate::quota::{Quota, QuotaExceeded, QuotaKind, QuotaLimits, stream_reservation};
use crate::services::{AttachmentService, IdentityService};
use crate::tenant::Tenant;
use crate::validation::ValidationError;

/// A change of a tenant's limits: `None` keeps a limit, `Some(None)` lifts it,
/// `Some(Some(n))` sets it to `n`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaChange {
    /// The most bytes.
    pub max_bytes: Option<Option<u64>>,
    /// The most attachments.
    pub max_attachments: Option<Option<u64>>,
}

impl AttachmentService {
    /// Records `attachment`, charged to its tenant's quota; a quota that does
    /// not admit it is a [`AttachmentError::QuotaExceeded`] saying which limit.
    pub(super) async fn insert_charged(&self, attachment: &Attachment) -> Outcome<i64> {
        match self.ports.attachments.insert(attachment).await {
            Err(RepoError::QuotaExceeded) => Err(self.refusal(attachment).await),
            other => Ok(other?),
        }
    }

    /// Records `attachment`, whose bytes are about to stream in, reserving of its
    /// tenant's quota what [`stream_reservation`] allows (`hint`: the request's
    /// `Content-Length`) as its `size_bytes` until it settles to the real size;
    /// when that does not fit, once more with just the bytes left. The body may
    /// then not pass `size_bytes` (see [`AttachmentService::overflow`]).
    pub(super) async fn insert_streamed(
        &self,
        attachment: &mut Attachment,
        hint: Option<u64>,
    ) -> Outcome<()> {
        let max = self.policy.max_bytes;
        attachment.size_bytes = stream_reservation(max, hint, None).unwrap_or(0);
        match self.ports.attachments.insert(attachment).await {
            Ok(number) => {
                attachment.number = number;
                return Ok(());
            }
            Err(RepoError::QuotaExceeded) => {}
            Err(e) => return Err(e.into()),
        }
        let quota = self.ports.attachments.quota(attachment.tenant_id).await?;
        let Some(left) = stream_reservation(max, hint, quota.remaining_bytes()) else {
            return Err(explain(&quota, 1).into());
        };
        attachment.size_bytes = left;
        attachment.number = self.insert_charged(attachment).await?;
        Ok(())
    }

    /// What a body that passed the cap `limit` of its `attachment` is refused
    /// for: the policy's largest file, or — when the cap was a reservation below
    /// it — the tenant's quota.
    pub(super) async fn overflow(&self, attachment: &Attachment, limit: u64) -> AttachmentError {
        if limit >= self.policy.max_bytes {
            return ValidationError::TooLarge { limit }.into();
        }
        match self.ports.attachments.quota(attachment.tenant_id).await {
            Ok(quota) => {
                let used = quota.usage.bytes.saturating_sub(limit);
                let limit_bytes = quota.limits.max_bytes.unwrap_or(limit);
                QuotaExceeded {
                    kind: QuotaKind::Bytes,
                    limit: limit_bytes,
                    used,
                    requested: limit.saturating_add(1),
                }
                .into()
            }
            Err(e) => e.into(),
        }
    }

    /// Why the quota refused `attachment`, as read just after the refusal.
    async fn refusal(&self, attachment: &Attachment) -> AttachmentError {
        match self.ports.attachments.quota(attachment.tenant_id).await {
            Ok(quota) => explain(&quota, attachment.charged_bytes()).into(),
            Err(e) => e.into(),
        }
    }
}

/// The limit `quota` breaks for one more attachment of `bytes` — or, when it
/// changed meanwhile and would admit it, the limit nearest to being broken.
fn explain(quota: &Quota, bytes: u64) -> QuotaExceeded {
    quota.admits(bytes).err().unwrap_or_else(|| {
        match (quota.limits.max_attachments, quota.limits.max_bytes) {
            (Some(limit), _) if quota.usage.attachments + 1 >= limit => QuotaExceeded {
                kind: QuotaKind::Attachments,
                limit,
                used: quota.usage.attachments,
                requested: 1,
            },
            (_, max) => QuotaExceeded {
                kind: QuotaKind::Bytes,
                limit: max.unwrap_or(quota.usage.bytes),
                used: quota.usage.bytes,
                requested: bytes,
            },
        }
    })
}

impl IdentityService {
    /// The quota of the tenant named `slug`: limits and usage.
    pub async fn quota(&self, slug: &str) -> Result<(Tenant, Quota), IdentityError> {
        let tenant = self.tenant(slug).await?;
        let quota = self.ports.attachments.quota(tenant.id).await?;
        Ok((tenant, quota))
    }

    /// Changes the limits of the tenant named `slug` as `change` says; returns
    /// its quota afterwards. Limits below the usage are allowed: they refuse new
    /// attachments until enough are deleted.
    pub async fn set_quota(
        &self,
        slug: &str,
        change: QuotaChange,
    ) -> Result<(Tenant, Quota), IdentityError> {
        let done: Result<(Tenant, Quota), IdentityError> = async {
            let tenant = self.tenant(slug).await?;
            let current = self.ports.attachments.quota(tenant.id).await?.limits;
            let limits = QuotaLimits {
                max_bytes: change.max_bytes.unwrap_or(current.max_bytes),
                max_attachments: change.max_attachments.unwrap_or(current.max_attachments),
            };
            self.ports
                .attachments
                .set_quota_limits(tenant.id, limits)
                .await?;
            let quota = self.ports.attachments.quota(tenant.id).await?;
            Ok((tenant, quota))
        }
        .await;
        self.ports.audit(
            Change::SetQuota,
            Actor::Operator,
            done.as_ref().ok().map(|(t, _)| t.id),
            slug,
            &done,
        );
        done
    }
}

#[cfg(test)]
mod tests;
