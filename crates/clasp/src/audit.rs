//! The audit trail as log events of their own target, `clasp::audit`, so
//! operators can route them apart from the rest (`RUST_LOG`, or a filter on
//! the `target` field of the JSON log). docs/operations.md, "Audit trail".

use clasp_domain::audit::{AuditRecord, Change};
use clasp_domain::ports::AuditLog;
use clasp_http::ops::{Metrics, current_dialect};

/// Writes each record as one `info` event of the target `clasp::audit`, and
/// counts it in `clasp_changes_total` by change and outcome, and an upload in
/// `clasp_uploads_total` by the dialect it came through.
pub struct LoggedAudit {
    /// Where changes are counted.
    pub metrics: Metrics,
}

impl AuditLog for LoggedAudit {
    fn record(&self, record: AuditRecord) {
        let refused = record.outcome.as_ref().err();
        let outcome = refused.map_or("ok", |r| r.code);
        self.metrics.count_change(record.change.as_str(), outcome);
        if record.change == Change::Upload {
            self.metrics.count_upload(current_dialect(), outcome);
        }
        // `refusal` and `reason` are left out of a change that was made.
        tracing::info!(
            target: "clasp::audit",
            change = record.change.as_str(),
            actor = %record.actor,
            tenant = record.tenant.map(|t| t.to_string()).unwrap_or_default(),
            object = record.object,
            outcome = if refused.is_some() { "refused" } else { "ok" },
            refusal = refused.map(|r| r.code),
            reason = refused.map(|r| r.reason.as_str()),
            "audit"
        );
    }
}
