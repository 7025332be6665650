//! The audit trail as log events of their own target, `clasp::audit`, so
//! operators can route them apart from the rest (`RUST_LOG`, or a filter on
//! the `target` field of the JSON log). docs/operations.md, "Audit trail".

use clasp_domain::audit::AuditRecord;
use clasp_domain::ports::AuditLog;
use clasp_http::ops::Metrics;

/// Writes each record as one `info` event of the target `clasp::audit`, and
/// counts it in `clasp_changes_total` by change and outcome.
pub struct LoggedAudit {
    /// Where changes are counted.
    pub metrics: Metrics,
}

impl AuditLog for LoggedAudit {
    fn record(&self, record: AuditRecord) {
        let outcome = record.outcome.as_ref().map_or_else(|r| r.code, |()| "ok");
        self.metrics.count_change(record.change.as_str(), outcome);
        let tenant = record.tenant.map(|t| t.to_string()).unwrap_or_default();
        match &record.outcome {
            Ok(()) => tracing::info!(
                target: "clasp::audit",
                change = record.change.as_str(),
                actor = %record.actor,
                tenant,
                object = record.object,
                outcome = "ok",
                "audit"
            ),
            Err(refused) => tracing::info!(
                target: "clasp::audit",
                change = record.change.as_str(),
                actor = %record.actor,
                tenant,
                object = record.object,
                outcome = "refused",
                refusal = refused.code,
                reason = refused.reason,
                "audit"
            ),
        }
    }
}
