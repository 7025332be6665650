//! Messages linking ready attachments, the sweeper, and deleting pending uploads.

use super::*;

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
        block_on(f.service.sweep_expired(10)).map(|s| s.removed),
        Ok(0),
        "nothing expired yet"
    );
    f.clock.advance(Duration::minutes(6));
    assert_eq!(
        block_on(f.service.sweep_expired(1)).map(|s| s.removed),
        Ok(1),
        "at most the limit"
    );
    assert_eq!(
        block_on(f.service.sweep_expired(10)).map(|s| s.removed),
        Ok(1)
    );
    assert_eq!(
        block_on(f.service.sweep_expired(10)).map(|s| s.removed),
        Ok(0)
    );
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
    assert_eq!(
        block_on(f.service.sweep_expired(10)).map(|s| s.removed),
        Ok(1)
    );
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

/// An upload whose request outlives its deadline: the sweeper claims it while
/// its body is still arriving, so its commit can no longer win, and neither
/// its row nor its bytes outlive the race.
#[test]
fn a_sweep_racing_a_commit_leaves_the_upload_gone_whole() {
    let f = fixture();
    let (send, chunks) = futures::channel::mpsc::unbounded::<Result<Bytes, BodyError>>();
    let upload = crate::services::NewUpload {
        subject: Subject::ticket(TICKET),
        filename: "late.txt".into(),
        content_type: Some("text/plain".into()),
        ..crate::services::NewUpload::default()
    };
    let (uploaded, swept) = block_on(async {
        futures::join!(
            f.service.upload(&f.writer, upload, Box::pin(chunks)),
            async {
                send.unbounded_send(Ok(Bytes::from_static(b"half")))
                    .unwrap();
                futures::pending!(); // the upload takes its first chunk
                f.clock.advance(Duration::hours(2));
                let swept = f.service.sweep_expired(10).await.unwrap();
                send.unbounded_send(Ok(Bytes::from_static(b" and the rest")))
                    .unwrap();
                send.close_channel();
                swept
            }
        )
    });
    assert_eq!((swept.listed, swept.removed), (1, 1), "{swept:?}");
    assert_eq!(uploaded, Err(AttachmentError::NotFound), "the sweep won");
    assert!(f.mem.blobs.is_empty(), "no bytes left behind");
    let listed = f.list(SubjectRef::Ticket(TICKET.to_owned()));
    assert!(listed.is_empty(), "nothing listed");
}

/// The sweeper claims an abandoned upload, then fails to delete its bytes: it
/// says so, keeps the claimed row, and the next sweep finishes the job.
#[test]
fn a_failing_object_delete_is_swept_again_later() {
    let f = fixture();
    let abandoned = f.begin(TICKET, "a.txt", "text/plain", 3);
    f.put(&abandoned, &[b"abc"]).unwrap();
    f.clock.advance(Duration::hours(1));
    f.mem.faults.arm(Fault::BlobDeleteFails);
    let first = block_on(f.service.sweep_expired(10)).unwrap();
    assert_eq!((first.listed, first.removed, first.failed.len()), (1, 0, 1));
    let claimed = f.stored(abandoned.attachment.id).unwrap();
    assert_eq!(claimed.state, AttachmentState::UploadFailed);
    assert!(f.mem.blobs.contains(&abandoned.attachment.upload_key()));
    let again = block_on(f.service.sweep_expired(10)).unwrap();
    assert_eq!((again.listed, again.removed), (1, 1), "{again:?}");
    assert_eq!(f.stored(abandoned.attachment.id), None);
    assert!(f.mem.blobs.is_empty());
}

/// A confirmed upload's URL still works until it expires: what a replay
/// writes to the staged key then is deleted by the first sweep after.
#[test]
fn a_replay_after_the_confirm_is_swept_once_the_url_expired() {
    let f = fixture();
    let ready = f.ready_png(TICKET);
    let staged = ready.upload_key();
    f.mem.blobs.insert(&staged, b"replayed");
    let nothing_yet = block_on(f.service.sweep_expired(10)).unwrap();
    assert_eq!(nothing_yet.listed, 0, "the URL still works");
    f.clock.advance(Duration::minutes(16));
    let swept = block_on(f.service.sweep_expired(10)).unwrap();
    assert_eq!((swept.listed, swept.removed), (1, 0), "{swept:?}");
    assert!(!f.mem.blobs.contains(&staged));
    let kept = f.stored(ready.id).unwrap();
    assert_eq!(
        (kept.state, kept.upload_expires_at),
        (AttachmentState::Ready, None)
    );
    assert_eq!(f.download(ready.id).unwrap(), PNG);
    assert_eq!(block_on(f.service.sweep_expired(10)).unwrap().listed, 0);
}

/// A deleted upload's URL still works until it expires: its tombstone stays,
/// hidden and costing nothing, until then, so what a replay writes to the
/// staged key is deleted by the first sweep after, with the tombstone.
#[test]
fn a_replay_after_a_delete_is_swept_once_the_url_expired() {
    let f = fixture();
    let ready = f.ready_png(TICKET);
    block_on(f.service.delete(&f.writer, &Lookup::id(ready.id))).unwrap();
    assert_eq!(f.download(ready.id), Err(AttachmentError::NotFound));
    assert!(f.mem.blobs.is_empty(), "the bytes go at once");
    let quota = block_on(f.mem.ports.attachments.quota(f.writer.tenant_id)).unwrap();
    assert_eq!(
        quota.usage,
        crate::QuotaUsage::default(),
        "and so does the charge"
    );
    let staged = ready.upload_key();
    f.mem.blobs.insert(&staged, b"replayed");
    assert_eq!(block_on(f.service.sweep_expired(10)).unwrap().listed, 0);
    let later = START + Duration::days(1);
    let waiting = block_on(f.mem.ports.attachments.expired_uploads(later, 10)).unwrap();
    assert_eq!(waiting.len(), 1, "the tombstone waits for the URL's expiry");
    assert_eq!(waiting[0].state, AttachmentState::Deleted);
    f.clock.advance(Duration::minutes(16));
    let swept = block_on(f.service.sweep_expired(10)).unwrap();
    assert_eq!((swept.listed, swept.removed), (1, 1), "{swept:?}");
    assert!(f.mem.blobs.is_empty(), "the replayed bytes are gone");
    assert_eq!(f.stored(ready.id), None, "and so is the tombstone");
}
