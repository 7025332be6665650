//! Pieces of JSON every dialect writes alike.

use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// A timestamp as RFC 3339, with as many fractional digits as it needs
/// (`2025-01-16T12:00:00.1234Z`): Clasp's own API.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Whole seconds in UTC.
const SECONDS: &[FormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// Six fractional digits in UTC.
const MICROSECONDS: &[FormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// A timestamp as the seeds show them, to the second (`2025-01-16T12:00:00Z`):
/// clients parse it with a fixed format such as `%Y-%m-%dT%H:%M:%SZ`.
pub fn seconds(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(SECONDS)
        .unwrap_or_default()
}

/// A timestamp with always six fractional digits
/// (`2025-01-16T12:00:00.120000Z`): for a value that is also a cursor, which
/// needs every digit the store keeps, in one shape a fixed format parses.
pub fn microseconds(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(MICROSECONDS)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn each_shape_has_a_fixed_width() {
        let t = datetime!(2025-01-16 12:00:00.12 +01:00);
        assert_eq!(seconds(t), "2025-01-16T11:00:00Z");
        assert_eq!(microseconds(t), "2025-01-16T11:00:00.120000Z");
        let whole = datetime!(2025-01-16 12:00:00 UTC);
        assert_eq!(seconds(whole), "2025-01-16T12:00:00Z");
        assert_eq!(microseconds(whole), "2025-01-16T12:00:00.000000Z");
    }
}
