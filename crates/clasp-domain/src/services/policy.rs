//! Which upload rules are in force for a request: the instance's, with the
//! tenant's own in their place where it set any ([`TenantPolicy`]). Every
//! upload entry point scopes itself to its principal's tenant first, so a
//! dialect cannot forget to; a dialect that needs the rules before it reads
//! a body (to bound the form) scopes the service once and passes it on.

use std::borrow::Cow;

use crate::audit::{Actor, Change};
use crate::error::{IdentityError, Outcome};
use crate::policy::TenantPolicy;
use crate::services::{AttachmentService, IdentityService};
use crate::tenant::{Tenant, TenantId};

impl AttachmentService {
    /// This service with the upload rules of `tenant` in force (its
    /// [`AttachmentService::policy`]); one read of the tenant.
    pub async fn for_tenant(&self, tenant: TenantId) -> Outcome<AttachmentService> {
        Ok(self.scoped(tenant).await?.into_owned())
    }

    /// This service, scoped to `tenant` unless it already is.
    pub(super) async fn scoped(&self, tenant: TenantId) -> Outcome<Cow<'_, AttachmentService>> {
        if self.scoped_to == Some(tenant) {
            return Ok(Cow::Borrowed(self));
        }
        let own = self
            .ports
            .identities
            .tenant_by_id(tenant)
            .await?
            .map(|t| t.policy)
            .unwrap_or_default();
        Ok(Cow::Owned(AttachmentService {
            ports: self.ports.clone(),
            policy: self.instance.for_tenant(&own),
            instance: self.instance.clone(),
            scoped_to: Some(tenant),
        }))
    }
}

impl IdentityService {
    /// Replaces the upload rules of the tenant named `slug` (each `None`
    /// follows the instance from now on); returns the tenant with them.
    pub async fn set_policy(
        &self,
        slug: &str,
        policy: TenantPolicy,
    ) -> Result<Tenant, IdentityError> {
        let done: Result<Tenant, IdentityError> = async {
            let mut tenant = self.tenant(slug).await?;
            if !self
                .ports
                .identities
                .set_tenant_policy(tenant.id, &policy)
                .await?
            {
                return Err(IdentityError::UnknownTenant(slug.to_owned()));
            }
            tenant.policy = policy;
            Ok(tenant)
        }
        .await;
        self.ports.audit(
            Change::SetPolicy,
            Actor::Operator,
            done.as_ref().ok().map(|t| t.id),
            slug,
            &done,
        );
        done
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use crate::memory::MemoryPorts;
    use crate::services::{AttachmentService, IdentityService, NewUpload};
    use crate::validation::{UploadPolicy, ValidationError};
    use crate::{AttachmentError, Scopes, Subject, TenantPolicy};

    #[test]
    fn each_tenant_uploads_by_its_own_rules_and_the_others_by_the_instance() {
        let mem = MemoryPorts::new("http://x");
        let service = AttachmentService::new(mem.ports.clone(), UploadPolicy::default());
        let ids = IdentityService::new(mem.ports.clone());
        for slug in ["csv", "plain"] {
            block_on(ids.create_tenant(slug)).unwrap();
        }
        let csv_only = TenantPolicy::new(Some(&["text/csv"]), Some(16), false).unwrap();
        let set = block_on(ids.set_policy("csv", csv_only.clone())).unwrap();
        assert_eq!(set.policy, csv_only);
        assert_eq!(block_on(ids.tenant("csv")).unwrap().policy, csv_only);
        let upload = |slug: &str, name: &str, bytes: &'static [u8]| {
            let (_, key) = block_on(ids.create_api_key(slug, Scopes::ALL)).unwrap();
            let principal = block_on(ids.authenticate_api_key(&key)).unwrap();
            let new = NewUpload {
                subject: Subject::ticket("t"),
                filename: name.into(),
                ..NewUpload::default()
            };
            let body = futures::stream::iter([Ok(bytes::Bytes::from_static(bytes))]);
            block_on(service.upload(&principal, new, Box::pin(body)))
        };
        assert!(upload("csv", "a.csv", b"a,b\n1,2\n").is_ok());
        assert!(upload("plain", "a.txt", b"hello").is_ok());
        assert_eq!(
            upload("csv", "a.txt", b"hello").unwrap_err(),
            AttachmentError::Invalid(ValidationError::DisallowedType("text/plain".into()))
        );
        assert_eq!(
            upload("plain", "a.csv", b"a,b\n").unwrap_err(),
            AttachmentError::Invalid(ValidationError::DisallowedType("text/csv".into()))
        );
        assert!(matches!(
            upload("csv", "big.csv", b"a,b,c,d,e,f,g,h,i\n"),
            Err(AttachmentError::Invalid(ValidationError::TooLarge {
                limit: 16
            }))
        ));
        assert!(matches!(
            upload("csv", "bin.csv", b"a,\0b\n"),
            Err(AttachmentError::Invalid(
                ValidationError::MagicMismatch { .. }
            ))
        ));
        let scoped = block_on(service.for_tenant(set.id)).unwrap();
        assert_eq!(scoped.policy().max_bytes, 16);
        assert_eq!(
            service.policy(),
            &UploadPolicy::default(),
            "the instance keeps its rules"
        );
    }
}
