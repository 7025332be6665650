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
use clasp_domain::ports::IdentityStore;
use common::{key, tenant};

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
        }
    };
}

backend_suite!(sqlite, common::sqlite_store());
backend_suite!(postgres, common::pg_store());
