//! Pieces of JSON every dialect writes alike.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A timestamp as RFC 3339 (`2025-01-16T12:00:00.123456Z`).
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}
