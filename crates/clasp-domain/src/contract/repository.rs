use crate::attachment::{Attachment, AttachmentId, Subject, SubjectRef};
use crate::message::{Message, MessageId};
use crate::ports::{AttachmentRepository, RepoError};
use crate::state::AttachmentState;
use crate::tenant::TenantId;

use super::{fresh_tenant, instant};

fn attachment(tenant: TenantId, ticket: &str, created: i64, state: AttachmentState) -> Attachment {
    Attachment {
        id: AttachmentId::new(),
        number: 0,
        tenant_id: tenant,
        subject: Subject {
            ticket_id: Some(ticket.to_owned()),
            message_id: Some("m-1".into()),
            case_id: None,
            room_id: Some("7".into()),
        },
        filename: "résumé \"final\".pdf".into(),
        content_type: "application/pdf".into(),
        sniffed_type: Some("application/pdf".into()),
        size_bytes: 31_457_280,
        sha256: Some("ab".repeat(32)),
        declared_checksum: None,
        state,
        description: Some("a description".into()),
        tags: vec!["t1".into(), "t,2".into()],
        locale: Some("en_US".into()),
        uploaded_by: "user-1".into(),
        thumbnail_key: None,
        upload_expires_at: None,
        failure_reason: None,
        created_at: instant(created),
        updated_at: instant(created),
    }
}

/// The [`AttachmentRepository`] contract.
pub async fn attachment_repository(repo: &dyn AttachmentRepository) {
    let tenant = fresh_tenant().id;
    let other = fresh_tenant().id;

    // a store handed out (opened, migrated) is ready
    repo.check_ready().await.unwrap();

    // insert numbers rows uniquely and increasingly; get round-trips every field
    let mut a = attachment(tenant, "T1", 10, AttachmentState::Ready);
    let mut b = attachment(tenant, "T1", 5, AttachmentState::Ready);
    a.number = repo.insert(&a).await.unwrap();
    b.number = repo.insert(&b).await.unwrap();
    assert!(b.number > a.number, "numbers increase");
    assert_eq!(
        repo.get(tenant, a.id).await.unwrap().as_ref(),
        Some(&a),
        "round trip"
    );
    assert!(
        matches!(repo.insert(&a).await, Err(RepoError::Conflict(_))),
        "duplicate id conflicts"
    );

    // tenants are isolated
    assert_eq!(
        repo.get(other, a.id).await.unwrap(),
        None,
        "other tenant cannot read"
    );
    assert!(
        !repo.delete(other, a.id, None).await.unwrap(),
        "other tenant cannot delete"
    );
    let mut stolen = a.clone();
    stolen.tenant_id = other;
    assert!(
        !repo.update(&stolen, None).await.unwrap(),
        "other tenant cannot update"
    );

    // list_ready: only ready, only the subject, oldest first, ties by id
    let pending = attachment(tenant, "T1", 1, AttachmentState::Uploading);
    repo.insert(&pending).await.unwrap();
    let elsewhere = attachment(tenant, "T2", 1, AttachmentState::Ready);
    repo.insert(&elsewhere).await.unwrap();
    let mut tie = attachment(tenant, "T1", 5, AttachmentState::Ready);
    tie.number = repo.insert(&tie).await.unwrap();
    let foreign = attachment(other, "T1", 1, AttachmentState::Ready);
    repo.insert(&foreign).await.unwrap();
    let listed: Vec<AttachmentId> = repo
        .list_ready(tenant, &SubjectRef::Ticket("T1".into()), usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.id)
        .collect();
    let mut ties = [b.id, tie.id];
    ties.sort();
    assert_eq!(listed, vec![ties[0], ties[1], a.id]);
    let first_two: Vec<AttachmentId> = repo
        .list_ready(tenant, &SubjectRef::Ticket("T1".into()), 2)
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(first_two, listed[..2], "at most the limit, oldest first");
    let by_room = repo
        .list_ready(tenant, &SubjectRef::Room("7".into()), usize::MAX)
        .await
        .unwrap();
    assert_eq!(by_room.len(), 4);
    assert!(
        repo.list_ready(tenant, &SubjectRef::Case("T1".into()), usize::MAX)
            .await
            .unwrap()
            .is_empty()
    );

    // update persists every mutable field
    let mut p = pending.clone();
    p.number = repo.get(tenant, p.id).await.unwrap().unwrap().number;
    p.state = AttachmentState::Verifying;
    p.size_bytes = 42;
    p.sha256 = Some("cd".repeat(32));
    p.declared_checksum = Some("ef".repeat(32));
    p.sniffed_type = None;
    p.thumbnail_key = Some("thumbs/x".into());
    p.upload_expires_at = Some(instant(900));
    p.failure_reason = Some("infected: Test.Signature".into());
    p.subject.message_id = None;
    p.updated_at = instant(99);
    assert!(repo.update(&p, None).await.unwrap());
    assert_eq!(repo.get(tenant, p.id).await.unwrap(), Some(p.clone()));

    // delete removes once
    assert!(repo.delete(tenant, a.id, None).await.unwrap());
    assert!(!repo.delete(tenant, a.id, None).await.unwrap());
    assert_eq!(repo.get(tenant, a.id).await.unwrap(), None);
    assert!(
        !repo.update(&a, None).await.unwrap(),
        "update of a deleted row reports it"
    );

    messages(repo).await;
    writes_follow_the_machine(repo).await;
    expired_uploads(repo).await;
    super::listing::listing(repo).await;
    numbers_and_thumbnails(repo).await;
    purge(repo).await;
}

/// What a tenant's purge reads and forgets: every row of the tenant in any
/// state, tombstones included, a batch at a time; then its messages and quota,
/// and nothing of another tenant.
async fn purge(repo: &dyn AttachmentRepository) {
    use crate::quota::{Quota, QuotaLimits};
    let (tenant, other) = (fresh_tenant().id, fresh_tenant().id);
    let mut ready = loose(tenant, "T", 1);
    ready.number = repo.insert(&ready).await.unwrap();
    for (created, state) in [(2, AttachmentState::Pending), (3, AttachmentState::Deleted)] {
        repo.insert(&attachment(tenant, "T", created, state))
            .await
            .unwrap();
    }
    let theirs = loose(other, "T", 1);
    repo.insert(&theirs).await.unwrap();
    let posted = message(tenant, "T", vec![ready.id]);
    assert!(repo.create_message(&posted).await.unwrap());
    let limits = QuotaLimits {
        max_bytes: Some(1 << 40),
        max_attachments: None,
    };
    repo.set_quota_limits(tenant, limits).await.unwrap();
    repo.set_quota_limits(other, limits).await.unwrap();

    let first = repo.any_of_tenant(tenant, 2).await.unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].id, ready.id, "oldest number first");
    let all = repo.any_of_tenant(tenant, 10).await.unwrap();
    assert_eq!(all.len(), 3, "every state, the tombstone too");
    for a in &all {
        assert!(repo.delete(tenant, a.id, None).await.unwrap());
    }
    assert!(repo.any_of_tenant(tenant, 10).await.unwrap().is_empty());
    repo.forget_tenant(tenant).await.unwrap();
    assert_eq!(repo.quota(tenant).await.unwrap(), Quota::default());
    let mut again = posted.clone();
    again.attachment_ids = vec![];
    assert!(
        !matches!(
            repo.create_message(&again).await,
            Err(RepoError::Conflict(_))
        ),
        "its messages are gone"
    );
    assert_eq!(
        repo.quota(other).await.unwrap().limits,
        limits,
        "another tenant's stays"
    );
    assert_eq!(repo.any_of_tenant(other, 10).await.unwrap().len(), 1);
}

/// `update` is compare-and-set along the state machine: of a sweep claiming an
/// upload (`UploadFailed`) and a commit (`Ready`), whichever lands first wins
/// and the other changes nothing.
async fn writes_follow_the_machine(repo: &dyn AttachmentRepository) {
    let tenant = fresh_tenant().id;
    let as_state = |a: &Attachment, state| Attachment { state, ..a.clone() };
    for (first, second) in [
        (AttachmentState::UploadFailed, AttachmentState::Ready),
        (AttachmentState::Ready, AttachmentState::UploadFailed),
    ] {
        let mut row = attachment(tenant, "T-cas", 1, AttachmentState::Uploading);
        row.number = repo.insert(&row).await.unwrap();
        assert!(repo.update(&as_state(&row, first), None).await.unwrap());
        assert!(
            !repo.update(&as_state(&row, second), None).await.unwrap(),
            "{second:?} over {first:?}"
        );
        let stored = repo.get(tenant, row.id).await.unwrap().unwrap();
        assert_eq!(stored.state, first, "the first write stands");
        assert!(
            repo.update(&as_state(&row, first), None).await.unwrap(),
            "a state may be written over itself"
        );
    }
}

/// `get_by_number` (tenant-scoped, any state) and `set_thumbnail` (only the
/// thumbnail and `updated_at` of a ready attachment).
async fn numbers_and_thumbnails(repo: &dyn AttachmentRepository) {
    let tenant = fresh_tenant().id;
    let other = fresh_tenant().id;
    let mut ready = attachment(tenant, "T-num", 1, AttachmentState::Ready);
    ready.number = repo.insert(&ready).await.unwrap();
    let mut pending = attachment(tenant, "T-num", 2, AttachmentState::Pending);
    pending.number = repo.insert(&pending).await.unwrap();
    assert_eq!(
        repo.get_by_number(tenant, ready.number).await.unwrap(),
        Some(ready.clone())
    );
    assert_eq!(
        repo.get_by_number(tenant, pending.number).await.unwrap(),
        Some(pending.clone()),
        "any state"
    );
    assert_eq!(
        repo.get_by_number(other, ready.number).await.unwrap(),
        None,
        "other tenant cannot read by number"
    );
    assert_eq!(repo.get_by_number(tenant, -1).await.unwrap(), None);

    // numbers are counted per tenant from 1, and never given twice
    assert_eq!((ready.number, pending.number), (1, 2));
    let mut theirs = attachment(other, "T-num", 3, AttachmentState::Ready);
    theirs.number = repo.insert(&theirs).await.unwrap();
    assert_eq!(theirs.number, 1, "another tenant counts from 1");
    assert_eq!(
        repo.get_by_number(other, 1).await.unwrap().map(|a| a.id),
        Some(theirs.id)
    );

    // another writer changed the subject since `ready` was read: the thumbnail
    // must not undo it
    let mut linked = ready.clone();
    linked.subject.message_id = Some("m-linked".into());
    assert!(repo.update(&linked, None).await.unwrap());
    assert!(
        !repo
            .set_thumbnail(other, ready.id, "k", instant(60), None)
            .await
            .unwrap(),
        "other tenant cannot set a thumbnail"
    );
    assert!(
        !repo
            .set_thumbnail(tenant, pending.id, "k", instant(60), None)
            .await
            .unwrap(),
        "only ready attachments get thumbnails"
    );
    assert_eq!(
        repo.get(tenant, pending.id).await.unwrap(),
        Some(pending.clone())
    );
    assert!(
        repo.set_thumbnail(tenant, ready.id, "thumbs/r", instant(60), None)
            .await
            .unwrap()
    );
    let mut expected = linked.clone();
    expected.thumbnail_key = Some("thumbs/r".into());
    expected.updated_at = instant(60);
    assert_eq!(repo.get(tenant, ready.id).await.unwrap(), Some(expected));
    assert!(repo.delete(tenant, ready.id, None).await.unwrap());
    assert!(
        !repo
            .set_thumbnail(tenant, ready.id, "k", instant(61), None)
            .await
            .unwrap(),
        "a deleted attachment gets no thumbnail"
    );

    // a deleted attachment's number is not given again
    assert!(repo.delete(tenant, pending.id, None).await.unwrap());
    let mut next = attachment(tenant, "T-num", 4, AttachmentState::Ready);
    next.number = repo.insert(&next).await.unwrap();
    assert_eq!(
        next.number, 3,
        "a deleted attachment's number is not given again"
    );
    assert_eq!(repo.get_by_number(tenant, 2).await.unwrap(), None);
}

/// A ready attachment on `ticket`, on no message.
fn loose(tenant: TenantId, ticket: &str, created: i64) -> Attachment {
    let mut a = attachment(tenant, ticket, created, AttachmentState::Ready);
    a.subject.message_id = None;
    a.subject.room_id = None;
    a
}

fn message(tenant: TenantId, ticket: &str, ids: Vec<AttachmentId>) -> Message {
    Message {
        id: MessageId::new(),
        tenant_id: tenant,
        ticket_id: ticket.to_owned(),
        body: "see \"attached\" ✓".into(),
        attachment_ids: ids,
        created_at: instant(500),
    }
}

async fn message_of(
    repo: &dyn AttachmentRepository,
    tenant: TenantId,
    id: AttachmentId,
) -> Option<String> {
    repo.get(tenant, id)
        .await
        .unwrap()
        .unwrap()
        .subject
        .message_id
}

/// `create_message`: all or nothing.
async fn messages(repo: &dyn AttachmentRepository) {
    let tenant = fresh_tenant().id;
    let other = fresh_tenant().id;
    let ticket = "T-msg";
    let a1 = loose(tenant, ticket, 1);
    let a2 = loose(tenant, ticket, 2);
    let mut pending = loose(tenant, ticket, 3);
    pending.state = AttachmentState::Pending;
    pending.upload_expires_at = Some(instant(1000));
    let elsewhere = loose(tenant, "T-else", 4);
    let mut on_message = loose(tenant, ticket, 5);
    on_message.subject.message_id = Some("m-host".into());
    let foreign = loose(other, ticket, 6);
    for a in [&a1, &a2, &pending, &elsewhere, &on_message, &foreign] {
        repo.insert(a).await.unwrap();
    }

    // any unlinkable id: nothing changes, and the message is not stored
    let refused = [
        (pending.id, "not ready"),
        (elsewhere.id, "another ticket"),
        (on_message.id, "on a message already"),
        (foreign.id, "another tenant's"),
        (AttachmentId::new(), "unknown"),
    ];
    for (bad, why) in refused {
        let m = message(tenant, ticket, vec![a1.id, bad, a2.id]);
        assert!(!repo.create_message(&m).await.unwrap(), "{why}");
        assert_eq!(
            message_of(repo, tenant, a1.id).await,
            None,
            "{why}: a1 untouched"
        );
        assert_eq!(
            message_of(repo, tenant, a2.id).await,
            None,
            "{why}: a2 untouched"
        );
        // had it been stored, storing it again would conflict
        let mut again = m.clone();
        again.attachment_ids = vec![];
        assert!(
            repo.create_message(&again).await.unwrap(),
            "{why}: the id was free"
        );
    }
    assert_eq!(message_of(repo, other, foreign.id).await, None);
    assert_eq!(
        message_of(repo, tenant, on_message.id).await.as_deref(),
        Some("m-host")
    );

    // the ticket must be the message's, in the message's tenant
    let wrong_ticket = message(tenant, "T-else", vec![a1.id]);
    assert!(!repo.create_message(&wrong_ticket).await.unwrap());
    let wrong_tenant = message(other, ticket, vec![a1.id]);
    assert!(!repo.create_message(&wrong_tenant).await.unwrap());

    // all linkable: linked at once, listed under the message and still the ticket
    let m = message(tenant, ticket, vec![a2.id, a1.id]);
    assert!(repo.create_message(&m).await.unwrap());
    let by_message: Vec<AttachmentId> = repo
        .list_ready(tenant, &SubjectRef::Message(m.id.to_string()), usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(by_message, vec![a1.id, a2.id], "oldest first");
    let linked = repo.get(tenant, a1.id).await.unwrap().unwrap();
    assert_eq!(linked.subject.message_id, Some(m.id.to_string()));
    assert_eq!(linked.subject.ticket_id.as_deref(), Some(ticket));
    assert_eq!(linked.updated_at, m.created_at, "linking stamps updated_at");
    let by_ticket = repo
        .list_ready(tenant, &SubjectRef::Ticket(ticket.into()), usize::MAX)
        .await
        .unwrap();
    assert!(by_ticket.iter().any(|x| x.id == a1.id) && by_ticket.iter().any(|x| x.id == a2.id));

    // linked once only; a message id is unique
    let twice = message(tenant, ticket, vec![a1.id]);
    assert!(!repo.create_message(&twice).await.unwrap());
    let a3 = loose(tenant, ticket, 7);
    repo.insert(&a3).await.unwrap();
    let mut same_id = message(tenant, ticket, vec![a3.id]);
    same_id.id = m.id;
    assert!(matches!(
        repo.create_message(&same_id).await,
        Err(RepoError::Conflict(_))
    ));
    assert_eq!(
        message_of(repo, tenant, a3.id).await,
        None,
        "a conflict links nothing"
    );

    // two messages racing for the same attachments: exactly one links them
    let a4 = loose(tenant, ticket, 8);
    repo.insert(&a4).await.unwrap();
    let first = message(tenant, ticket, vec![a3.id, a4.id]);
    let second = message(tenant, ticket, vec![a4.id, a3.id]);
    let (x, y) = futures::join!(repo.create_message(&first), repo.create_message(&second));
    assert!(x.unwrap() ^ y.unwrap(), "one and only one wins");
    let winner = message_of(repo, tenant, a3.id).await;
    assert_eq!(
        message_of(repo, tenant, a4.id).await,
        winner,
        "both to the same one"
    );
}

/// `expired_uploads`: the rows past their upload deadline, in any state,
/// soonest first, at most `limit`, of every tenant; `clear_upload_deadline`
/// forgets a kept row's.
async fn expired_uploads(repo: &dyn AttachmentRepository) {
    let tenant = fresh_tenant().id;
    let other = fresh_tenant().id;
    let pending = |tenant, expires: Option<i64>| {
        let mut a = loose(tenant, "T-exp", 1);
        a.state = AttachmentState::Pending;
        a.upload_expires_at = expires.map(instant);
        a
    };
    let late = pending(tenant, Some(-100));
    let early = pending(other, Some(-200));
    let at_the_limit = pending(tenant, Some(-50));
    let not_yet = pending(tenant, Some(-49));
    let no_expiry = pending(tenant, None);
    let mut ready = pending(tenant, Some(-300));
    ready.state = AttachmentState::Ready;
    let mut failed = pending(tenant, Some(-300));
    failed.state = AttachmentState::VerificationFailed;
    // an upload whose request died mid-body
    let mut interrupted = pending(tenant, Some(-150));
    interrupted.state = AttachmentState::Uploading;
    // claimed by a sweep that could not finish; and a failure of its own
    let mut claimed = pending(tenant, Some(-120));
    claimed.state = AttachmentState::UploadFailed;
    let mut given_up = pending(tenant, None);
    given_up.state = AttachmentState::UploadFailed;
    for a in [
        &claimed,
        &given_up,
        &late,
        &early,
        &at_the_limit,
        &not_yet,
        &no_expiry,
        &ready,
        &failed,
        &interrupted,
    ] {
        repo.insert(a).await.unwrap();
    }
    let mine = [tenant, other];
    let found: Vec<AttachmentId> = repo
        .expired_uploads(instant(-50), 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| mine.contains(&a.tenant_id))
        .map(|a| a.id)
        .collect();
    assert_eq!(
        found,
        vec![
            ready.id,
            failed.id,
            early.id,
            interrupted.id,
            claimed.id,
            late.id,
            at_the_limit.id
        ]
    );
    let all = repo.expired_uploads(instant(-50), 1000).await.unwrap();
    assert!(
        all.windows(2)
            .all(|w| w[0].upload_expires_at <= w[1].upload_expires_at),
        "soonest expiry first"
    );
    let got = repo.expired_uploads(instant(-50), 1000).await.unwrap();
    let row = got.iter().find(|a| a.id == late.id).unwrap();
    assert_eq!(
        row,
        &{
            let mut l = late.clone();
            l.number = row.number;
            l
        },
        "whole rows"
    );
    assert!(repo.expired_uploads(instant(-50), 1).await.unwrap().len() <= 1);
    assert!(
        repo.expired_uploads(instant(-50), 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(repo.clear_upload_deadline(tenant, ready.id).await.unwrap());
    assert!(repo.clear_upload_deadline(tenant, failed.id).await.unwrap());
    assert!(
        !repo.clear_upload_deadline(tenant, late.id).await.unwrap(),
        "pending"
    );
    assert!(
        !repo.clear_upload_deadline(other, ready.id).await.unwrap(),
        "another tenant's"
    );
    let kept = repo.get(tenant, ready.id).await.unwrap().unwrap();
    assert_eq!(kept.upload_expires_at, None);
    assert_eq!(kept.state, AttachmentState::Ready, "nothing else changes");
    let left: Vec<AttachmentId> = repo
        .expired_uploads(instant(-50), 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert!(!left.contains(&ready.id) && !left.contains(&failed.id));
}
