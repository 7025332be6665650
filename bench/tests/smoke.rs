//! The benchmark code runs, small, on both backends, so it cannot rot: every
//! measurement happens and every page checked is the right one. Timings are
//! not asserted (that is what `./scripts/bench.sh` reports).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is how a test fails"
)]

use clasp_bench::backend::Backend;
use clasp_bench::workloads::listing::{Config, Report, run};

async fn smoke(backend: Backend) {
    let config = Config {
        sizes: vec![40, 300],
        runs: 2,
        limit: 7,
    };
    let mut report = Report::default();
    run(&backend, &config, &mut report).await.unwrap();
    backend.close().await.unwrap();
    assert_eq!(report.measurements.len(), 6, "two sizes, three sorts");
    assert_eq!(report.ratios().len(), 3);
    assert_eq!(report.plans.len(), 3);
    assert!(report.plans.iter().all(|(_, _, plan)| !plan.is_empty()));
    let table = report.render();
    assert!(table.contains("| 300 | sizeBytes |"), "{table}");
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_on_sqlite() {
    smoke(Backend::sqlite().await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_on_postgres() {
    let url = std::env::var("CLASP_TEST_POSTGRES_URL").expect(
        "CLASP_TEST_POSTGRES_URL is not set: run the suite with ./scripts/test.sh, which starts PostgreSQL",
    );
    smoke(Backend::postgres(&url).await.unwrap()).await;
}
