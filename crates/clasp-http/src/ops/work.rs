//! Metrics of the work itself, beside those of requests: changes by outcome
//! (an upload ready, or refused and why), virus scans by verdict and their
//! time, the blob store's operations and the metadata stores' calls and their
//! time. Every label comes from a fixed set: the audit trail's change names and
//! refusal codes, the verdicts, the ports' operations, the pools' names.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A change and how it ended: `ok` or a refusal code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChangeLabels {
    change: &'static str,
    outcome: &'static str,
}

/// An upload's dialect and how it ended: `ok` or a refusal code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UploadLabels {
    dialect: &'static str,
    outcome: &'static str,
}

/// A scan's verdict: `clean`, `infected` or `failed`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScanLabels {
    verdict: &'static str,
}

/// A store operation and whether it succeeded.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    operation: &'static str,
    result: &'static str,
}

/// A connection pool and which of its counts: `max`, `open`, `idle` or
/// `waiting`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: &'static str,
    state: &'static str,
}

/// A webhook delivery attempt's result: `delivered`, `retrying`, `failed`
/// (the schedule is spent) or `refused` (its host left the allowlist).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    result: &'static str,
}

/// The work metrics, registered in the process's registry.
#[derive(Clone)]
pub(super) struct WorkMetrics {
    changes: Family<ChangeLabels, Counter>,
    uploads: Family<UploadLabels, Counter>,
    scans: Family<ScanLabels, Histogram>,
    store: Family<StoreLabels, Histogram>,
    database: Family<StoreLabels, Histogram>,
    pools: Family<PoolLabels, Gauge>,
    webhooks: Family<WebhookLabels, Counter>,
    outbox: Gauge,
}

fn seconds_histogram() -> Histogram {
    // 0.5 ms … 33 s, as the request histogram.
    Histogram::new(exponential_buckets(0.0005, 2.0, 17))
}

impl WorkMetrics {
    /// The work metrics, registered in `registry`.
    pub(super) fn register(registry: &mut Registry) -> Self {
        let work = WorkMetrics {
            changes: Family::default(),
            uploads: Family::default(),
            scans: Family::new_with_constructor(seconds_histogram as fn() -> Histogram),
            store: Family::new_with_constructor(seconds_histogram as fn() -> Histogram),
            database: Family::new_with_constructor(seconds_histogram as fn() -> Histogram),
            pools: Family::default(),
            webhooks: Family::default(),
            outbox: Gauge::default(),
        };
        registry.register(
            "changes",
            "Changes by kind (attachment.upload, attachment.delete, key.revoke, ...) and outcome (ok, or the refusal code)",
            work.changes.clone(),
        );
        registry.register(
            "uploads",
            "Uploads by dialect (none: not through a dialect's route) and outcome (ok, or the refusal code)",
            work.uploads.clone(),
        );
        registry.register(
            "scan_duration_seconds",
            "Virus scans by verdict (clean, infected, failed) and how long each took",
            work.scans.clone(),
        );
        registry.register(
            "store_operation_duration_seconds",
            "Blob store operations by operation and result (ok, error), and how long each took to answer (a put: until its last byte is stored; a get: until the object is open)",
            work.store.clone(),
        );
        registry.register(
            "database_operation_duration_seconds",
            "Metadata store calls by operation (the port's method: get, insert, api_key_by_hash, ...) and result (ok, error), and how long each took",
            work.database.clone(),
        );
        registry.register(
            "database_pool_connections",
            "Database connection pools (sqlite_writes, sqlite_reads, postgres) by state: max, open, idle, and waiting (queries waiting for a connection)",
            work.pools.clone(),
        );
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts by result: delivered, retrying, failed (no attempt left), refused (the host is not in webhook_allowed_hosts)",
            work.webhooks.clone(),
        );
        registry.register(
            "outbox_backlog",
            "Webhook deliveries pending (due or waiting to be retried), as the deliverer last counted them",
            work.outbox.clone(),
        );
        work
    }

    pub(super) fn count_webhook(&self, result: &'static str) {
        self.webhooks.get_or_create(&WebhookLabels { result }).inc();
    }

    pub(super) fn set_outbox_backlog(&self, pending: u64) {
        self.outbox.set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    pub(super) fn count_change(&self, change: &'static str, outcome: &'static str) {
        self.changes
            .get_or_create(&ChangeLabels { change, outcome })
            .inc();
    }

    pub(super) fn count_upload(&self, dialect: &'static str, outcome: &'static str) {
        self.uploads
            .get_or_create(&UploadLabels { dialect, outcome })
            .inc();
    }

    pub(super) fn observe_scan(&self, verdict: &'static str, seconds: f64) {
        self.scans
            .get_or_create(&ScanLabels { verdict })
            .observe(seconds);
    }

    pub(super) fn observe_store(&self, operation: &'static str, ok: bool, seconds: f64) {
        observe_call(&self.store, operation, ok, seconds);
    }

    pub(super) fn observe_database(&self, operation: &'static str, ok: bool, seconds: f64) {
        observe_call(&self.database, operation, ok, seconds);
    }

    pub(super) fn set_pool(&self, pool: &'static str, counts: [(&'static str, usize); 4]) {
        for (state, count) in counts {
            self.pools
                .get_or_create(&PoolLabels { pool, state })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }
}

/// Records one call of a store: its operation, whether it succeeded, its time.
fn observe_call(
    family: &Family<StoreLabels, Histogram>,
    operation: &'static str,
    ok: bool,
    seconds: f64,
) {
    let result = if ok { "ok" } else { "error" };
    family
        .get_or_create(&StoreLabels { operation, result })
        .observe(seconds);
}
