//! Quotas through the services, on memory adapters: every upload path reserves
//! before reading, settles to the real size, and every way out gives it back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use futures::executor::block_on;
use futures::future::join_all;
use time::Duration;
use time::macros::datetime;
use uuid::Uuid;

use super::*;
use crate::attachment::Subject;
use crate::credentials::{Principal, PrincipalKind, Scopes};
use crate::inspect::BodyStream;
use crate::memory::{ManualClock, MemoryPorts};
use crate::quota::QuotaUsage;
use crate::services::{Lookup, MessageFile, NewDirectUpload, NewUpload};
use crate::validation::UploadPolicy;

struct Fixture {
    service: AttachmentService,
    admin: IdentityService,
    mem: MemoryPorts,
    clock: Arc<ManualClock>,
    user: Principal,
    tenant: Tenant,
}

fn fixture(max_bytes: Option<u64>, max_attachments: Option<u64>) -> Fixture {
    let clock = Arc::new(ManualClock::new(datetime!(2026-05-06 07:08:09 UTC)));
    let mem = MemoryPorts::with_clock("http://clasp.test", clock.clone());
    let admin = IdentityService::new(mem.ports.clone());
    let tenant = block_on(admin.create_tenant("quota-ws")).unwrap();
    block_on(admin.set_quota(
        "quota-ws",
        QuotaChange {
            max_bytes: Some(max_bytes),
            max_attachments: Some(max_attachments),
        },
    ))
    .unwrap();
    Fixture {
        service: AttachmentService::new(mem.ports.clone(), UploadPolicy::default()),
        admin,
        user: Principal {
            tenant_id: tenant.id,
            scopes: Scopes::ALL,
            kind: PrincipalKind::ApiKey(Uuid::now_v7()),
            dialect: None,
        },
        tenant,
        mem,
        clock,
    }
}

/// A body of `n` bytes of text that records whether it was read at all.
fn text(n: usize, read: &Arc<AtomicBool>) -> BodyStream {
    let read = read.clone();
    Box::pin(futures::stream::once(async move {
        read.store(true, Ordering::SeqCst);
        Ok(Bytes::from(vec![b'a'; n]))
    }))
}

fn note(hint: Option<u64>) -> NewUpload {
    NewUpload {
        subject: Subject::ticket("t"),
        filename: "note.txt".into(),
        content_type: Some("text/plain".into()),
        size_hint: hint,
        ..NewUpload::default()
    }
}

impl Fixture {
    fn usage(&self) -> QuotaUsage {
        block_on(self.admin.quota(&self.tenant.slug))
            .unwrap()
            .1
            .usage
    }

    fn upload(&self, n: usize, hint: Option<u64>) -> (Result<Attachment, AttachmentError>, bool) {
        let read = Arc::new(AtomicBool::new(false));
        let result = block_on(self.service.upload(&self.user, note(hint), text(n, &read)));
        (result, read.load(Ordering::SeqCst))
    }
}

fn bytes_refusal(e: AttachmentError) -> QuotaExceeded {
    match e {
        AttachmentError::QuotaExceeded(q) => q,
        other => panic!("not a quota refusal: {other}"),
    }
}

#[test]
fn streamed_uploads_reserve_settle_and_are_cut_at_the_quota() {
    let f = fixture(Some(100), None);
    let (first, _) = f.upload(60, Some(500));
    let first = first.unwrap();
    assert_eq!(
        f.usage(),
        QuotaUsage {
            bytes: 60,
            attachments: 1
        }
    );

    // no Content-Length: reserves what is left (40) and refuses the 41st byte
    let (refused, _) = f.upload(50, None);
    let refused = bytes_refusal(refused.unwrap_err());
    assert_eq!(
        (refused.kind, refused.limit, refused.used),
        (QuotaKind::Bytes, 100, 60)
    );
    assert!(refused.requested > 40, "{refused:?}");
    assert_eq!(
        f.usage(),
        QuotaUsage {
            bytes: 60,
            attachments: 1
        }
    );
    assert_eq!(
        f.mem.blobs.len(),
        1,
        "nothing of the refused upload is kept"
    );

    // exactly what is left fits
    let (exact, _) = f.upload(40, Some(10_000));
    exact.unwrap();
    assert_eq!(
        f.usage(),
        QuotaUsage {
            bytes: 100,
            attachments: 2
        }
    );

    // a full quota refuses before a byte is read
    let (full, read) = f.upload(1, Some(300));
    assert_eq!(bytes_refusal(full.unwrap_err()).kind, QuotaKind::Bytes);
    assert!(!read, "the body was not read");

    // deleting gives the bytes back
    block_on(f.service.delete(&f.user, &Lookup::id(first.id))).unwrap();
    assert_eq!(
        f.usage(),
        QuotaUsage {
            bytes: 40,
            attachments: 1
        }
    );
}

#[test]
fn the_attachment_count_is_checked_before_reading_and_failures_keep_counting() {
    let f = fixture(None, Some(2));
    let mut mismatch = note(None);
    mismatch.declared_checksum = Some("00".repeat(32));
    let read = Arc::new(AtomicBool::new(false));
    let failed = block_on(f.service.upload(&f.user, mismatch, text(10, &read)));
    assert!(matches!(
        failed,
        Err(AttachmentError::ChecksumMismatch { .. })
    ));
    // kept without bytes, so it costs none, but it is an attachment
    assert_eq!(
        f.usage(),
        QuotaUsage {
            bytes: 0,
            attachments: 1
        }
    );
    f.upload(10, None).0.unwrap();
    let (third, read) = f.upload(10, None);
    let refused = bytes_refusal(third.unwrap_err());
    assert_eq!(
        (refused.kind, refused.limit, refused.used),
        (QuotaKind::Attachments, 2, 2)
    );
    assert!(!read);
    assert!(
        refused.to_string().contains("quota of 2 attachments"),
        "{refused}"
    );
}

#[test]
fn a_direct_upload_is_charged_its_declared_size_when_its_url_is_issued() {
    let f = fixture(Some(100), None);
    let begin = |size: u64| {
        block_on(f.service.begin_upload(
            &f.user,
            NewDirectUpload {
                subject: Subject::ticket("t"),
                filename: "a.txt".into(),
                content_type: Some("text/plain".into()),
                size,
            },
        ))
    };
    let begun = begin(70).unwrap();
    assert_eq!(
        f.usage(),
        QuotaUsage {
            bytes: 70,
            attachments: 1
        }
    );
    let refused = bytes_refusal(begin(31).unwrap_err());
    assert_eq!(
        (refused.limit, refused.used, refused.requested),
        (100, 70, 31)
    );
    assert_eq!(
        f.usage(),
        QuotaUsage {
            bytes: 70,
            attachments: 1
        }
    );
    begin(30).unwrap();
    // the sweeper gives abandoned uploads back
    f.clock.advance(Duration::days(1));
    assert_eq!(block_on(f.service.sweep_expired(100)).unwrap().removed, 2);
    assert_eq!(f.usage(), QuotaUsage::default());
    assert!(
        block_on(
            f.mem
                .ports
                .attachments
                .get(f.tenant.id, begun.attachment.id)
        )
        .unwrap()
        .is_none()
    );
}

#[test]
fn a_message_upload_settles_each_file_and_an_abort_gives_everything_back() {
    let f = fixture(Some(100), None);
    let mut upload = block_on(f.service.message_upload(&f.user, "7", None)).unwrap();
    // every file may reserve the whole request; each settles before the next
    upload.set_size_hint(Some(90));
    let file = || MessageFile {
        filename: "m.txt".into(),
        content_type: Some("text/plain".into()),
        declared_checksum: None,
    };
    let read = Arc::new(AtomicBool::new(false));
    block_on(upload.add(file(), text(30, &read))).unwrap();
    block_on(upload.add(file(), text(30, &read))).unwrap();
    assert_eq!(
        f.usage(),
        QuotaUsage {
            bytes: 60,
            attachments: 2
        }
    );
    let refused = block_on(upload.add(file(), text(41, &read))).unwrap_err();
    assert_eq!(bytes_refusal(refused).kind, QuotaKind::Bytes);
    block_on(upload.abort());
    assert_eq!(f.usage(), QuotaUsage::default());
    assert!(f.mem.blobs.is_empty());

    let mut upload = block_on(f.service.message_upload(&f.user, "8", None)).unwrap();
    block_on(upload.add(file(), text(25, &read))).unwrap();
    let done = block_on(upload.commit()).unwrap();
    assert_eq!(done[0].size_bytes, 25);
    assert_eq!(
        f.usage(),
        QuotaUsage {
            bytes: 25,
            attachments: 1
        }
    );
}

#[test]
fn concurrent_uploads_get_exactly_what_the_quota_admits() {
    let f = fixture(Some(75), None);
    let read = Arc::new(AtomicBool::new(false));
    let uploads = (0..20).map(|_| f.service.upload(&f.user, note(Some(10)), text(10, &read)));
    let results = block_on(join_all(uploads));
    let stored = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(stored, 7);
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, AttachmentError::QuotaExceeded(_)))
    );
    assert_eq!(
        f.usage(),
        QuotaUsage {
            bytes: 70,
            attachments: 7
        }
    );
    let lookups: Vec<Lookup> = results.iter().flatten().map(|a| Lookup::id(a.id)).collect();
    let deletes = lookups.iter().map(|l| f.service.delete(&f.user, l));
    assert!(block_on(join_all(deletes)).iter().all(Result::is_ok));
    assert_eq!(f.usage(), QuotaUsage::default());
}

#[test]
fn limits_change_without_touching_usage_and_unknown_tenants_are_named() {
    let f = fixture(Some(100), Some(5));
    f.upload(10, None).0.unwrap();
    let (_, quota) = block_on(f.admin.set_quota(
        "quota-ws",
        QuotaChange {
            max_bytes: None,
            max_attachments: Some(None),
        },
    ))
    .unwrap();
    assert_eq!(quota.limits.max_bytes, Some(100), "kept");
    assert_eq!(quota.limits.max_attachments, None, "lifted");
    assert_eq!(
        quota.usage,
        QuotaUsage {
            bytes: 10,
            attachments: 1
        }
    );
    assert!(matches!(
        block_on(f.admin.quota("nobody")),
        Err(IdentityError::UnknownTenant(_))
    ));
}
