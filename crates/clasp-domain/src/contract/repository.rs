use crate::attachment::{Attachment, AttachmentId, Subject, SubjectRef};
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
        declared_sha256: None,
        state,
        description: Some("a description".into()),
        tags: vec!["t1".into(), "t,2".into()],
        locale: Some("en_US".into()),
        uploaded_by: "user-1".into(),
        thumbnail_key: None,
        created_at: instant(created),
        updated_at: instant(created),
    }
}

/// The [`AttachmentRepository`] contract.
pub async fn attachment_repository(repo: &dyn AttachmentRepository) {
    let tenant = fresh_tenant().id;
    let other = fresh_tenant().id;

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
        !repo.delete(other, a.id).await.unwrap(),
        "other tenant cannot delete"
    );
    let mut stolen = a.clone();
    stolen.tenant_id = other;
    assert!(
        !repo.update(&stolen).await.unwrap(),
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
        .list_ready(tenant, &SubjectRef::Ticket("T1".into()))
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.id)
        .collect();
    let mut ties = [b.id, tie.id];
    ties.sort();
    assert_eq!(listed, vec![ties[0], ties[1], a.id]);
    let by_room = repo
        .list_ready(tenant, &SubjectRef::Room("7".into()))
        .await
        .unwrap();
    assert_eq!(by_room.len(), 4);
    assert!(
        repo.list_ready(tenant, &SubjectRef::Case("T1".into()))
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
    p.declared_sha256 = Some("ef".repeat(32));
    p.sniffed_type = None;
    p.thumbnail_key = Some("thumbs/x".into());
    p.updated_at = instant(99);
    assert!(repo.update(&p).await.unwrap());
    assert_eq!(repo.get(tenant, p.id).await.unwrap(), Some(p.clone()));

    // delete removes once
    assert!(repo.delete(tenant, a.id).await.unwrap());
    assert!(!repo.delete(tenant, a.id).await.unwrap());
    assert_eq!(repo.get(tenant, a.id).await.unwrap(), None);
    assert!(
        !repo.update(&a).await.unwrap(),
        "update of a deleted row reports it"
    );
}
