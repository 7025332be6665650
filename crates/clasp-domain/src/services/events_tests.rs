//! The events the services announce, read back from [`MemoryOutbox`]: one
//! per change a host product is told of, recorded only with a change that
//! was made.
//!
//! [`MemoryOutbox`]: crate::memory::MemoryOutbox

use bytes::Bytes;
use futures::executor::block_on;

use crate::attachment::Subject;
use crate::credentials::Scopes;
use crate::events::{Event, EventKind};
use crate::inspect::{BodyError, BodyStream};
use crate::memory::{Fault, MemoryPorts};
use crate::services::{AttachmentService, IdentityService, Lookup, NewUpload};
use crate::validation::UploadPolicy;

fn body(data: &'static [u8]) -> BodyStream {
    Box::pin(futures::stream::iter([Ok::<_, BodyError>(
        Bytes::from_static(data),
    )]))
}

fn upload(name: &str, content_type: &str, declared: Option<&str>) -> NewUpload {
    NewUpload {
        subject: Subject::ticket("T-1"),
        filename: name.into(),
        content_type: Some(content_type.into()),
        declared_checksum: declared.map(str::to_owned),
        ..NewUpload::default()
    }
}

fn kinds(events: &[Event]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind).collect()
}

#[test]
fn each_change_announces_its_event_once() {
    let mem = MemoryPorts::new("http://x");
    let service = AttachmentService::new(mem.ports.clone(), UploadPolicy::default());
    let ids = IdentityService::new(mem.ports.clone());
    let tenant = block_on(ids.create_tenant("acme")).unwrap();
    let (key, secret) = block_on(ids.create_api_key("acme", Scopes::ALL)).unwrap();
    let mut writer = block_on(ids.authenticate_api_key(&secret)).unwrap();
    writer.dialect = Some("tickets");

    let ready = block_on(service.upload(&writer, upload("a.txt", "text/plain", None), body(b"hi")))
        .unwrap();
    let events = mem.outbox.events();
    assert_eq!(kinds(&events), [EventKind::AttachmentReady]);
    let data = &events[0].data;
    assert_eq!(data.tenant_id, tenant.id);
    assert_eq!(data.actor, format!("key:{}", key.id));
    assert_eq!(data.dialect, Some("tickets"));
    let facts = data.attachment.as_ref().unwrap();
    assert_eq!((facts.id, facts.number), (ready.id, ready.number));
    assert_eq!(facts.subject, Subject::ticket("T-1"));
    assert_eq!(facts.sha256, ready.sha256);

    // Refused for its magic: the row goes, and the rejection says why.
    let png = block_on(service.upload(&writer, upload("b.png", "image/png", None), body(b"no")));
    assert!(png.is_err());
    // Refused for its checksum: the row stays, failed.
    let wrong = "0".repeat(64);
    let bad = upload("c.txt", "text/plain", Some(&wrong));
    assert!(block_on(service.upload(&writer, bad, body(b"hi"))).is_err());
    block_on(service.delete(&writer, &Lookup::id(ready.id))).unwrap();
    let events = mem.outbox.events();
    assert_eq!(
        kinds(&events[1..]),
        [
            EventKind::AttachmentRejected,
            EventKind::AttachmentRejected,
            EventKind::AttachmentDeleted
        ]
    );
    let reasons: Vec<_> = events[1..3]
        .iter()
        .map(|e| e.data.attachment.as_ref().and_then(|a| a.reason.clone()))
        .collect();
    assert!(
        reasons[0].as_deref().unwrap_or("").contains("png"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].as_deref().unwrap_or("").contains("checksum"),
        "{reasons:?}"
    );
    let ids_seen: std::collections::HashSet<_> = events.iter().map(|e| e.id).collect();
    assert_eq!(ids_seen.len(), events.len(), "every event has its own id");

    block_on(service.begin_tenant_deletion("acme")).unwrap();
    block_on(service.begin_tenant_deletion("acme")).unwrap();
    let events = mem.outbox.events();
    assert_eq!(kinds(&events[4..]), [EventKind::TenantDeleted]);
    assert_eq!(events[4].data.actor, "operator");
}

#[test]
fn a_change_that_fails_announces_nothing() {
    let mem = MemoryPorts::new("http://x");
    let service = AttachmentService::new(mem.ports.clone(), UploadPolicy::default());
    let ids = IdentityService::new(mem.ports.clone());
    block_on(ids.create_tenant("acme")).unwrap();
    let (_, secret) = block_on(ids.create_api_key("acme", Scopes::ALL)).unwrap();
    let writer = block_on(ids.authenticate_api_key(&secret)).unwrap();
    mem.faults.arm(Fault::UpdateBeforeApply);
    let failed = block_on(service.upload(&writer, upload("a.txt", "text/plain", None), body(b"x")));
    assert!(failed.is_err());
    assert_eq!(mem.outbox.events(), []);
}
