//! Upload URLs: what begin_upload records, and the bytes they receive.

use super::*;

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
