//! Confirm: verification, idempotence, racing confirms and puts.

use super::*;

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
    assert_eq!(
        ready.upload_expires_at, begun.attachment.upload_expires_at,
        "kept until the upload URL expires, for the sweeper"
    );
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

/// Two confirms of one upload at once (quoting `etag`, if any), over a blob
/// store that yields at every step so that they interleave: both answers.
fn confirm_twice_at_once(
    f: &Fixture,
    begun: &BegunUpload,
    etag: Option<&str>,
) -> (
    Result<Attachment, AttachmentError>,
    Result<Attachment, AttachmentError>,
) {
    let ports = crate::services::Ports {
        blobs: Arc::new(YieldingBlobs(f.mem.blobs.clone())),
        ..f.mem.ports.clone()
    };
    let service = AttachmentService::new(ports, UploadPolicy::default());
    let lookup = Lookup::id(begun.attachment.id);
    block_on(async {
        futures::join!(
            service.confirm(&f.writer, &lookup, etag),
            service.confirm(&f.writer, &lookup, etag)
        )
    })
}

#[test]
fn concurrent_confirms_both_answer_the_ready_attachment() {
    let f = fixture();
    let begun = f.begin(TICKET, "a.txt", "text/plain", 6);
    f.put(&begun, &[b"abc", b"def"]).unwrap();
    let (first, second) = confirm_twice_at_once(&f, &begun, None);
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
    let (first, second) = confirm_twice_at_once(&f, &begun, Some(&etag));
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
        assert!(failed.upload_expires_at.is_some(), "kept for the sweeper");
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
