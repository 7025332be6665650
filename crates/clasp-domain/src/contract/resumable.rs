//! The [`ResumableStore`] contract: each attempt at a part gets its own
//! number, even when many begin at once; the upload moves on by
//! compare-and-set, recording which attempt stored each part, and its last
//! part is taken back the same way; every read and write is scoped by tenant.

use futures::future::join_all;
use uuid::Uuid;

use crate::attachment::AttachmentId;
use crate::resumable::{Progress, ResumableStore};

use super::fresh_tenant;

/// Attempts begun at once on one upload.
const CONCURRENT_ATTEMPTS: usize = 8;

/// The contract of [`ResumableStore`].
pub async fn resumable_store(store: &dyn ResumableStore) {
    let tenant = fresh_tenant().id;
    let stranger = fresh_tenant().id;
    let id = AttachmentId(Uuid::now_v7());
    let begun = Progress {
        tenant_id: tenant,
        attachment_id: id,
        length: 5_000_000_000,
        received: 0,
        parts: 0,
        attempts: 0,
        stored_by: Vec::new(),
    };
    store.begin_resumable(&begun).await.unwrap();
    assert_eq!(
        store.progress(tenant, id).await.unwrap(),
        Some(begun.clone())
    );
    assert_eq!(store.progress(stranger, id).await.unwrap(), None);
    assert_eq!(store.begin_attempt(stranger, id).await.unwrap(), None);

    let mut numbers: Vec<u32> =
        join_all((0..CONCURRENT_ATTEMPTS).map(|_| async { store.begin_attempt(tenant, id).await }))
            .await
            .into_iter()
            .map(|n| n.unwrap().expect("the upload exists"))
            .collect();
    numbers.sort_unstable();
    let expected: Vec<u32> = (0..).take(CONCURRENT_ATTEMPTS).collect();
    assert_eq!(numbers, expected, "each attempt has a number of its own");

    // two attempts race to store part 0: one moves the upload on
    let moved = join_all([3, 5].map(|n| {
        let begun = &begun;
        async move { store.advance(begun, 4_000_000_000, n).await.unwrap() }
    }))
    .await;
    assert_eq!(
        moved.iter().filter(|m| **m).count(),
        1,
        "one of two racing wins"
    );
    let winner = if moved[0] { 3 } else { 5 };
    let now = store.progress(tenant, id).await.unwrap().unwrap();
    let attempts = u32::try_from(CONCURRENT_ATTEMPTS).unwrap();
    assert_eq!(
        now,
        Progress {
            received: 4_000_000_000,
            parts: 1,
            attempts,
            stored_by: vec![winner],
            ..begun.clone()
        }
    );
    assert!(
        !store.advance(&begun, 1, 6).await.unwrap(),
        "a stale one fails"
    );
    let mut stranger_view = now.clone();
    stranger_view.tenant_id = stranger;
    assert!(!store.advance(&stranger_view, 1, 6).await.unwrap());
    assert!(store.advance(&now, 5_000_000_000, 7).await.unwrap());
    let done = store.progress(tenant, id).await.unwrap().unwrap();
    assert_eq!((done.parts, &done.stored_by), (2, &vec![winner, 7]));

    // the last part taken back, once, by compare-and-set
    assert!(!store.take_back(&now, 4_000_000_000).await.unwrap());
    assert!(
        !store
            .take_back(&stranger_view, 5_000_000_000)
            .await
            .unwrap()
    );
    assert!(store.take_back(&now, 5_000_000_000).await.unwrap());
    assert_eq!(store.progress(tenant, id).await.unwrap(), Some(now.clone()));
    assert!(
        !store.take_back(&now, 5_000_000_000).await.unwrap(),
        "no longer a part past it"
    );
    assert!(store.advance(&now, 5_000_000_000, 7).await.unwrap());
    assert_eq!(store.progress(tenant, id).await.unwrap(), Some(done));

    store.forget_resumable(stranger, id).await.unwrap();
    assert!(store.progress(tenant, id).await.unwrap().is_some());
    store.forget_resumable(tenant, id).await.unwrap();
    assert_eq!(store.progress(tenant, id).await.unwrap(), None);
    assert_eq!(store.begin_attempt(tenant, id).await.unwrap(), None);
}
