//! Quota rows of both backends, as the domain sees them.

use clasp_domain::ports::Stored;
use clasp_domain::quota::{Quota, QuotaLimits, QuotaUsage};

use crate::error::corrupt;

/// A `tenant_quotas` row: limits, then usage.
pub(crate) type QuotaRow = (Option<i64>, Option<i64>, i64, i64);

/// The quota a row (or its absence: unlimited, nothing used) stands for.
pub(crate) fn from_row(row: Option<QuotaRow>) -> Stored<Quota> {
    let Some((max_bytes, max_attachments, bytes, attachments)) = row else {
        return Ok(Quota::default());
    };
    let count = |what, v: i64| u64::try_from(v).map_err(|e| corrupt(what, e));
    Ok(Quota {
        limits: QuotaLimits {
            max_bytes: max_bytes.map(|v| count("quota limit", v)).transpose()?,
            max_attachments: max_attachments
                .map(|v| count("quota limit", v))
                .transpose()?,
        },
        usage: QuotaUsage {
            bytes: count("quota usage", bytes)?,
            attachments: count("quota usage", attachments)?,
        },
    })
}

/// Limits as stored; beyond `i64::MAX` is as good as unlimited, and stored so.
pub(crate) fn limit_value(limit: Option<u64>) -> Option<i64> {
    limit.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}
