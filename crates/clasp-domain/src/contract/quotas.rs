//! The quota part of the [`AttachmentRepository`] contract: usage is exactly what
//! the rows are charged, under concurrent inserts, updates and deletes.

use futures::future::join_all;

use crate::attachment::{Attachment, Subject};
use crate::ports::{AttachmentRepository, RepoError};
use crate::quota::{Quota, QuotaLimits, QuotaUsage};
use crate::state::AttachmentState;
use crate::tenant::TenantId;

use super::{fresh_tenant, instant};

/// Uploads tried at once against a quota admitting [`ADMITTED`] of them.
pub const CONCURRENT_UPLOADS: usize = 20;

/// How many of [`CONCURRENT_UPLOADS`] the byte limit admits.
pub const ADMITTED: usize = 7;

/// Rounds of [`CONCURRENT_UPLOADS`] concurrent inserts and deletes.
pub const ROUNDS: usize = 3;

fn pending(tenant: TenantId, size: u64) -> Attachment {
    let subject = Subject::ticket("quota");
    let named = ("q.pdf".into(), "application/pdf".into());
    Attachment {
        size_bytes: size,
        upload_expires_at: Some(instant(600)),
        ..Attachment::pending(tenant, subject, named, "quota-user".into(), instant(0))
    }
}

fn usage(bytes: u64, attachments: u64) -> QuotaUsage {
    QuotaUsage { bytes, attachments }
}

/// Inserts `rows` all at once; the ones stored, and how many the quota refused.
async fn insert_all(
    repo: &dyn AttachmentRepository,
    rows: Vec<Attachment>,
) -> (Vec<Attachment>, usize) {
    let results = join_all(rows.iter().map(|a| repo.insert(a))).await;
    let mut stored = Vec::new();
    let mut refused = 0;
    for (mut a, result) in rows.into_iter().zip(results) {
        match result {
            Ok(number) => {
                a.number = number;
                stored.push(a);
            }
            Err(RepoError::QuotaExceeded) => refused += 1,
            Err(e) => panic!("insert failed: {e}"),
        }
    }
    (stored, refused)
}

/// The quota contract of [`AttachmentRepository`].
pub async fn attachment_quotas(repo: &dyn AttachmentRepository) {
    let tenant = fresh_tenant().id;
    let other = fresh_tenant().id;

    // a tenant never limited is unlimited and uses nothing
    assert_eq!(repo.quota(tenant).await.unwrap(), Quota::default());

    // limits are kept, usage is not theirs to set
    let size = 1_000_u64;
    let limits = QuotaLimits {
        max_bytes: Some(size * ADMITTED as u64 + size / 2),
        max_attachments: None,
    };
    repo.set_quota_limits(tenant, limits).await.unwrap();
    assert_eq!(
        repo.quota(tenant).await.unwrap(),
        Quota {
            limits,
            usage: usage(0, 0)
        }
    );

    for round in 0..ROUNDS {
        // exactly as many concurrent inserts as fit are stored; the rest store nothing
        let rows = (0..CONCURRENT_UPLOADS)
            .map(|_| pending(tenant, size))
            .collect();
        let (stored, refused) = insert_all(repo, rows).await;
        assert_eq!(stored.len(), ADMITTED, "round {round}: admitted");
        let mut numbers: Vec<i64> = stored.iter().map(|a| a.number).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(
            numbers.len(),
            ADMITTED,
            "round {round}: each its own number"
        );
        assert_eq!(
            refused,
            CONCURRENT_UPLOADS - ADMITTED,
            "round {round}: refused"
        );
        let expected = usage(size * ADMITTED as u64, ADMITTED as u64);
        assert_eq!(repo.quota(tenant).await.unwrap().usage, expected);
        let charged: u64 = join_all(stored.iter().map(|a| repo.get(tenant, a.id)))
            .await
            .into_iter()
            .map(|a| a.unwrap().expect("stored").charged_bytes())
            .sum();
        assert_eq!(charged, expected.bytes, "usage is the rows' charge");

        // updates settle the charge: a smaller real size, a failure (no bytes)
        let mut settled = stored[0].clone();
        settled.state = AttachmentState::Ready;
        settled.size_bytes = size / 4;
        let mut failed = stored[1].clone();
        failed.state = AttachmentState::VerificationFailed;
        let updates = join_all([repo.update(&settled, None), repo.update(&failed, None)]).await;
        assert!(updates.into_iter().all(|u| u.unwrap()));
        let after = expected.bytes - size - (size - size / 4);
        assert_eq!(
            repo.quota(tenant).await.unwrap().usage,
            usage(after, ADMITTED as u64)
        );
        // a change that keeps the charge (a link, a thumbnail) changes nothing
        let mut relinked = settled.clone();
        relinked.subject.message_id = Some("m".into());
        assert!(repo.update(&relinked, None).await.unwrap());
        assert_eq!(repo.quota(tenant).await.unwrap().usage.bytes, after);

        // a tombstone costs nothing, and deleting it later changes nothing
        let mut tombstone = stored[2].clone();
        tombstone.state = AttachmentState::Deleted;
        assert!(repo.update(&tombstone, None).await.unwrap());
        let after = after - size;
        let count = ADMITTED as u64 - 1;
        assert_eq!(repo.quota(tenant).await.unwrap().usage, usage(after, count));
        assert!(repo.delete(tenant, tombstone.id, None).await.unwrap());
        assert_eq!(repo.quota(tenant).await.unwrap().usage, usage(after, count));
        let stored: Vec<Attachment> = stored
            .into_iter()
            .filter(|a| a.id != tombstone.id)
            .collect();

        // what was freed is admitted again, and no more
        let rows = (0..CONCURRENT_UPLOADS)
            .map(|_| pending(tenant, size))
            .collect();
        let (more, _) = insert_all(repo, rows).await;
        let free = limits.max_bytes.unwrap() - after;
        assert_eq!(more.len() as u64, free / size, "round {round}: refilled");

        // another tenant is not limited by this one's quota
        let (theirs, none_refused) = insert_all(repo, vec![pending(other, size * 100)]).await;
        assert_eq!((theirs.len(), none_refused), (1, 0));

        // concurrent deletes, each row twice, give back exactly what was charged
        let all: Vec<&Attachment> = stored.iter().chain(&more).collect();
        let deleted = join_all(
            all.iter()
                .chain(all.iter())
                .map(|a| repo.delete(tenant, a.id, None)),
        )
        .await;
        let gone = deleted.into_iter().filter(|d| *d.as_ref().unwrap()).count();
        assert_eq!(gone, all.len(), "each row deleted once");
        assert_eq!(repo.quota(tenant).await.unwrap().usage, usage(0, 0));
        assert!(repo.delete(other, theirs[0].id, None).await.unwrap());
        assert_eq!(repo.quota(other).await.unwrap().usage, usage(0, 0));
    }

    // the attachment count: concurrent inserts of nothing-sized rows
    let count = QuotaLimits {
        max_bytes: None,
        max_attachments: Some(3),
    };
    repo.set_quota_limits(tenant, count).await.unwrap();
    let rows = (0..10).map(|_| pending(tenant, 0)).collect();
    let (stored, refused) = insert_all(repo, rows).await;
    assert_eq!((stored.len(), refused), (3, 7));
    // failed rows still count: they are rows until deleted
    let mut failed = stored[0].clone();
    failed.state = AttachmentState::ChecksumMismatch;
    assert!(repo.update(&failed, None).await.unwrap());
    assert_eq!(repo.quota(tenant).await.unwrap().usage, usage(0, 3));

    // a limit set below the usage refuses inserts but not updates and deletes
    repo.set_quota_limits(
        tenant,
        QuotaLimits {
            max_bytes: Some(0),
            max_attachments: Some(1),
        },
    )
    .await
    .unwrap();
    assert!(matches!(
        repo.insert(&pending(tenant, 0)).await,
        Err(RepoError::QuotaExceeded)
    ));
    let mut ready = stored[1].clone();
    ready.state = AttachmentState::Ready;
    assert!(repo.update(&ready, None).await.unwrap());
    for a in &stored {
        assert!(repo.delete(tenant, a.id, None).await.unwrap());
    }
    // lifting the limits keeps the usage
    repo.set_quota_limits(tenant, QuotaLimits::default())
        .await
        .unwrap();
    assert_eq!(repo.quota(tenant).await.unwrap(), Quota::default());
}
