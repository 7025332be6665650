//! Every metadata adapter against the domain's shared contract suites, on a real
//! backend: a temporary SQLite file, a fresh database on the PostgreSQL server of
//! `CLASP_TEST_POSTGRES_URL`. A new adapter is one more `contract_suite!` line.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is how a test fails"
)]

mod common;

/// The contract tests of one adapter. `$open` is an async expression yielding
/// `Result<(store, guard), _>`: the store implements both ports, and the guard keeps its
/// backend (a temporary directory, a database server) alive for the test.
macro_rules! contract_suite {
    ($adapter:ident, $open:expr) => {
        contract_suite!(
            $adapter,
            $open,
            attachment_repository,
            attachment_quotas,
            identity_store,
            resumable_store
        );
    };
    ($adapter:ident, $open:expr, $($suite:ident),+) => {
        mod $adapter {
            use super::*;

            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $suite() {
                    let (store, _guard) = $open.unwrap();
                    clasp_domain::contract::$suite(&store).await;
                }
            )+

            /// The suites make their own tenants, so they may share one database.
            #[tokio::test(flavor = "multi_thread")]
            async fn suites_share_a_database() {
                let (store, _guard) = $open.unwrap();
                let both = async {
                    clasp_domain::contract::identity_store(&store).await;
                    clasp_domain::contract::identity_store(&store).await;
                };
                tokio::join!(
                    clasp_domain::contract::attachment_repository(&store),
                    clasp_domain::contract::attachment_repository(&store),
                    clasp_domain::contract::attachment_quotas(&store),
                    clasp_domain::contract::attachment_quotas(&store),
                    both,
                );
            }
        }
    };
}

contract_suite!(sqlite, common::sqlite_store().await);
contract_suite!(postgres, common::pg_store().await);
