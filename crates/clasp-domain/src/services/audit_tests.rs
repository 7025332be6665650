//! The audit trail the services keep, read back from [`MemoryAudit`]: one
//! record per change, refusals included, naming the tenant, actor and object,
//! and never a secret.

use bytes::Bytes;
use futures::executor::block_on;

use crate::attachment::Subject;
use crate::audit::{Actor, AuditRecord, Change};
use crate::credentials::Scopes;
use crate::inspect::{BodyError, BodyStream};
use crate::memory::MemoryPorts;
use crate::services::{AttachmentService, IdentityService, Lookup, NewUpload, QuotaChange};
use crate::validation::UploadPolicy;

fn body(data: &'static [u8]) -> BodyStream {
    Box::pin(futures::stream::iter([Ok::<_, BodyError>(
        Bytes::from_static(data),
    )]))
}

fn upload(name: &str, content_type: &str) -> NewUpload {
    NewUpload {
        subject: Subject {
            ticket_id: Some("T-1".into()),
            ..Subject::default()
        },
        filename: name.into(),
        content_type: Some(content_type.into()),
        ..NewUpload::default()
    }
}

fn last(mem: &MemoryPorts) -> AuditRecord {
    mem.audit.records().pop().expect("a record")
}

#[test]
fn every_change_is_recorded_with_its_outcome() {
    let mem = MemoryPorts::new("http://x");
    let service = AttachmentService::new(mem.ports.clone(), UploadPolicy::default());
    let ids = IdentityService::new(mem.ports.clone());

    let tenant = block_on(ids.create_tenant("acme")).unwrap();
    assert_eq!(
        last(&mem),
        AuditRecord {
            change: Change::CreateTenant,
            actor: Actor::Operator,
            tenant: Some(tenant.id),
            object: "acme".into(),
            outcome: Ok(()),
        }
    );
    let refused = block_on(ids.create_tenant("acme"));
    assert!(refused.is_err());
    let record = last(&mem);
    assert_eq!(record.change, Change::CreateTenant);
    assert!(record.outcome.is_err(), "{record:?}");

    let (key, secret) = block_on(ids.create_api_key("acme", Scopes::ALL)).unwrap();
    assert_eq!(last(&mem).object, key.id.to_string());
    let writer = block_on(ids.authenticate_api_key(&secret)).unwrap();

    let ready =
        block_on(service.upload(&writer, upload("a.txt", "text/plain"), body(b"hello"))).unwrap();
    assert_eq!(
        last(&mem),
        AuditRecord {
            change: Change::Upload,
            actor: Actor::Key(key.id),
            tenant: Some(tenant.id),
            object: ready.id.to_string(),
            outcome: Ok(()),
        }
    );
    // A refused upload names the file it was given.
    let png = block_on(service.upload(&writer, upload("b.png", "image/png"), body(b"not png")));
    assert!(png.is_err());
    let record = last(&mem);
    assert_eq!(
        (record.change, record.object.as_str()),
        (Change::Upload, "b.png")
    );
    assert!(record.outcome.is_err());

    block_on(service.delete(&writer, &Lookup::id(ready.id))).unwrap();
    assert_eq!(
        (last(&mem).change, last(&mem).object, last(&mem).outcome),
        (Change::Delete, ready.id.to_string(), Ok(()))
    );
    assert!(block_on(service.delete(&writer, &Lookup::id(ready.id))).is_err());
    assert!(last(&mem).outcome.is_err());

    block_on(ids.set_quota("acme", QuotaChange::default())).unwrap();
    assert_eq!(last(&mem).change, Change::SetQuota);
    block_on(ids.set_policy("acme", Default::default())).unwrap();
    assert_eq!(last(&mem).change, Change::SetPolicy);

    block_on(service.begin_tenant_deletion("acme")).unwrap();
    assert_eq!(last(&mem).change, Change::DeleteTenant);
    block_on(service.finish_tenant_purge(tenant.id)).unwrap();
    assert_eq!(
        last(&mem),
        AuditRecord {
            change: Change::PurgeTenant,
            actor: Actor::System,
            tenant: Some(tenant.id),
            object: tenant.id.to_string(),
            outcome: Ok(()),
        }
    );
}

#[test]
fn a_revocation_never_records_a_secret() {
    let mem = MemoryPorts::new("http://x");
    let ids = IdentityService::new(mem.ports.clone());
    block_on(ids.create_tenant("acme")).unwrap();
    let (key, secret) = block_on(ids.create_api_key("acme", Scopes::ALL)).unwrap();
    block_on(ids.revoke_api_key(&secret)).unwrap();
    assert_eq!(
        (last(&mem).change, last(&mem).object),
        (Change::RevokeKey, key.id.to_string())
    );
    // An unknown key given in full is named by its display prefix only.
    let unknown = format!("{}-not-a-key-at-all", &secret[..secret.len() - 4]);
    assert!(block_on(ids.revoke_api_key(&unknown)).is_err());
    let record = last(&mem);
    assert!(record.outcome.is_err());
    assert!(unknown.starts_with(&record.object) && record.object.len() < unknown.len());

    let hour = time::Duration::hours(1);
    let (session, cookie) =
        block_on(ids.create_session("acme", "u-1", hour, crate::Reach::Own)).unwrap();
    block_on(ids.revoke_session(&cookie)).unwrap();
    assert_eq!(
        (last(&mem).change, last(&mem).object),
        (Change::RevokeSession, session.id.to_string())
    );
    assert!(block_on(ids.revoke_session("no-such-cookie")).is_err());
    assert_eq!(last(&mem).object, "");
    assert!(
        mem.audit
            .records()
            .iter()
            .all(|r| !r.object.contains(&secret) && !r.object.contains(&cookie))
    );
}
