//! The direct-upload rules on memory adapters and a manual clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use futures::StreamExt;
use futures::executor::block_on;
use sha2::{Digest, Sha256};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::*;
use crate::credentials::{PrincipalKind, Scopes};
use crate::memory::{ManualClock, MemoryPorts};
use crate::ports::{SignatureError, parse_clasp_signed_upload_url};
use crate::services::Lookup;
use crate::tenant::TenantId;
use crate::validation::UploadPolicy;
use crate::{AttachmentState, SubjectRef};

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const TICKET: &str = "550e8400-e29b-41d4-a716-446655440000";
const START: OffsetDateTime = datetime!(2026-03-04 05:06:07.250 UTC);

struct Fixture {
    service: AttachmentService,
    mem: MemoryPorts,
    clock: Arc<ManualClock>,
    writer: Principal,
}

fn principal(tenant: TenantId, scopes: Scopes) -> Principal {
    Principal {
        tenant_id: tenant,
        scopes,
        kind: PrincipalKind::ApiKey(Uuid::now_v7()),
    }
}

fn fixture_with(policy: UploadPolicy) -> Fixture {
    let clock = Arc::new(ManualClock::new(START));
    let mem = MemoryPorts::with_clock("http://clasp.test", clock.clone());
    Fixture {
        service: AttachmentService::new(mem.ports.clone(), policy),
        mem,
        clock,
        writer: principal(TenantId(Uuid::now_v7()), Scopes::ALL),
    }
}

fn fixture() -> Fixture {
    fixture_with(UploadPolicy::default())
}

fn on_ticket(ticket: &str, filename: &str, content_type: &str, size: usize) -> NewDirectUpload {
    NewDirectUpload {
        subject: Subject {
            ticket_id: Some(ticket.to_owned()),
            ..Subject::default()
        },
        filename: filename.to_owned(),
        content_type: Some(content_type.to_owned()),
        size: size as u64,
    }
}

fn body(chunks: &[&[u8]]) -> BodyStream {
    let owned: Vec<Result<Bytes, BodyError>> = chunks
        .iter()
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures::stream::iter(owned))
}

fn request(begun: &BegunUpload) -> SignedUploadRequest {
    parse_clasp_signed_upload_url(&begun.url.url).unwrap()
}

impl Fixture {
    fn begin(&self, ticket: &str, name: &str, ct: &str, size: usize) -> BegunUpload {
        block_on(
            self.service
                .begin_upload(&self.writer, on_ticket(ticket, name, ct, size)),
        )
        .unwrap()
    }

    fn put(
        &self,
        begun: &BegunUpload,
        chunks: &[&[u8]],
    ) -> Result<ReceivedUpload, AttachmentError> {
        block_on(self.service.receive_upload(&request(begun), body(chunks)))
    }

    fn confirm(&self, id: AttachmentId, etag: Option<&str>) -> Result<Attachment, AttachmentError> {
        block_on(self.service.confirm(&self.writer, &Lookup::id(id), etag))
    }

    fn stored(&self, id: AttachmentId) -> Option<Attachment> {
        block_on(self.mem.ports.attachments.get(self.writer.tenant_id, id)).unwrap()
    }

    /// The bytes a download of `id` serves, or why there is none.
    fn download(&self, id: AttachmentId) -> Result<Vec<u8>, AttachmentError> {
        block_on(async {
            let mut d = self.service.open(&self.writer, &Lookup::id(id)).await?;
            let mut out = Vec::new();
            while let Some(chunk) = d.body.stream.next().await {
                out.extend_from_slice(&chunk.unwrap());
            }
            Ok(out)
        })
    }

    fn ready_png(&self, ticket: &str) -> Attachment {
        let begun = self.begin(ticket, "shot.png", "image/png", PNG.len());
        self.put(&begun, &[PNG]).unwrap();
        self.confirm(begun.attachment.id, None).unwrap()
    }

    fn post(&self, ticket: &str, ids: Vec<AttachmentId>) -> Result<Message, AttachmentError> {
        block_on(self.service.post_message(
            &self.writer,
            NewMessage {
                ticket_id: ticket.to_owned(),
                body: "see attached".into(),
                attachment_ids: ids,
            },
        ))
    }

    fn list(&self, subject: SubjectRef) -> Vec<AttachmentId> {
        block_on(self.service.list(&self.writer, &subject))
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect()
    }
}

#[test]
fn begin_upload_records_an_invisible_pending_attachment_and_a_url() {
    let f = fixture();
    let begun = f.begin(TICKET, "../../docs/report.pdf", "application/pdf", 1024);
    let a = &begun.attachment;
    assert_eq!(a.state, AttachmentState::Pending);
    assert_eq!(a.filename, "report.pdf", "sanitised");
    assert_eq!(a.content_type, "application/pdf");
    assert_eq!(a.size_bytes, 1024);
    assert_eq!(a.subject.ticket_id.as_deref(), Some(TICKET));
    assert_eq!(a.sha256, None);
    // 15 minutes by default, rounded up to the second the URL carries
    let expires = datetime!(2026-03-04 05:21:08 UTC);
    assert_eq!(a.upload_expires_at, Some(expires));
    assert_eq!(begun.url.expires_at, expires);
    assert_eq!(begun.url.method, "PUT");
    assert_eq!(
        begun.url.headers,
        vec![("Content-Type".to_owned(), "application/pdf".to_owned())]
    );
    let req = request(&begun);
    assert!(
        begun
            .url
            .url
            .starts_with("http://clasp.test/signed-upload/")
    );
    assert_eq!((req.tenant_id, req.attachment_id), (a.tenant_id, a.id));
    assert_eq!((req.size, req.expires), (1024, expires.unix_timestamp()));
    assert_eq!(f.stored(a.id).as_ref(), Some(a), "recorded");
    // nobody sees or downloads it
    assert!(f.list(SubjectRef::Ticket(TICKET.into())).is_empty());
    assert_eq!(f.download(a.id), Err(AttachmentError::NotFound));
}

#[test]
fn begin_upload_refuses_bad_declarations_before_recording_anything() {
    let f = fixture_with(UploadPolicy {
        max_bytes: 100,
        ..UploadPolicy::default()
    });
    let refusals = [
        (
            on_ticket(TICKET, "a.exe", "application/x-msdownload", 10),
            ValidationError::DisallowedType("application/x-msdownload".into()),
        ),
        (
            on_ticket(TICKET, "a.svg", "image/svg+xml", 10),
            ValidationError::DisallowedType("image/svg+xml".into()),
        ),
        (
            on_ticket(TICKET, "big.txt", "text/plain", 101),
            ValidationError::TooLarge { limit: 100 },
        ),
        (
            on_ticket(TICKET, "empty.txt", "text/plain", 0),
            ValidationError::EmptyFile,
        ),
    ];
    for (upload, refusal) in refusals {
        assert_eq!(
            block_on(f.service.begin_upload(&f.writer, upload)).unwrap_err(),
            AttachmentError::Invalid(refusal)
        );
    }
    let reader = principal(
        f.writer.tenant_id,
        Scopes::parse("attachments:read").unwrap(),
    );
    assert_eq!(
        block_on(
            f.service
                .begin_upload(&reader, on_ticket(TICKET, "a.txt", "text/plain", 1))
        )
        .unwrap_err(),
        AttachmentError::Forbidden(Scope::Write)
    );
    // the type may come from the name; the exact limit is fine
    let mut by_name = on_ticket(TICKET, "notes.txt", "text/plain", 100);
    by_name.content_type = None;
    let begun = block_on(f.service.begin_upload(&f.writer, by_name)).unwrap();
    assert_eq!(begun.attachment.content_type, "text/plain");
    let expired = block_on(
        f.mem
            .ports
            .attachments
            .expired_uploads(START + Duration::days(1), 10),
    );
    assert_eq!(
        expired.unwrap().len(),
        1,
        "only the accepted one was recorded"
    );
}

#[test]
fn the_upload_url_lifetime_is_configurable() {
    let f = fixture_with(UploadPolicy {
        upload_url_ttl: Duration::seconds(30),
        ..UploadPolicy::default()
    });
    let begun = f.begin(TICKET, "a.txt", "text/plain", 3);
    assert_eq!(begun.url.expires_at, datetime!(2026-03-04 05:06:38 UTC));
}

#[test]
fn received_bytes_wait_apart_until_confirmed() {
    let f = fixture();
    let begun = f.begin(TICKET, "shot.png", "image/png", PNG.len());
    let id = begun.attachment.id;
    let received = f.put(&begun, &[&PNG[..10], &PNG[10..]]).unwrap();
    assert_eq!(received.attachment_id, id);
    assert_eq!(received.size, PNG.len() as u64);
    assert!(received.etag.is_some());
    assert!(f.mem.blobs.contains(&begun.attachment.upload_key()));
    assert!(!f.mem.blobs.contains(&begun.attachment.blob_key()));
    assert_eq!(f.stored(id).unwrap().state, AttachmentState::Pending);
    assert_eq!(
        f.download(id),
        Err(AttachmentError::NotFound),
        "not before confirm"
    );
}

#[test]
fn a_body_larger_than_declared_is_refused_while_streaming_and_leaves_nothing() {
    let f = fixture();
    let begun = f.begin(TICKET, "a.txt", "text/plain", 10);
    let polled = Arc::new(AtomicUsize::new(0));
    let counter = polled.clone();
    let chunks = futures::stream::iter(0..100).map(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(Bytes::from_static(b"aaaaaaaa"))
    });
    let err = block_on(f.service.receive_upload(&request(&begun), Box::pin(chunks))).unwrap_err();
    assert_eq!(
        err,
        AttachmentError::Invalid(ValidationError::TooLarge { limit: 10 })
    );
    assert_eq!(
        polled.load(Ordering::SeqCst),
        2,
        "stopped at the first byte too many"
    );
    assert!(f.mem.blobs.is_empty());
    assert_eq!(
        f.confirm(begun.attachment.id, None),
        Err(AttachmentError::NotUploaded)
    );
}

#[test]
fn bytes_that_contradict_the_declared_type_are_refused() {
    let f = fixture();
    let html = b"<html><script>alert(1)</script></html>";
    let begun = f.begin(TICKET, "x.png", "image/png", html.len());
    let err = f.put(&begun, &[html]).unwrap_err();
    assert!(
        matches!(
            err,
            AttachmentError::Invalid(ValidationError::MagicMismatch { .. })
        ),
        "{err:?}"
    );
    assert!(f.mem.blobs.is_empty());
}

#[test]
fn upload_urls_are_checked() {
    let f = fixture();
    let begun = f.begin(TICKET, "a.txt", "text/plain", 3);
    let mut bigger = request(&begun);
    bigger.size = 1_000;
    let mut forged = request(&begun);
    forged.signature = "forged".into();
    let mut elsewhere = request(&begun);
    elsewhere.attachment_id = AttachmentId::new();
    for tampered in [bigger, forged, elsewhere] {
        assert_eq!(
            block_on(f.service.receive_upload(&tampered, body(&[b"abc"]))).unwrap_err(),
            AttachmentError::Signature(SignatureError::Invalid)
        );
    }
    // an unexpired URL of an attachment deleted since: not found
    let gone = f.begin(TICKET, "b.txt", "text/plain", 3);
    block_on(f.service.delete(&f.writer, &Lookup::id(gone.attachment.id))).unwrap();
    assert_eq!(f.put(&gone, &[b"abc"]), Err(AttachmentError::NotFound));
    // expired
    f.clock.advance(Duration::minutes(16));
    assert_eq!(
        f.put(&begun, &[b"abc"]),
        Err(AttachmentError::Signature(SignatureError::Expired))
    );
    assert!(f.mem.blobs.is_empty());
}

#[test]
fn an_upload_that_ends_after_the_url_expired_is_discarded() {
    let f = fixture();
    let begun = f.begin(TICKET, "a.txt", "text/plain", 6);
    let clock = f.clock.clone();
    // the clock passes the expiry while the body streams
    let slow = futures::stream::iter([b"abc", b"def"]).map(move |chunk| {
        clock.advance(Duration::minutes(8));
        Ok(Bytes::from_static(chunk))
    });
    let err = block_on(f.service.receive_upload(&request(&begun), Box::pin(slow))).unwrap_err();
    assert_eq!(err, AttachmentError::UploadExpired);
    assert!(f.mem.blobs.is_empty());
}

#[test]
fn confirm_verifies_records_the_checksum_and_is_idempotent() {
    let f = fixture();
    let begun = f.begin(TICKET, "shot.png", "image/png", PNG.len());
    let id = begun.attachment.id;
    assert_eq!(f.confirm(id, None), Err(AttachmentError::NotUploaded));
    assert_eq!(
        f.stored(id).unwrap().state,
        AttachmentState::Pending,
        "stays pending"
    );
    assert_eq!(f.download(id), Err(AttachmentError::NotFound));

    f.put(&begun, &[PNG]).unwrap();
    f.clock.advance(Duration::seconds(5));
    let ready = f.confirm(id, None).unwrap();
    assert_eq!(ready.state, AttachmentState::Ready);
    assert_eq!(ready.size_bytes, PNG.len() as u64);
    assert_eq!(ready.sha256, Some(hex::encode(Sha256::digest(PNG))));
    assert_eq!(ready.sniffed_type.as_deref(), Some("image/png"));
    assert_eq!(ready.upload_expires_at, None);
    assert_eq!(ready.updated_at, START + Duration::seconds(5));
    assert_eq!(f.stored(id).as_ref(), Some(&ready), "persisted");
    assert_eq!(f.download(id).unwrap(), PNG);
    assert!(
        !f.mem.blobs.contains(&ready.upload_key()),
        "the uploaded copy is gone"
    );
    assert_eq!(f.list(SubjectRef::Ticket(TICKET.into())), vec![id]);

    f.clock.advance(Duration::hours(1));
    assert_eq!(
        f.confirm(id, None).unwrap(),
        ready,
        "confirming again changes nothing"
    );
    assert_eq!(f.confirm(id, Some("\"whatever\"")).unwrap(), ready);
}

/// Blobs whose `etag` lets other tasks run first, so two confirms interleave.
struct YieldingBlobs(Arc<crate::memory::MemoryBlobs>);

#[async_trait::async_trait]
impl crate::ports::BlobStore for YieldingBlobs {
    async fn put(&self, key: &str, body: crate::ports::PutBody<'_>) -> Result<u64, BlobError> {
        self.0.put(key, body).await
    }
    async fn get(&self, key: &str) -> Result<crate::ports::BlobReader, BlobError> {
        self.0.get(key).await
    }
    async fn get_range(
        &self,
        key: &str,
        range: std::ops::Range<u64>,
    ) -> Result<crate::ports::BlobReader, BlobError> {
        self.0.get_range(key, range).await
    }
    async fn head(&self, key: &str) -> Result<Option<u64>, BlobError> {
        self.0.head(key).await
    }
    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        self.0.delete(key).await
    }
    async fn etag(&self, key: &str) -> Result<Option<String>, BlobError> {
        let mut yielded = false;
        futures::future::poll_fn(|cx| {
            if yielded {
                std::task::Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        })
        .await;
        self.0.etag(key).await
    }
    async fn check_ready(&self) -> Result<(), BlobError> {
        self.0.check_ready().await
    }
}

#[test]
fn concurrent_confirms_both_answer_the_ready_attachment() {
    let f = fixture();
    let begun = f.begin(TICKET, "a.txt", "text/plain", 6);
    f.put(&begun, &[b"abc", b"def"]).unwrap();
    let ports = crate::services::Ports {
        blobs: Arc::new(YieldingBlobs(f.mem.blobs.clone())),
        ..f.mem.ports.clone()
    };
    let service = AttachmentService::new(ports, UploadPolicy::default());
    let lookup = Lookup::id(begun.attachment.id);
    let (first, second) = block_on(async {
        futures::join!(
            service.confirm(&f.writer, &lookup, None),
            service.confirm(&f.writer, &lookup, None)
        )
    });
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.state, AttachmentState::Ready);
    assert_eq!(
        second, first,
        "the second found the upload gone, and the attachment ready"
    );
    assert_eq!(f.download(first.id).unwrap(), b"abcdef");
    assert_eq!(f.mem.blobs.len(), 1);
}

#[test]
fn concurrent_confirms_quoting_the_etag_both_answer_the_ready_attachment() {
    let f = fixture();
    let begun = f.begin(TICKET, "a.txt", "text/plain", 6);
    let etag = f.put(&begun, &[b"abcdef"]).unwrap().etag.unwrap();
    let ports = crate::services::Ports {
        blobs: Arc::new(YieldingBlobs(f.mem.blobs.clone())),
        ..f.mem.ports.clone()
    };
    let service = AttachmentService::new(ports, UploadPolicy::default());
    let lookup = Lookup::id(begun.attachment.id);
    let (first, second) = block_on(async {
        futures::join!(
            service.confirm(&f.writer, &lookup, Some(&etag)),
            service.confirm(&f.writer, &lookup, Some(&etag))
        )
    });
    assert_eq!(first.unwrap(), second.unwrap());
    assert_eq!(
        f.stored(begun.attachment.id).unwrap().state,
        AttachmentState::Ready
    );
    assert_eq!(f.download(begun.attachment.id).unwrap(), b"abcdef");
}

#[test]
fn a_later_put_replaces_an_earlier_one_until_confirmed() {
    let f = fixture();
    let begun = f.begin(TICKET, "a.txt", "text/plain", 4);
    f.put(&begun, &[b"aaaa"]).unwrap();
    f.put(&begun, &[b"bb", b"bb"]).unwrap();
    let ready = f.confirm(begun.attachment.id, None).unwrap();
    assert_eq!(f.download(ready.id).unwrap(), b"bbbb");
    assert_eq!(
        f.put(&begun, &[b"cccc"]),
        Err(AttachmentError::NotPending(AttachmentState::Ready))
    );
    assert_eq!(
        f.download(ready.id).unwrap(),
        b"bbbb",
        "verified bytes stay"
    );
    assert_eq!(f.mem.blobs.len(), 1);
}

#[test]
fn bytes_still_arriving_when_confirm_ends_never_replace_verified_ones() {
    let f = fixture();
    let begun = f.begin(TICKET, "a.txt", "text/plain", 4);
    f.put(&begun, &[b"good"]).unwrap();
    let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Bytes, BodyError>>();
    let signed = request(&begun);
    let late = f.service.receive_upload(&signed, Box::pin(rx));
    let meanwhile = async {
        tx.unbounded_send(Ok(Bytes::from_static(b"ev"))).unwrap();
        let confirmed = f
            .service
            .confirm(&f.writer, &Lookup::id(begun.attachment.id), None)
            .await;
        tx.unbounded_send(Ok(Bytes::from_static(b"il"))).unwrap();
        drop(tx);
        confirmed
    };
    let (late, confirmed) = block_on(async { futures::join!(late, meanwhile) });
    assert_eq!(confirmed.unwrap().state, AttachmentState::Ready);
    assert_eq!(
        late,
        Err(AttachmentError::NotPending(AttachmentState::Ready))
    );
    assert_eq!(f.download(begun.attachment.id).unwrap(), b"good");
    assert_eq!(f.mem.blobs.len(), 1, "the late bytes were dropped");
}

#[test]
fn bytes_of_the_wrong_size_or_type_fail_verification_and_are_deleted() {
    // as if uploaded straight to an object store, which checks nothing
    let cases: [(&str, &str, usize, &[u8]); 3] = [
        ("short.txt", "text/plain", 10, b"abc"),
        ("long.txt", "text/plain", 3, b"abcdef"),
        ("fake.png", "image/png", 14, b"<html></html>\n"),
    ];
    for (name, ct, declared, bytes) in cases {
        let f = fixture();
        let begun = f.begin(TICKET, name, ct, declared);
        let id = begun.attachment.id;
        f.mem.blobs.insert(&begun.attachment.upload_key(), bytes);
        let err = f.confirm(id, None).unwrap_err();
        match (&err, name) {
            (
                AttachmentError::VerificationFailed(ValidationError::SizeMismatch {
                    declared: d,
                    actual,
                }),
                "short.txt" | "long.txt",
            ) => assert_eq!((*d, *actual), (declared as u64, bytes.len() as u64)),
            (
                AttachmentError::VerificationFailed(ValidationError::MagicMismatch { .. }),
                "fake.png",
            ) => {}
            _ => panic!("{name}: {err:?}"),
        }
        let failed = f.stored(id).unwrap();
        assert_eq!(failed.state, AttachmentState::VerificationFailed, "{name}");
        assert_eq!(failed.upload_expires_at, None);
        assert!(f.mem.blobs.is_empty(), "{name}: no bytes left");
        assert_eq!(f.download(id), Err(AttachmentError::NotFound));
        assert_eq!(
            f.confirm(id, None),
            Err(AttachmentError::NotPending(
                AttachmentState::VerificationFailed
            ))
        );
        assert_eq!(
            f.put(&begun, &[bytes]),
            Err(AttachmentError::NotPending(
                AttachmentState::VerificationFailed
            ))
        );
    }
}

#[test]
fn a_quoted_etag_must_be_the_stored_objects() {
    let f = fixture();
    let good = f.begin(TICKET, "a.txt", "text/plain", 3);
    let etag = f.put(&good, &[b"abc"]).unwrap().etag.unwrap();
    assert!(etag.starts_with('"'), "entity tags come quoted: {etag}");
    let bare = etag.trim_matches('"');
    assert_eq!(
        f.confirm(good.attachment.id, Some(bare)).unwrap().state,
        AttachmentState::Ready,
        "quotes do not matter"
    );

    let bad = f.begin(TICKET, "b.txt", "text/plain", 3);
    f.put(&bad, &[b"abc"]).unwrap();
    let err = f
        .confirm(bad.attachment.id, Some("\"not-it\""))
        .unwrap_err();
    assert!(
        matches!(&err, AttachmentError::ETagMismatch { declared, .. } if declared == "not-it"),
        "{err:?}"
    );
    assert_eq!(
        f.stored(bad.attachment.id).unwrap().state,
        AttachmentState::ChecksumMismatch
    );
    assert!(!f.mem.blobs.contains(&bad.attachment.upload_key()));
    assert_eq!(
        f.download(bad.attachment.id),
        Err(AttachmentError::NotFound)
    );
    // an empty ETag is no ETag
    let none = f.begin(TICKET, "c.txt", "text/plain", 3);
    f.put(&none, &[b"abc"]).unwrap();
    assert!(f.confirm(none.attachment.id, Some("")).is_ok());
}

#[test]
fn confirm_is_scoped_and_ends_with_the_upload_url() {
    let f = fixture();
    let begun = f.begin(TICKET, "a.txt", "text/plain", 3);
    let id = begun.attachment.id;
    f.put(&begun, &[b"abc"]).unwrap();
    let stranger = principal(TenantId(Uuid::now_v7()), Scopes::ALL);
    assert_eq!(
        block_on(f.service.confirm(&stranger, &Lookup::id(id), None)),
        Err(AttachmentError::NotFound)
    );
    let reader = principal(
        f.writer.tenant_id,
        Scopes::parse("attachments:read").unwrap(),
    );
    assert_eq!(
        block_on(f.service.confirm(&reader, &Lookup::id(id), None)),
        Err(AttachmentError::Forbidden(Scope::Write))
    );
    assert_eq!(
        block_on(f.service.confirm(
            &f.writer,
            &Lookup::within(id, SubjectRef::Ticket("other".into())),
            None
        )),
        Err(AttachmentError::NotFound)
    );
    f.clock
        .advance(Duration::minutes(15) + Duration::seconds(1));
    assert_eq!(f.confirm(id, None), Err(AttachmentError::UploadExpired));
    assert_eq!(f.stored(id).unwrap().state, AttachmentState::Pending);
    assert_eq!(f.download(id), Err(AttachmentError::NotFound));
}

#[test]
fn messages_link_ready_attachments_of_their_ticket() {
    let f = fixture();
    let a = f.ready_png(TICKET);
    let b = f.ready_png(TICKET);
    let loose = f.ready_png(TICKET);
    let msg = f.post(TICKET, vec![a.id, b.id, a.id]).unwrap();
    assert_eq!(
        msg.attachment_ids,
        vec![a.id, b.id],
        "duplicates count once"
    );
    assert_eq!(msg.ticket_id, TICKET);
    assert_eq!(msg.tenant_id, f.writer.tenant_id);
    assert_eq!(msg.created_at, START);
    let on_message = f.list(SubjectRef::Message(msg.id.to_string()));
    let mut expected = vec![a.id, b.id];
    expected.sort();
    assert_eq!(on_message, expected);
    let on_ticket = f.list(SubjectRef::Ticket(TICKET.into()));
    assert_eq!(on_ticket.len(), 3, "the ticket lists linked and loose ones");
    assert!(on_ticket.contains(&loose.id));
    assert_eq!(
        f.stored(a.id).unwrap().subject.message_id,
        Some(msg.id.to_string())
    );
    // a message of text alone is fine too
    let text = block_on(f.service.post_message(
        &f.writer,
        NewMessage {
            ticket_id: TICKET.into(),
            body: "hello".into(),
            attachment_ids: vec![],
        },
    ))
    .unwrap();
    assert!(f.list(SubjectRef::Message(text.id.to_string())).is_empty());
}

#[test]
fn a_message_links_all_or_nothing() {
    let f = fixture();
    let ready = f.ready_png(TICKET);
    let pending = f.begin(TICKET, "p.txt", "text/plain", 3).attachment;
    let elsewhere = f.ready_png("other-ticket");
    let linked = f.ready_png(TICKET);
    f.post(TICKET, vec![linked.id]).unwrap();
    let foreign = {
        let other = Fixture {
            writer: principal(TenantId(Uuid::now_v7()), Scopes::ALL),
            ..fixture()
        };
        let a = other.ready_png(TICKET);
        // the same stores, so the id exists, in another tenant
        block_on(f.mem.ports.attachments.insert(&a)).unwrap();
        a
    };
    let unknown = AttachmentId::new();
    let cases = [
        (unknown, LinkRefusal::Unknown),
        (foreign.id, LinkRefusal::Unknown),
        (pending.id, LinkRefusal::NotReady),
        (elsewhere.id, LinkRefusal::OtherTicket),
        (linked.id, LinkRefusal::AlreadyLinked),
    ];
    for (bad, reason) in cases {
        assert_eq!(
            f.post(TICKET, vec![ready.id, bad]),
            Err(AttachmentError::NotLinkable { id: bad, reason })
        );
        assert_eq!(
            f.stored(ready.id).unwrap().subject.message_id,
            None,
            "nothing linked ({reason:?})"
        );
    }
    let reader = principal(
        f.writer.tenant_id,
        Scopes::parse("attachments:read").unwrap(),
    );
    let denied = block_on(f.service.post_message(
        &reader,
        NewMessage {
            ticket_id: TICKET.into(),
            body: "x".into(),
            attachment_ids: vec![ready.id],
        },
    ));
    assert_eq!(denied, Err(AttachmentError::Forbidden(Scope::Write)));
    let bad_messages = [
        ("x".repeat(MAX_MESSAGE_BODY_BYTES + 1), vec![]),
        (" ".into(), vec![]),
        (
            "many".into(),
            (0..=MAX_MESSAGE_ATTACHMENTS)
                .map(|_| AttachmentId::new())
                .collect(),
        ),
    ];
    for (text, ids) in bad_messages {
        let refused = block_on(f.service.post_message(
            &f.writer,
            NewMessage {
                ticket_id: TICKET.into(),
                body: text,
                attachment_ids: ids,
            },
        ));
        assert!(
            matches!(refused, Err(AttachmentError::InvalidMessage(_))),
            "{refused:?}"
        );
    }
    assert!(f.post(TICKET, vec![ready.id]).is_ok(), "still linkable");
}

#[test]
fn the_sweeper_removes_expired_uploads_uploads_with_their_bytes() {
    let f = fixture();
    let abandoned = f.begin(TICKET, "a.txt", "text/plain", 3);
    f.put(&abandoned, &[b"abc"]).unwrap();
    let never_sent = f.begin(TICKET, "b.txt", "text/plain", 3);
    let kept = f.ready_png(TICKET);
    f.clock.advance(Duration::minutes(10));
    let fresh = f.begin(TICKET, "c.txt", "text/plain", 3);
    f.put(&fresh, &[b"abc"]).unwrap();

    assert_eq!(
        block_on(f.service.sweep_expired(10)),
        Ok(0),
        "nothing expired yet"
    );
    f.clock.advance(Duration::minutes(6));
    assert_eq!(
        block_on(f.service.sweep_expired(1)),
        Ok(1),
        "at most the limit"
    );
    assert_eq!(block_on(f.service.sweep_expired(10)), Ok(1));
    assert_eq!(block_on(f.service.sweep_expired(10)), Ok(0));
    for gone in [&abandoned, &never_sent] {
        assert_eq!(f.stored(gone.attachment.id), None);
        assert!(!f.mem.blobs.contains(&gone.attachment.upload_key()));
    }
    assert_eq!(
        f.stored(fresh.attachment.id).unwrap().state,
        AttachmentState::Pending
    );
    assert!(f.mem.blobs.contains(&fresh.attachment.upload_key()));
    assert_eq!(f.download(kept.id).unwrap(), PNG);
    f.clock.advance(Duration::minutes(10));
    assert_eq!(block_on(f.service.sweep_expired(10)), Ok(1));
    assert_eq!(
        f.mem.blobs.len(),
        1,
        "only the ready attachment's bytes remain"
    );
}

#[test]
fn deleting_a_pending_upload_removes_its_bytes() {
    let f = fixture();
    let begun = f.begin(TICKET, "a.txt", "text/plain", 3);
    f.put(&begun, &[b"abc"]).unwrap();
    block_on(
        f.service
            .delete(&f.writer, &Lookup::id(begun.attachment.id)),
    )
    .unwrap();
    assert!(f.mem.blobs.is_empty());
    assert_eq!(
        f.confirm(begun.attachment.id, None),
        Err(AttachmentError::NotFound)
    );
}
