//! Virus scanning on every upload path, with the memory adapters and a
//! [`MemoryScanner`] standing in for clamd: infected files end
//! `VerificationFailed` with the reason and without bytes, never `Ready`; a
//! scanner without a verdict refuses the upload (fail closed).

use std::sync::Arc;

use bytes::Bytes;
use futures::executor::block_on;
use uuid::Uuid;

use crate::attachment::{Subject, SubjectRef};
use crate::credentials::{Principal, PrincipalKind, Scopes};
use crate::error::AttachmentError;
use crate::inspect::{BodyError, BodyStream};
use crate::memory::{MemoryPorts, MemoryScanner};
use crate::services::{AttachmentService, Lookup, MessageFile, NewDirectUpload, NewUpload};
use crate::signed_url::parse_clasp_signed_upload_url;
use crate::state::AttachmentState;
use crate::tenant::TenantId;
use crate::validation::UploadPolicy;

const MARK: &[u8] = b"EVIL-TEST-MARK";
const SIGNATURE: &str = "Test.Mark";

struct Fixture {
    service: AttachmentService,
    mem: MemoryPorts,
    scanner: Arc<MemoryScanner>,
    writer: Principal,
}

fn fixture() -> Fixture {
    let mut mem = MemoryPorts::new("http://clasp.test");
    let scanner = Arc::new(MemoryScanner::new(MARK, SIGNATURE));
    mem.ports.scanner = scanner.clone();
    Fixture {
        service: AttachmentService::new(mem.ports.clone(), UploadPolicy::default()),
        mem,
        scanner,
        writer: Principal {
            tenant_id: TenantId(Uuid::now_v7()),
            scopes: Scopes::ALL,
            kind: PrincipalKind::ApiKey(Uuid::now_v7()),
            dialect: None,
        },
    }
}

/// `data` in chunks of 5 bytes, so the mark straddles chunk boundaries.
fn body(data: &[u8]) -> BodyStream {
    let chunks: Vec<Result<Bytes, BodyError>> = data
        .chunks(5)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures::stream::iter(chunks))
}

fn infected_text() -> Vec<u8> {
    [b"hello ".as_slice(), MARK, b" world"].concat()
}

fn on_ticket(filename: &str) -> NewUpload {
    NewUpload {
        subject: Subject::ticket("t-1"),
        filename: filename.into(),
        content_type: Some("text/plain".into()),
        ..NewUpload::default()
    }
}

#[test]
fn a_streamed_upload_that_is_infected_fails_with_its_reason_and_no_bytes() {
    let f = fixture();
    let clean = block_on(
        f.service
            .upload(&f.writer, on_ticket("a.txt"), body(b"fine")),
    )
    .unwrap();
    assert_eq!(clean.state, AttachmentState::Ready);
    assert_eq!(clean.failure_reason, None);

    let got = block_on(
        f.service
            .upload(&f.writer, on_ticket("b.txt"), body(&infected_text())),
    );
    let Err(AttachmentError::Infected { signature, number }) = got else {
        panic!("{got:?}");
    };
    assert_eq!(signature, SIGNATURE);
    assert_eq!(f.scanner.scanned(), 2);
    assert_eq!(f.mem.blobs.len(), 1, "only the clean file's bytes remain");
    let failed = block_on(f.service.find_numbered(&f.writer, number)).unwrap();
    assert_eq!(failed.state, AttachmentState::VerificationFailed);
    assert_eq!(
        failed.failure_reason.as_deref(),
        Some("infected: Test.Mark")
    );
    let listed = block_on(f.service.list(&f.writer, &SubjectRef::Ticket("t-1".into()))).unwrap();
    assert_eq!(listed.len(), 1, "the infected file is never listed");
    assert!(matches!(
        block_on(f.service.open(&f.writer, &Lookup::id(failed.id))),
        Err(AttachmentError::NotFound)
    ));
}

#[test]
fn a_streamed_upload_without_a_verdict_is_refused_and_leaves_nothing() {
    let f = fixture();
    f.scanner.set_failing(true);
    let got = block_on(
        f.service
            .upload(&f.writer, on_ticket("a.txt"), body(b"fine")),
    );
    assert!(
        matches!(got, Err(AttachmentError::ScanFailed(_))),
        "{got:?}"
    );
    assert!(f.mem.blobs.is_empty());
    assert!(matches!(
        block_on(f.service.find_numbered(&f.writer, 1)),
        Err(AttachmentError::NotFound)
    ));
}

#[test]
fn an_infected_file_refuses_its_message_and_stays_visible_by_number() {
    let f = fixture();
    let mut upload = block_on(f.service.message_upload(&f.writer, "7", Some("3"))).unwrap();
    let file = |name: &str| MessageFile {
        filename: name.into(),
        content_type: Some("text/plain".into()),
        declared_checksum: None,
    };
    block_on(upload.add(file("ok.txt"), body(b"fine"))).unwrap();
    let got = block_on(upload.add(file("bad.txt"), body(&infected_text())));
    let Err(AttachmentError::Infected { number, .. }) = got else {
        panic!("{got:?}");
    };
    block_on(upload.abort());
    assert!(f.mem.blobs.is_empty(), "no bytes of either file remain");
    assert!(matches!(
        block_on(f.service.find_numbered(&f.writer, 1)),
        Err(AttachmentError::NotFound)
    ));
    let failed = block_on(f.service.find_numbered(&f.writer, number)).unwrap();
    assert_eq!(failed.state, AttachmentState::VerificationFailed);
    assert_eq!(
        failed.failure_reason.as_deref(),
        Some("infected: Test.Mark")
    );
    assert!(matches!(
        block_on(f.service.open_numbered(&f.writer, number, &["bad.txt"])),
        Err(AttachmentError::NotFound)
    ));

    f.scanner.set_failing(true);
    let mut upload = block_on(f.service.message_upload(&f.writer, "8", None)).unwrap();
    let got = block_on(upload.add(file("ok.txt"), body(b"fine")));
    assert!(
        matches!(got, Err(AttachmentError::ScanFailed(_))),
        "{got:?}"
    );
    block_on(upload.abort());
    assert!(f.mem.blobs.is_empty());
}

#[test]
fn a_direct_upload_is_scanned_at_confirm_and_stays_pending_without_a_verdict() {
    let f = fixture();
    let begin = |data: &[u8]| {
        let begun = block_on(f.service.begin_upload(
            &f.writer,
            NewDirectUpload {
                subject: Subject::ticket("t-1"),
                filename: "f.txt".into(),
                content_type: Some("text/plain".into()),
                size: data.len() as u64,
            },
        ))
        .unwrap();
        let request = parse_clasp_signed_upload_url(&begun.url.url).unwrap();
        block_on(f.service.receive_upload(&request, body(data))).unwrap();
        Lookup::id(begun.attachment.id)
    };

    let infected = begin(&infected_text());
    let got = block_on(f.service.confirm(&f.writer, &infected, None));
    assert!(
        matches!(&got, Err(AttachmentError::Infected { signature, .. }) if signature == SIGNATURE),
        "{got:?}"
    );
    assert!(
        f.mem.blobs.is_empty(),
        "neither the upload nor a copy remains"
    );
    let again = block_on(f.service.confirm(&f.writer, &infected, None));
    assert!(
        matches!(
            again,
            Err(AttachmentError::NotPending(
                AttachmentState::VerificationFailed
            ))
        ),
        "{again:?}"
    );

    let clean = begin(b"fine");
    f.scanner.set_failing(true);
    let got = block_on(f.service.confirm(&f.writer, &clean, None));
    assert!(
        matches!(got, Err(AttachmentError::ScanFailed(_))),
        "{got:?}"
    );
    assert!(matches!(
        block_on(f.service.open(&f.writer, &clean)),
        Err(AttachmentError::NotFound)
    ));
    f.scanner.set_failing(false);
    let ready = block_on(f.service.confirm(&f.writer, &clean, None)).unwrap();
    assert_eq!(ready.state, AttachmentState::Ready);
    assert!(block_on(f.service.open(&f.writer, &clean)).is_ok());
}

#[test]
fn an_unreachable_scanner_makes_the_instance_not_ready() {
    let f = fixture();
    assert_eq!(block_on(f.service.check_ready()), Ok(()));
    f.scanner.set_failing(true);
    assert!(
        matches!(
            block_on(f.service.check_ready()),
            Err(AttachmentError::ScanFailed(m)) if m.contains("switched off")
        ),
        "{:?}",
        block_on(f.service.check_ready())
    );
    f.scanner.set_failing(false);
    assert_eq!(block_on(f.service.check_ready()), Ok(()));
}
