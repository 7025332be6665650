//! The tests both metadata stores must pass alike, run against a temporary
//! SQLite file and a fresh database on the PostgreSQL server of
//! `CLASP_TEST_POSTGRES_URL`. What only one backend has (SQLite's files and
//! locks, PostgreSQL's pool, TLS and timeouts) is tested in `sqlite.rs` and
//! `postgres.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is how a test fails"
)]

mod common;

use clasp_domain::credentials::ApiKey;
use clasp_domain::events::{Cause, Event, EventKind};
use clasp_domain::ports::{AttachmentRepository, IdentityStore};
use clasp_domain::webhooks::{Attempt, DeliveryState, RetrySchedule, Webhook, WebhookStore};
use clasp_domain::{Attachment, AttachmentState, Subject, TenantId};
use common::{key, tenant};
use time::OffsetDateTime;
use uuid::Uuid;

/// Finds keys by a prefix that holds every wildcard of GLOB and LIKE, and by
/// id: each backend must take the prefix literally and case-sensitively.
async fn key_prefixes_are_literal_and_case_sensitive(store: &impl IdentityStore) {
    let t = tenant("keys");
    store.create_tenant(&t).await.unwrap();
    let plain = key(t.id, "ixk_abcdefgh");
    let upper = key(t.id, "ixk_ABCDEFGH");
    let odd = key(t.id, "ixk_a*[?]%_\\x");
    for k in [&plain, &upper, &odd] {
        store.create_api_key(k).await.unwrap();
    }
    let ids = |keys: Vec<ApiKey>| keys.into_iter().map(|k| k.id).collect::<Vec<_>>();
    for (prefix, found) in [
        ("ixk_abc", vec![plain.id]),
        ("ixk_ABC", vec![upper.id]),
        ("ixk_a*", vec![odd.id]),
        ("ixk_a*[?]", vec![odd.id]),
        ("ixk_a*[?]%_\\x", vec![odd.id]),
        ("ixk_", vec![plain.id, upper.id, odd.id]),
    ] {
        assert_eq!(
            ids(store.find_api_keys(prefix).await.unwrap()),
            found,
            "{prefix}: oldest first"
        );
    }
    for nothing in [
        "ixk_a?", "ixk_a[b]", "ixk_a_", "ixk_a\\", "ixk_%", "ixk__", "IXK_",
    ] {
        assert!(
            store.find_api_keys(nothing).await.unwrap().is_empty(),
            "{nothing}"
        );
    }
    for id in [upper.id.to_string(), upper.id.to_string().to_uppercase()] {
        assert_eq!(ids(store.find_api_keys(&id).await.unwrap()), vec![upper.id]);
    }
}

fn webhook(tenant: TenantId, events: Vec<EventKind>, at: OffsetDateTime) -> Webhook {
    Webhook {
        id: Uuid::now_v7(),
        tenant_id: tenant,
        url: "http://127.0.0.1:9/hooks".into(),
        events,
        secret: "whsec_QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=".into(),
        created_at: at,
    }
}

/// An event is recorded only with a change that is made, as one delivery
/// per webhook of its tenant subscribed to its kind; a claim leases what it
/// hands out; deleting a webhook drops its pending deliveries.
async fn events_reach_subscribed_webhooks_with_their_change<S>(store: &S)
where
    S: AttachmentRepository + IdentityStore + WebhookStore,
{
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    let (t, other) = (tenant("hooked"), tenant("other"));
    store.create_tenant(&t).await.unwrap();
    store.create_tenant(&other).await.unwrap();
    let on_ready = webhook(t.id, vec![EventKind::AttachmentReady], now);
    let on_delete = webhook(
        t.id,
        vec![EventKind::AttachmentDeleted, EventKind::TenantDeleted],
        now,
    );
    let theirs = webhook(other.id, vec![EventKind::AttachmentReady], now);
    for w in [&on_ready, &on_delete, &theirs] {
        store.create_webhook(w).await.unwrap();
    }
    assert_eq!(
        store.webhooks_of(t.id).await.unwrap(),
        vec![on_ready.clone(), on_delete.clone()]
    );
    assert_eq!(
        store.webhook(theirs.id).await.unwrap(),
        Some(theirs.clone())
    );

    let mut a = Attachment::pending(
        t.id,
        Subject::ticket("T-1"),
        ("a.txt".into(), "text/plain".into()),
        "key:k".into(),
        now,
    );
    a.number = store.insert(&a).await.unwrap();
    let mut ready = a.clone();
    ready.state = AttachmentState::Ready;
    let announced = Event::about(EventKind::AttachmentReady, &ready, &Cause::SYSTEM, now);
    // No such row in that tenant: no change, so no event.
    let mut elsewhere = ready.clone();
    elsewhere.tenant_id = other.id;
    assert!(!store.update(&elsewhere, Some(&announced)).await.unwrap());
    assert_eq!(store.pending_deliveries().await.unwrap(), 0);
    assert!(store.update(&ready, Some(&announced)).await.unwrap());
    assert_eq!(store.pending_deliveries().await.unwrap(), 1);

    let lease = now + time::Duration::minutes(1);
    let claimed = store.claim_deliveries(now, lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    let delivery = claimed[0].clone();
    assert_eq!(
        (delivery.event_id, delivery.webhook_id, delivery.tenant_id),
        (announced.id, on_ready.id, t.id)
    );
    assert_eq!(delivery.event_type, "attachment.ready");
    assert_eq!(
        (delivery.url.as_str(), delivery.secret.as_str()),
        (on_ready.url.as_str(), on_ready.secret.as_str())
    );
    let payload: serde_json::Value = serde_json::from_str(&delivery.payload).unwrap();
    assert_eq!(payload["type"], "attachment.ready");
    assert_eq!(payload["data"]["attachment"]["id"], a.id.to_string());
    assert!(
        store
            .claim_deliveries(now, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    let after_lease = store.claim_deliveries(lease, lease, 10).await.unwrap();
    assert_eq!(after_lease.len(), 1, "due again once the lease ended");

    let schedule = RetrySchedule::default();
    let delivered = delivery.after(Attempt::Delivered(204), now, &schedule);
    store.record_attempt(&delivered).await.unwrap();
    let shown = store.deliveries_of(on_ready.id, 10).await.unwrap();
    assert_eq!(shown, vec![delivered.clone()]);
    assert_eq!(shown[0].state, DeliveryState::Delivered);
    assert_eq!(store.pending_deliveries().await.unwrap(), 0);

    let deleted = Event::about(EventKind::AttachmentDeleted, &ready, &Cause::SYSTEM, now);
    assert!(store.delete(t.id, a.id, Some(&deleted)).await.unwrap());
    assert!(!store.delete(t.id, a.id, Some(&deleted)).await.unwrap());
    assert_eq!(
        store.deliveries_of(on_delete.id, 10).await.unwrap().len(),
        1
    );
    assert!(store.deliveries_of(theirs.id, 10).await.unwrap().is_empty());
    assert_eq!(store.pending_deliveries().await.unwrap(), 1);
    assert!(store.delete_webhook(on_delete.id).await.unwrap());
    assert_eq!(store.pending_deliveries().await.unwrap(), 0);
    assert_eq!(store.webhook(on_delete.id).await.unwrap(), None);

    let gone = Event::tenant_deleted(other.id, &clasp_domain::audit::Actor::Operator, now);
    store
        .begin_tenant_deletion(other.id, now, Some(&gone))
        .await
        .unwrap();
    assert_eq!(
        store.deliveries_of(theirs.id, 10).await.unwrap().len(),
        0,
        "not subscribed"
    );
    assert_eq!(
        store
            .prune_deliveries(now + time::Duration::days(1))
            .await
            .unwrap(),
        1,
        "the delivered one"
    );
}

/// Every test above, for one store. `$open` yields `Result<(store, guard), _>`;
/// the guard keeps the backend alive for the test.
macro_rules! backend_suite {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;

            #[tokio::test(flavor = "multi_thread")]
            async fn key_prefixes_are_literal_and_case_sensitive() {
                let (store, _guard) = $open.await.unwrap();
                super::key_prefixes_are_literal_and_case_sensitive(&store).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn events_reach_subscribed_webhooks_with_their_change() {
                let (store, _guard) = $open.await.unwrap();
                super::events_reach_subscribed_webhooks_with_their_change(&store).await;
            }
        }
    };
}

backend_suite!(sqlite, common::sqlite_store());
backend_suite!(postgres, common::pg_store());
