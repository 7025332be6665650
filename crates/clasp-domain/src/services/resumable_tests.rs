//! Resumable uploads on the in-memory ports: parts in any number, offsets
//! checked, checksums per part, the first part's magic, the length, the
//! deadline, termination and the sweep.

use std::sync::Arc;

use bytes::Bytes;
use futures::executor::block_on;
use sha2::{Digest, Sha256};
use time::macros::datetime;
use uuid::Uuid;

use crate::attachment::Subject;
use crate::credentials::{Principal, PrincipalKind, Scopes};
use crate::error::AttachmentError;
use crate::events::EventKind;
use crate::inspect::{BodyError, BodyStream};
use crate::memory::{ManualClock, MemoryPorts};
use crate::services::{AttachmentService, NewUpload, PartChecksum};
use crate::tenant::TenantId;
use crate::validation::UploadPolicy;
use crate::{AttachmentState, ErrorKind};

fn body(data: &[u8]) -> BodyStream {
    let data = Bytes::copy_from_slice(data);
    Box::pin(futures::stream::iter([Ok::<_, BodyError>(data)]))
}

fn writer(tenant: TenantId) -> Principal {
    Principal {
        tenant_id: tenant,
        scopes: Scopes::ALL,
        kind: PrincipalKind::ApiKey(Uuid::now_v7()),
        dialect: Some("tus"),
    }
}

fn pdf(len: usize) -> Vec<u8> {
    let mut data = b"%PDF-1.7\n".to_vec();
    data.extend((0..len - 9).map(|i| (i % 251) as u8));
    data
}

fn upload(name: &str, content_type: &str) -> NewUpload {
    NewUpload {
        subject: Subject::ticket("T-1"),
        filename: name.into(),
        content_type: Some(content_type.into()),
        ..NewUpload::default()
    }
}

struct Fixture {
    mem: MemoryPorts,
    clock: Arc<ManualClock>,
    service: AttachmentService,
    writer: Principal,
}

fn fixture() -> Fixture {
    let clock = Arc::new(ManualClock::new(datetime!(2026-12-04 12:00 UTC)));
    let mem = MemoryPorts::with_clock("http://clasp.test", clock.clone());
    let service = AttachmentService::new(mem.ports.clone(), UploadPolicy::default());
    Fixture {
        writer: writer(TenantId(Uuid::now_v7())),
        mem,
        clock,
        service,
    }
}

impl Fixture {
    /// Announces `data` (a PDF of 10,000 bytes) and stores its first 6,000.
    fn begin_with_first_part(&self, data: &[u8]) -> crate::AttachmentId {
        let id = self.begin_pdf("a.pdf", 10_000).attachment.id;
        let first = self
            .service
            .append(&self.writer, id, 0, body(&data[..6_000]), None);
        block_on(first).unwrap();
        id
    }

    /// Announces a PDF of `length` bytes as the fixture's writer.
    fn begin_pdf(&self, name: &str, length: u64) -> crate::services::Resumable {
        block_on(self.service.begin_resumable(
            &self.writer,
            upload(name, "application/pdf"),
            length,
        ))
        .unwrap()
    }
}

#[test]
fn parts_in_any_number_become_one_ready_attachment() {
    let f = fixture();
    let data = pdf(10_000);
    let begun = f.begin_pdf("a.pdf", 10_000);
    let id = begun.attachment.id;
    assert_eq!((begun.offset, begun.length), (0, 10_000));
    let mut offset = 0;
    for part in data.chunks(3_000) {
        let sha1 = sha1::Sha1::digest(part).to_vec();
        let now = block_on(f.service.append(
            &f.writer,
            id,
            offset,
            body(part),
            Some(PartChecksum::Sha1(sha1)),
        ))
        .unwrap();
        offset += part.len() as u64;
        assert_eq!(now.offset, offset);
    }
    let done = block_on(f.service.resumable(&f.writer, id)).unwrap();
    assert!(done.is_finished());
    assert_eq!(done.attachment.state, AttachmentState::Ready);
    assert_eq!(done.attachment.size_bytes, 10_000);
    assert_eq!(
        done.attachment.sha256.as_deref(),
        Some(hex::encode(Sha256::digest(&data)).as_str())
    );
    assert_eq!(f.mem.blobs.len(), 1, "the parts are gone, the file stays");
    let events: Vec<_> = f.mem.outbox.events().iter().map(|e| e.kind).collect();
    assert_eq!(events, [EventKind::AttachmentReady]);
    assert_eq!(f.mem.outbox.events()[0].data.dialect, Some("tus"));
    // Another tenant's key finds nothing.
    let stranger = writer(TenantId(Uuid::now_v7()));
    let other_key = writer(f.writer.tenant_id);
    let unfinished = f.begin_pdf("b.pdf", 100);
    let theirs = block_on(f.service.append(
        &other_key,
        unfinished.attachment.id,
        0,
        body(&pdf(100)),
        None,
    ));
    assert_eq!(
        theirs.err(),
        Some(AttachmentError::NotFound),
        "bound to its credential"
    );
    assert_eq!(
        block_on(f.service.resumable(&stranger, id)).err(),
        Some(AttachmentError::NotFound)
    );
}

#[test]
fn offsets_checksums_and_the_length_are_enforced() {
    let f = fixture();
    let data = pdf(4_000);
    let begun = f.begin_pdf("a.pdf", 4_000);
    let id = begun.attachment.id;
    let wrong_offset = block_on(
        f.service
            .append(&f.writer, id, 10, body(&data[..100]), None),
    );
    assert_eq!(
        wrong_offset.err().map(|e| e.kind()),
        Some(ErrorKind::OffsetMismatch)
    );
    let wrong_sum = PartChecksum::Sha256(vec![0; 32]);
    let refused = block_on(
        f.service
            .append(&f.writer, id, 0, body(&data[..100]), Some(wrong_sum)),
    );
    assert_eq!(
        refused.err().map(|e| e.kind()),
        Some(ErrorKind::ChecksumMismatch)
    );
    assert_eq!(
        block_on(f.service.resumable(&f.writer, id)).unwrap().offset,
        0,
        "nothing kept"
    );
    block_on(
        f.service
            .append(&f.writer, id, 0, body(&data[..1_000]), None),
    )
    .unwrap();
    let past = block_on(
        f.service
            .append(&f.writer, id, 1_000, body(&pdf(3_001)), None),
    );
    assert_eq!(past.err().map(|e| e.kind()), Some(ErrorKind::TooLarge));
    assert_eq!(
        block_on(f.service.resumable(&f.writer, id)).unwrap().offset,
        1_000
    );
    // Announced too large: refused before any byte.
    let huge = block_on(f.service.begin_resumable(
        &f.writer,
        upload("b.pdf", "application/pdf"),
        1 << 40,
    ));
    assert_eq!(huge.err().map(|e| e.kind()), Some(ErrorKind::TooLarge));
}

#[test]
fn a_first_part_that_is_not_its_type_refuses_the_whole_upload() {
    let f = fixture();
    let begun = block_on(
        f.service
            .begin_resumable(&f.writer, upload("a.png", "image/png"), 5_000),
    )
    .unwrap();
    let id = begun.attachment.id;
    let refused = block_on(f.service.append(&f.writer, id, 0, body(&pdf(2_000)), None));
    assert_eq!(
        refused.err().map(|e| e.kind()),
        Some(ErrorKind::MagicMismatch)
    );
    assert!(f.mem.blobs.is_empty());
    assert_eq!(
        block_on(f.service.resumable(&f.writer, id)).err(),
        Some(AttachmentError::NotFound)
    );
    let events: Vec<_> = f.mem.outbox.events().iter().map(|e| e.kind).collect();
    assert_eq!(events, [EventKind::AttachmentRejected]);
}

#[test]
fn terminated_or_expired_uploads_leave_nothing() {
    let f = fixture();
    let first = f.begin_pdf("a.pdf", 5_000);
    block_on(
        f.service
            .append(&f.writer, first.attachment.id, 0, body(&pdf(1_000)), None),
    )
    .unwrap();
    block_on(f.service.terminate(&f.writer, first.attachment.id)).unwrap();
    assert!(f.mem.blobs.is_empty());
    assert_eq!(
        block_on(f.service.resumable(&f.writer, first.attachment.id)).err(),
        Some(AttachmentError::NotFound)
    );

    let second = f.begin_pdf("b.pdf", 5_000);
    let id = second.attachment.id;
    block_on(f.service.append(&f.writer, id, 0, body(&pdf(1_000)), None)).unwrap();
    f.clock.advance(time::Duration::hours(1));
    assert_eq!(
        block_on(f.service.resumable(&f.writer, id)).err(),
        Some(AttachmentError::UploadExpired)
    );
    let late = block_on(f.service.append(&f.writer, id, 1_000, body(&[0; 10]), None));
    assert_eq!(late.err(), Some(AttachmentError::UploadExpired));
    block_on(f.service.sweep_expired(100)).unwrap();
    assert!(f.mem.blobs.is_empty(), "the sweep took the parts");
    assert_eq!(
        block_on(f.service.resumable(&f.writer, id)).err(),
        Some(AttachmentError::NotFound)
    );
    let quota = block_on(f.mem.ports.attachments.quota(f.writer.tenant_id)).unwrap();
    assert_eq!(quota.usage.bytes, 0, "the quota is given back");
}

/// A body that yields `data`, then ends only once `gate` opens: a request
/// whose bytes are all in but whose part is not yet stored.
fn held_body(data: &[u8], gate: futures::channel::oneshot::Receiver<()>) -> BodyStream {
    use futures::StreamExt;
    let data = Bytes::copy_from_slice(data);
    let end = futures::stream::once(async move {
        let _ = gate.await;
    })
    .filter_map(|()| async { None });
    Box::pin(futures::stream::iter([Ok::<_, BodyError>(data)]).chain(end))
}

/// The attack: a client retries a part it believes lost while the first
/// request is still being stored, with other bytes. Both are stored before
/// either moves the upload on; the one that loses must not delete or
/// overwrite the winner's part (they once shared one object, so the loser
/// deleted it and the upload failed at its last byte).
#[test]
fn two_requests_racing_for_one_offset_keep_the_winners_part() {
    let f = fixture();
    let data = pdf(3_000);
    let begun = f.begin_pdf("a.pdf", 3_000);
    let id = begun.attachment.id;
    let (open_first, first_gate) = futures::channel::oneshot::channel();
    let (open_retry, retry_gate) = futures::channel::oneshot::channel();
    let first = f.service.append(
        &f.writer,
        id,
        0,
        held_body(&data[..1_000], first_gate),
        None,
    );
    let mut other = pdf(600);
    other[100] ^= 0xff;
    let retry = f
        .service
        .append(&f.writer, id, 0, held_body(&other, retry_gate), None);
    // `join!` polls in order: both requests are writing before the gates open
    let (first, retry, ()) = block_on(async {
        futures::join!(first, retry, async {
            open_first.send(()).unwrap();
            open_retry.send(()).unwrap();
        })
    });
    assert_eq!(first.unwrap().offset, 1_000, "the first stored its part");
    assert_eq!(
        retry.err(),
        Some(AttachmentError::OffsetMismatch { expected: 1_000 }),
        "the retry lost and is told where the upload is"
    );
    let done = block_on(
        f.service
            .append(&f.writer, id, 1_000, body(&data[1_000..]), None),
    )
    .unwrap();
    assert_eq!(done.attachment.state, AttachmentState::Ready);
    assert_eq!(
        done.attachment.sha256.as_deref(),
        Some(hex::encode(Sha256::digest(&data)).as_str()),
        "the file is the winner's bytes and the rest, not the retry's"
    );
    assert_eq!(f.mem.blobs.len(), 1, "no part is left behind");
}

/// A request whose process died while storing its part leaves its object;
/// ending the upload finds it by its number and deletes it.
#[test]
fn objects_of_requests_that_died_are_deleted_with_the_upload() {
    let f = fixture();
    let begun = f.begin_pdf("a.pdf", 5_000);
    let attachment = begun.attachment;
    block_on(
        f.service
            .append(&f.writer, attachment.id, 0, body(&pdf(1_000)), None),
    )
    .unwrap();
    let resumable = &f.mem.ports.resumable;
    let died = block_on(resumable.begin_attempt(f.writer.tenant_id, attachment.id))
        .unwrap()
        .unwrap();
    let key = crate::resumable::attempt_key(&attachment, died);
    block_on(f.mem.ports.blobs.put(&key, &mut body(&[1; 10]))).unwrap();
    assert_eq!(f.mem.blobs.len(), 2);
    block_on(f.service.terminate(&f.writer, attachment.id)).unwrap();
    assert!(f.mem.blobs.is_empty(), "the dead request's object went too");
}

/// Sending a file a few bytes at a time would leave an object per request;
/// an upload takes at most `MAX_ATTEMPTS` of them.
#[test]
fn an_upload_takes_a_bounded_number_of_requests() {
    let f = fixture();
    let begun = f.begin_pdf("a.pdf", 5_000);
    let id = begun.attachment.id;
    for _ in 0..crate::resumable::MAX_ATTEMPTS {
        block_on(f.mem.ports.resumable.begin_attempt(f.writer.tenant_id, id))
            .unwrap()
            .unwrap();
    }
    let refused = block_on(f.service.append(&f.writer, id, 0, body(&pdf(1_000)), None));
    assert_eq!(
        refused.err(),
        Some(AttachmentError::Invalid(
            crate::validation::ValidationError::TooManyParts {
                limit: crate::resumable::MAX_ATTEMPTS
            }
        ))
    );
    assert!(f.mem.blobs.is_empty(), "nothing was stored");
}

/// Sends the last 4,000 bytes of `data` (10,000) to the upload `id` at 6,000,
/// which is to fail for a reason of the service's own, and checks that the
/// upload is kept as its first part left it: that part's object stays, the
/// failed one's is gone, nothing is announced and the quota stays charged.
fn last_part_fails(f: &Fixture, id: crate::AttachmentId, data: &[u8], what: &str) {
    let failed = block_on(
        f.service
            .append(&f.writer, id, 6_000, body(&data[6_000..]), None),
    );
    let error = failed.expect_err(what);
    assert!(error.is_transient(), "{what}: {error:?}");
    let standing = block_on(f.service.resumable(&f.writer, id)).expect(what);
    assert_eq!(
        (standing.offset, standing.attachment.state),
        (6_000, AttachmentState::Uploading),
        "{what}: the last part is to be sent again"
    );
    let keys = f.mem.blobs.keys();
    let parts: Vec<_> = keys.iter().filter(|k| k.contains(".attempt-")).collect();
    assert_eq!(
        parts.len(),
        1,
        "{what}: only the first part stays: {keys:?}"
    );
    assert!(f.mem.outbox.events().is_empty(), "{what}");
    let quota = block_on(f.mem.ports.attachments.quota(f.writer.tenant_id)).unwrap();
    assert_eq!(quota.usage.bytes, 10_000, "{what}: still charged");
}

/// The fixture with a scanner that finds `EVIL`, and that scanner.
fn scanned() -> (Fixture, Arc<crate::memory::MemoryScanner>) {
    let mut f = fixture();
    let scanner = Arc::new(crate::memory::MemoryScanner::new(b"EVIL", "Test.Mark"));
    f.mem.ports.scanner = scanner.clone();
    f.service = AttachmentService::new(f.mem.ports.clone(), UploadPolicy::default());
    (f, scanner)
}

#[test]
fn a_finish_the_service_fails_keeps_the_upload_for_its_last_part_again() {
    let (f, scanner) = scanned();
    let data = pdf(10_000);
    let id = f.begin_with_first_part(&data);

    f.mem.faults.arm(crate::memory::Fault::GetFails);
    last_part_fails(&f, id, &data, "a stored part unreadable");
    scanner.set_failing(true);
    last_part_fails(&f, id, &data, "the scanner unreachable");
    scanner.set_failing(false);
    f.mem.faults.arm(crate::memory::Fault::UpdateBeforeApply);
    last_part_fails(&f, id, &data, "the commit failing");

    let done = block_on(
        f.service
            .append(&f.writer, id, 6_000, body(&data[6_000..]), None),
    )
    .expect("the last part sent again finishes the upload");
    assert!(done.is_finished());
    assert_eq!(
        done.attachment.sha256.as_deref(),
        Some(hex::encode(Sha256::digest(&data)).as_str())
    );
    assert_eq!(
        f.mem.blobs.keys(),
        [done.attachment.blob_key()],
        "the parts are gone, the file stays"
    );
    let events: Vec<_> = f.mem.outbox.events().iter().map(|e| e.kind).collect();
    assert_eq!(events, [EventKind::AttachmentReady]);
}

#[test]
fn a_finish_that_refuses_the_bytes_ends_the_upload_as_before() {
    let (f, _) = scanned();
    let mut data = pdf(10_000);
    data[8_000..8_004].copy_from_slice(b"EVIL");
    let id = f.begin_with_first_part(&data);
    let refused = block_on(
        f.service
            .append(&f.writer, id, 6_000, body(&data[6_000..]), None),
    );
    assert_eq!(
        refused.err().map(|e| e.kind()),
        Some(ErrorKind::Infected { number: 1 })
    );
    assert!(f.mem.blobs.is_empty(), "no part, no bytes");
    let failed = block_on(f.service.resumable(&f.writer, id));
    assert!(failed.is_err(), "{failed:?}");
}

#[test]
fn an_upload_whose_finishing_was_cut_off_says_so_and_takes_no_more_parts() {
    let f = fixture();
    let data = pdf(10_000);
    let id = f.begin_with_first_part(&data);
    // the process storing the last part moved the upload on, then died
    let resumable = &f.mem.ports.resumable;
    let progress = block_on(resumable.progress(f.writer.tenant_id, id))
        .unwrap()
        .unwrap();
    assert!(block_on(resumable.advance(&progress, 10_000, 99)).unwrap());

    let tail = || body(&data[6_000..]);
    let asked = [
        (
            "where it stands",
            block_on(f.service.resumable(&f.writer, id)).err(),
        ),
        (
            "the last part again",
            block_on(f.service.append(&f.writer, id, 6_000, tail(), None)).err(),
        ),
        (
            "a part at its length",
            block_on(f.service.append(&f.writer, id, 10_000, body(b"x"), None)).err(),
        ),
        (
            "an empty part",
            block_on(f.service.append_nothing(&f.writer, id, 10_000)).err(),
        ),
        (
            "its end",
            block_on(f.service.terminate(&f.writer, id)).err(),
        ),
    ];
    for (what, refused) in asked {
        assert_eq!(refused, Some(AttachmentError::Finishing), "{what}");
    }
    f.clock.advance(time::Duration::hours(1));
    block_on(f.service.sweep_expired(100)).unwrap();
    assert!(
        f.mem.blobs.is_empty(),
        "swept at its deadline, parts and all"
    );
    let quota = block_on(f.mem.ports.attachments.quota(f.writer.tenant_id)).unwrap();
    assert_eq!(quota.usage.bytes, 0);
}
