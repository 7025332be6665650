//! Removing abandoned direct uploads: once (`clasp gc`) or periodically (the
//! sweeper `clasp serve` runs).

use std::time::Duration;

use clasp_domain::{AttachmentError, AttachmentService};
use clasp_http::ops::Metrics;

use crate::config::Config;
use crate::wiring;

/// Attachments one sweep of the domain removes at most; sweeps repeat until
/// one removes fewer.
const BATCH: usize = 100;

/// The most rows past their deadline the backlog gauge counts after a sweep
/// (one indexed read of at most this many).
const BACKLOG_COUNTED: usize = 1000;

/// `clasp gc`: sweeps until nothing expired is left, then prints how many
/// attachments were deleted.
pub async fn run(config: &Config) -> anyhow::Result<()> {
    let services = wiring::build(config, &clasp_http::ops::Metrics::new()).await?;
    let swept = sweep_all(&services.attachments).await?;
    println!("{swept}");
    Ok(())
}

/// Finishes the tenant deletions begun and not finished, then deletes every
/// abandoned direct upload, batch by batch; returns how many uploads. One
/// that cannot be removed is logged and left, claimed, for the next sweep.
pub async fn sweep_all(attachments: &AttachmentService) -> Result<usize, AttachmentError> {
    let purged = attachments.resume_tenant_deletions().await?;
    if purged > 0 {
        tracing::info!(purged, "finished deleting tenants");
    }
    let mut total = 0;
    loop {
        let swept = attachments.sweep_expired(BATCH).await?;
        for (attachment, error) in &swept.failed {
            tracing::warn!(%attachment, %error, "removing an abandoned upload failed; the next sweep retries it");
        }
        total += swept.removed;
        if swept.listed < BATCH || swept.removed == 0 {
            return Ok(total);
        }
    }
}

/// The sweeper of `clasp serve`: sweeps every `every`, first at once; a failed
/// sweep is logged and retried at the next tick. Runs until dropped or aborted.
pub async fn sweep_forever(attachments: AttachmentService, every: Duration, metrics: Metrics) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match sweep_all(&attachments).await {
            Ok(swept) => {
                metrics.record_sweep(Some(swept));
                if let Ok(left) = attachments.sweep_backlog(BACKLOG_COUNTED).await {
                    metrics.set_sweep_backlog(left);
                }
                if swept > 0 {
                    tracing::info!(swept, "deleted abandoned direct uploads");
                }
            }
            Err(e) => {
                metrics.record_sweep(None);
                tracing::warn!(error = %e, "sweeping abandoned direct uploads failed");
            }
        }
    }
}
