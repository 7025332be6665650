//! The cache is invisible but for the staleness it documents.

use std::sync::Arc;

use futures::executor::block_on;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::{CACHED_CREDENTIALS, CachedIdentities};
use crate::contract;
use crate::credentials::{ApiKey, Scopes, generate_api_key, hash_secret};
use crate::error::AuthError;
use crate::memory::{ManualClock, MemoryIdentities, MemoryPorts};
use crate::ports::{Clock, IdentityStore};
use crate::reach::Reach;
use crate::services::{AttachmentService, IdentityService};
use crate::validation::UploadPolicy;

const TTL: Duration = Duration::seconds(2);

/// Identity services over a cache of `store`, on a clock the test moves.
struct World {
    clock: Arc<ManualClock>,
    store: Arc<MemoryIdentities>,
    cache: Arc<CachedIdentities>,
    ids: IdentityService,
    attachments: AttachmentService,
}

fn world() -> World {
    let clock = Arc::new(ManualClock::new(OffsetDateTime::UNIX_EPOCH));
    let store = Arc::new(MemoryIdentities::default());
    let cache = Arc::new(CachedIdentities::new(store.clone(), clock.clone(), TTL));
    let mut ports = MemoryPorts::with_clock("http://x", clock.clone()).ports;
    ports.identities = cache.clone();
    World {
        clock,
        store,
        cache,
        ids: IdentityService::new(ports.clone()),
        attachments: AttachmentService::new(ports, UploadPolicy::default()),
    }
}

#[test]
fn the_cache_passes_the_identity_store_contract() {
    let w = world();
    block_on(contract::identity_store(w.cache.as_ref()));
}

#[test]
fn a_revocation_elsewhere_takes_effect_within_the_ttl() {
    let w = world();
    block_on(w.ids.create_tenant("t")).unwrap();
    let (key, secret) = block_on(w.ids.create_api_key("t", Scopes::ALL)).unwrap();
    let (session, cookie) =
        block_on(
            w.ids
                .create_session("t", "u", Duration::hours(1), Reach::Own),
        )
        .unwrap();
    assert!(block_on(w.ids.authenticate_api_key(&secret)).is_ok());
    assert!(block_on(w.ids.authenticate_session(&cookie)).is_ok());

    // another instance revokes both in the shared store
    let at = w.clock.now();
    assert!(block_on(w.store.revoke_api_key(key.id, at)).unwrap());
    assert!(block_on(w.store.revoke_session(session.id, at)).unwrap());
    w.clock.advance(TTL - Duration::milliseconds(1));
    assert!(
        block_on(w.ids.authenticate_api_key(&secret)).is_ok(),
        "stale"
    );
    assert!(
        block_on(w.ids.authenticate_session(&cookie)).is_ok(),
        "stale"
    );
    w.clock.advance(Duration::milliseconds(1));
    assert_eq!(
        block_on(w.ids.authenticate_api_key(&secret)),
        Err(AuthError::Revoked)
    );
    assert_eq!(
        block_on(w.ids.authenticate_session(&cookie)),
        Err(AuthError::Revoked)
    );
}

#[test]
fn a_revocation_or_deletion_here_takes_effect_at_once() {
    let w = world();
    block_on(w.ids.create_tenant("t")).unwrap();
    block_on(w.ids.create_tenant("gone")).unwrap();
    let (_, secret) = block_on(w.ids.create_api_key("t", Scopes::ALL)).unwrap();
    let (_, cookie) = block_on(
        w.ids
            .create_session("t", "u", Duration::hours(1), Reach::Own),
    )
    .unwrap();
    let (_, doomed_key) = block_on(w.ids.create_api_key("gone", Scopes::ALL)).unwrap();
    let (_, doomed_cookie) =
        block_on(
            w.ids
                .create_session("gone", "u", Duration::hours(1), Reach::Own),
        )
        .unwrap();
    for (key, cookie) in [(&secret, &cookie), (&doomed_key, &doomed_cookie)] {
        assert!(block_on(w.ids.authenticate_api_key(key)).is_ok());
        assert!(block_on(w.ids.authenticate_session(cookie)).is_ok());
    }

    block_on(w.ids.revoke_api_key(&secret)).unwrap();
    block_on(w.ids.revoke_session(&cookie)).unwrap();
    block_on(w.attachments.begin_tenant_deletion("gone")).unwrap();
    for (key, cookie) in [(&secret, &cookie), (&doomed_key, &doomed_cookie)] {
        assert_eq!(
            block_on(w.ids.authenticate_api_key(key)),
            Err(AuthError::Revoked)
        );
        assert_eq!(
            block_on(w.ids.authenticate_session(cookie)),
            Err(AuthError::Revoked)
        );
    }
}

#[test]
fn an_expired_session_is_refused_though_cached() {
    let w = world();
    block_on(w.ids.create_tenant("t")).unwrap();
    let (_, cookie) = block_on(
        w.ids
            .create_session("t", "u", Duration::seconds(1), Reach::Own),
    )
    .unwrap();
    assert!(block_on(w.ids.authenticate_session(&cookie)).is_ok());
    w.clock.advance(Duration::seconds(1));
    assert_eq!(
        block_on(w.ids.authenticate_session(&cookie)),
        Err(AuthError::Expired)
    );
}

#[test]
fn unknown_secrets_are_not_remembered() {
    let w = world();
    let tenant = block_on(w.ids.create_tenant("t")).unwrap();
    let secret = generate_api_key();
    let key = ApiKey {
        id: Uuid::now_v7(),
        tenant_id: tenant.id,
        prefix: secret[..12].to_owned(),
        hash: hash_secret(&secret),
        scopes: Scopes::ALL,
        created_at: w.clock.now(),
        revoked_at: None,
    };
    assert_eq!(block_on(w.cache.api_key_by_hash(&key.hash)).unwrap(), None);
    block_on(w.store.create_api_key(&key)).unwrap();
    assert_eq!(
        block_on(w.cache.api_key_by_hash(&key.hash)).unwrap(),
        Some(key),
        "a miss is asked again, not remembered"
    );
}

#[test]
fn at_most_the_bound_is_kept() {
    let w = world();
    block_on(w.ids.create_tenant("t")).unwrap();
    let mut hashes = Vec::new();
    for _ in 0..=CACHED_CREDENTIALS {
        let (_, secret) = block_on(w.ids.create_api_key("t", Scopes::ALL)).unwrap();
        hashes.push(hash_secret(&secret));
    }
    for hash in &hashes[..CACHED_CREDENTIALS] {
        assert!(block_on(w.cache.api_key_by_hash(hash)).unwrap().is_some());
    }
    assert_eq!(w.cache.keys.len(), CACHED_CREDENTIALS);
    w.clock.advance(TTL);
    block_on(w.cache.api_key_by_hash(&hashes[CACHED_CREDENTIALS])).unwrap();
    assert_eq!(w.cache.keys.len(), 1, "the expired ones made room");
    for hash in &hashes[..CACHED_CREDENTIALS] {
        block_on(w.cache.api_key_by_hash(hash)).unwrap();
    }
    assert!(w.cache.keys.len() <= CACHED_CREDENTIALS);
}
