use uuid::Uuid;

use crate::credentials::{ApiKey, Scopes, Session, generate_api_key, hash_secret};
use crate::policy::TenantPolicy;
use crate::ports::{IdentityStore, RepoError};
use crate::reach::Reach;
use crate::tenant::TenantId;

use super::{fresh_tenant, instant};

fn key(tenant: TenantId, scopes: Scopes) -> ApiKey {
    let secret = generate_api_key();
    ApiKey {
        id: Uuid::now_v7(),
        tenant_id: tenant,
        prefix: secret[..12].to_owned(),
        hash: hash_secret(&secret),
        scopes,
        created_at: instant(1),
        revoked_at: None,
    }
}

/// The [`IdentityStore`] contract.
pub async fn identity_store(store: &dyn IdentityStore) {
    // tenants: unique slug, found by slug and id
    let t = fresh_tenant();
    store.create_tenant(&t).await.unwrap();
    let mut dup = fresh_tenant();
    dup.slug = t.slug.clone();
    assert!(matches!(
        store.create_tenant(&dup).await,
        Err(RepoError::Conflict(_))
    ));
    assert_eq!(
        store.tenant_by_slug(&t.slug).await.unwrap(),
        Some(t.clone())
    );
    assert_eq!(store.tenant_by_id(t.id).await.unwrap(), Some(t.clone()));
    assert_eq!(
        store.tenant_by_slug("no-such-tenant-slug").await.unwrap(),
        None
    );

    // tenants: an upload policy replaced whole, and kept with the tenant
    let own = TenantPolicy {
        allowed_types: Some(vec!["text/csv".into(), "application/x-odd+json".into()]),
        max_upload_bytes: Some(5 * 1024 * 1024 * 1024),
    };
    assert!(store.set_tenant_policy(t.id, &own).await.unwrap());
    let stored = store.tenant_by_id(t.id).await.unwrap().unwrap();
    assert_eq!(stored.policy, own);
    let half = TenantPolicy {
        allowed_types: None,
        max_upload_bytes: Some(1),
    };
    assert!(store.set_tenant_policy(t.id, &half).await.unwrap());
    let by_slug = store.tenant_by_slug(&t.slug).await.unwrap().unwrap();
    assert_eq!(by_slug.policy, half);
    assert!(
        store
            .set_tenant_policy(t.id, &TenantPolicy::default())
            .await
            .unwrap()
    );
    let other = TenantId(Uuid::now_v7());
    assert!(!store.set_tenant_policy(other, &own).await.unwrap());

    // tenants: listed in slug order, after a slug, at most a page
    let family: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|suffix| {
            let mut member = fresh_tenant();
            member.slug = format!("{}-{suffix}", t.slug);
            member
        })
        .collect();
    for member in family.iter().rev() {
        store.create_tenant(member).await.unwrap();
    }
    let after = format!("{}-", t.slug);
    assert_eq!(
        store.list_tenants(Some(&after), 2).await.unwrap(),
        family[..2].to_vec()
    );
    let rest = store.list_tenants(Some(&family[1].slug), 1).await.unwrap();
    assert_eq!(rest, family[2..].to_vec());
    assert_eq!(store.list_tenants(None, 1).await.unwrap().len(), 1);

    // keys: by hash (exact), by prefix or id, by tenant, revocation
    let read_only = Scopes::parse("attachments:read").unwrap();
    let k = key(t.id, read_only);
    store.create_api_key(&k).await.unwrap();
    let mut same_hash = key(t.id, Scopes::ALL);
    same_hash.hash = k.hash.clone();
    assert!(matches!(
        store.create_api_key(&same_hash).await,
        Err(RepoError::Conflict(_))
    ));
    assert_eq!(
        store.api_key_by_hash(&k.hash).await.unwrap(),
        Some(k.clone())
    );
    assert_eq!(
        store
            .api_key_by_hash(&hash_secret("ixk_nope"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.find_api_keys(&k.prefix).await.unwrap(),
        vec![k.clone()]
    );
    assert_eq!(
        store.find_api_keys(&k.id.to_string()).await.unwrap(),
        vec![k.clone()]
    );
    assert!(
        store.find_api_keys("ixk_%").await.unwrap().is_empty(),
        "prefix is not a pattern"
    );
    let mut newer = key(t.id, Scopes::ALL);
    newer.created_at = instant(2);
    store.create_api_key(&newer).await.unwrap();
    assert_eq!(
        store.api_keys_of(t.id).await.unwrap(),
        vec![k.clone(), newer],
        "oldest first"
    );
    assert!(store.api_keys_of(family[0].id).await.unwrap().is_empty());
    assert!(store.revoke_api_key(k.id, instant(2)).await.unwrap());
    let revoked = store.api_key_by_hash(&k.hash).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(instant(2)));
    assert!(
        !store
            .revoke_api_key(Uuid::now_v7(), instant(2))
            .await
            .unwrap()
    );

    // sessions: by hash, unique
    let s = Session {
        id: Uuid::now_v7(),
        tenant_id: t.id,
        user_id: "user-42".into(),
        hash: hash_secret(&Uuid::now_v7().to_string()),
        created_at: instant(3),
        expires_at: instant(3603),
        revoked_at: None,
        reach: Reach::Rooms(vec!["6".into(), "7".into()]),
    };
    store.create_session(&s).await.unwrap();
    assert_eq!(
        store.session_by_hash(&s.hash).await.unwrap(),
        Some(s.clone())
    );
    let mut dup_s = s.clone();
    dup_s.id = Uuid::now_v7();
    assert!(matches!(
        store.create_session(&dup_s).await,
        Err(RepoError::Conflict(_))
    ));

    // sessions: by id, revocation (kept, and seen by both lookups)
    assert_eq!(store.session_by_id(s.id).await.unwrap(), Some(s.clone()));
    assert_eq!(store.session_by_id(Uuid::now_v7()).await.unwrap(), None);
    let mut other = s.clone();
    other.id = Uuid::now_v7();
    other.hash = hash_secret(&Uuid::now_v7().to_string());
    other.reach = Reach::AllRooms;
    store.create_session(&other).await.unwrap();
    let mut own = other.clone();
    own.id = Uuid::now_v7();
    own.hash = hash_secret(&Uuid::now_v7().to_string());
    own.reach = Reach::Own;
    store.create_session(&own).await.unwrap();
    for each in [&other, &own] {
        assert_eq!(
            store.session_by_id(each.id).await.unwrap().as_ref(),
            Some(each),
            "what a session reaches is kept"
        );
    }
    assert!(store.revoke_session(s.id, instant(4)).await.unwrap());
    let revoked = store.session_by_hash(&s.hash).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(instant(4)));
    assert_eq!(store.session_by_id(s.id).await.unwrap(), Some(revoked));
    assert_eq!(
        store
            .session_by_id(other.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None,
        "only the named session is revoked"
    );
    assert!(
        !store
            .revoke_session(Uuid::now_v7(), instant(4))
            .await
            .unwrap()
    );

    // deleting a tenant: credentials revoked and the tenant marked, once;
    // then it goes with its keys and sessions, and nothing of another
    let doomed = family[0].clone();
    let mut kept_key = key(family[1].id, Scopes::ALL);
    kept_key.created_at = instant(5);
    store.create_api_key(&kept_key).await.unwrap();
    let doomed_key = key(doomed.id, Scopes::ALL);
    store.create_api_key(&doomed_key).await.unwrap();
    let mut doomed_session = own.clone();
    doomed_session.id = Uuid::now_v7();
    doomed_session.hash = hash_secret(&Uuid::now_v7().to_string());
    doomed_session.tenant_id = doomed.id;
    store.create_session(&doomed_session).await.unwrap();
    store
        .begin_tenant_deletion(doomed.id, instant(6), None)
        .await
        .unwrap();
    store
        .begin_tenant_deletion(doomed.id, instant(7), None)
        .await
        .unwrap();
    let marked = store.tenant_by_id(doomed.id).await.unwrap().unwrap();
    assert_eq!(
        marked.deleting_since,
        Some(instant(6)),
        "the first mark stays"
    );
    assert!(
        store
            .tenants_being_deleted()
            .await
            .unwrap()
            .contains(&marked)
    );
    let revoked = store
        .api_key_by_hash(&doomed_key.hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(instant(6)));
    let ended = store
        .session_by_id(doomed_session.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.revoked_at, Some(instant(6)));
    assert!(store.delete_tenant(doomed.id).await.unwrap());
    assert!(!store.delete_tenant(doomed.id).await.unwrap());
    assert_eq!(store.tenant_by_id(doomed.id).await.unwrap(), None);
    assert_eq!(store.api_key_by_hash(&doomed_key.hash).await.unwrap(), None);
    assert_eq!(store.session_by_id(doomed_session.id).await.unwrap(), None);
    assert!(
        !store
            .tenants_being_deleted()
            .await
            .unwrap()
            .contains(&marked)
    );
    let kept = store
        .api_key_by_hash(&kept_key.hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.revoked_at, None, "another tenant's key works on");
}
