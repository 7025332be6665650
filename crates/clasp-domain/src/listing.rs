//! Queryable listings of a tenant's ready attachments: sorted by one field, paged
//! by keyset (a cursor holds a sort value and an id, so a page costs the same
//! however deep it is), filtered by equality on string fields.
//!
//! The wire vocabulary (parameter and field names) belongs to each dialect; what
//! a valid query is — limits, cursor values, the tie-breaking order — is decided
//! here, once, and every repository adapter lists by the same rules.

use std::cmp::Ordering;
use std::str::FromStr;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::attachment::{Attachment, AttachmentId};

/// Records in a page when the client names no limit.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest page a client may ask for: a page is built in memory and answered
/// at once, so its size is bounded.
pub const MAX_LIMIT: usize = 1000;

/// The most filters one listing may carry: each is a condition of the query,
/// so their number bounds its cost.
pub const MAX_FILTERS: usize = 16;

/// Which bound of a listing a cursor sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Only records that sort after the cursor.
    After,
    /// Only records that sort before the cursor.
    Before,
}

/// Why a listing query is refused; each variant names the parameter at fault,
/// so a dialect can tell the client which one to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListingError {
    /// The page size is not a positive whole number.
    #[error(
        "limit must be a whole number of at least 1 (more than {MAX_LIMIT} is taken as {MAX_LIMIT}), not {0:?}"
    )]
    Limit(String),
    /// More filters than [`MAX_FILTERS`].
    #[error("a listing may carry at most {MAX_FILTERS} filters, not {0}")]
    TooManyFilters(usize),
    /// A cursor's value is not a value of the sort field, or its tie-breaker
    /// is not an attachment id.
    #[error("{reason}")]
    Cursor {
        /// The bound the cursor sets.
        bound: Bound,
        /// What is wrong with it.
        reason: String,
    },
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// The fields a listing sorts by; every adapter keeps an index per field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortField {
    /// Creation time.
    #[default]
    CreatedAt,
    /// The (sanitised) filename, compared by Unicode code points.
    Filename,
    /// Size in bytes.
    Size,
    /// Time of the last change.
    UpdatedAt,
    /// A text field, compared by Unicode code points.
    Text(TextField),
    /// The id alone (its own tie-breaker).
    Id,
}

/// The text fields a listing sorts by besides the filename. One that may be
/// absent sorts as the empty text, on every backend alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    /// The stored media type.
    ContentType,
    /// The media type's top-level type ([`Attachment::kind`]).
    Kind,
    /// The filename's extension ([`Attachment::file_format`]).
    FileFormat,
    /// The filename without its extension ([`Attachment::name_without_extension`]).
    NameWithoutExtension,
    /// The case, if any.
    CaseId,
    /// The description, if any.
    Description,
    /// The locale, if any.
    Locale,
    /// The SHA-256 of the bytes (every listed attachment has one).
    Sha256,
}

impl TextField {
    /// The field's value of `a`.
    pub fn of(self, a: &Attachment) -> String {
        match self {
            TextField::ContentType => a.content_type.clone(),
            TextField::Kind => a.kind().to_owned(),
            TextField::FileFormat => a.file_format(),
            TextField::NameWithoutExtension => a.name_without_extension().to_owned(),
            TextField::CaseId => a.subject.case_id.clone().unwrap_or_default(),
            TextField::Description => a.description.clone().unwrap_or_default(),
            TextField::Locale => a.locale.clone().unwrap_or_default(),
            TextField::Sha256 => a.sha256.clone().unwrap_or_default(),
        }
    }
}

/// One end of a keyset range: records are compared to it by (sort value, id).
/// Without an id, the bound is the value alone: every record with that value
/// lies outside the range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor<T> {
    /// A value of the sort field.
    pub value: T,
    /// The tie-breaker: the id of the record the cursor stands on.
    pub id: Option<AttachmentId>,
}

/// The range a listing covers, by values of its sort field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range<T> {
    /// Records strictly after this cursor.
    pub after: Option<Cursor<T>>,
    /// Records strictly before this cursor.
    pub before: Option<Cursor<T>>,
}

impl<T: Ord> Range<T> {
    /// Whether the record with `value` and `id` lies inside.
    pub fn contains(&self, value: &T, id: AttachmentId) -> bool {
        let after = self
            .after
            .as_ref()
            .is_none_or(|c| match value.cmp(&c.value) {
                Ordering::Greater => true,
                Ordering::Equal => c.id.is_some_and(|cid| id > cid),
                Ordering::Less => false,
            });
        let before = self
            .before
            .as_ref()
            .is_none_or(|c| match value.cmp(&c.value) {
                Ordering::Less => true,
                Ordering::Equal => c.id.is_some_and(|cid| id < cid),
                Ordering::Greater => false,
            });
        after && before
    }
}

/// The sort field with the range of its values to list: typed, so a cursor
/// always holds a value of the field it pages through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    /// By creation time.
    CreatedAt(Range<OffsetDateTime>),
    /// By filename.
    Filename(Range<String>),
    /// By size in bytes.
    Size(Range<u64>),
    /// By time of the last change.
    UpdatedAt(Range<OffsetDateTime>),
    /// By a text field.
    Text(TextField, Range<String>),
    /// By id.
    Id(Range<AttachmentId>),
}

/// String fields a listing filters on by equality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterField {
    /// The case the attachment hangs on.
    CaseId,
    /// The declared media type.
    ContentType,
    /// The media type's top-level type ([`Attachment::kind`]).
    Kind,
    /// The filename's extension ([`Attachment::file_format`]).
    FileFormat,
    /// The whole filename.
    Filename,
    /// One of the attachment's tags.
    Tag,
    /// The attachment's id (a UUID).
    Id,
    /// The filename without its extension ([`Attachment::name_without_extension`]).
    NameWithoutExtension,
    /// The uploader's description.
    Description,
    /// The locale.
    Locale,
    /// The lowercase hex SHA-256 of the bytes.
    Sha256,
}

/// One equality filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The field compared.
    pub field: FilterField,
    /// The value it must equal.
    pub value: String,
}

impl Filter {
    /// Whether `a` passes.
    pub fn matches(&self, a: &Attachment) -> bool {
        let v = self.value.as_str();
        match self.field {
            FilterField::CaseId => a.subject.case_id.as_deref() == Some(v),
            FilterField::ContentType => a.content_type == v,
            FilterField::Kind => a.kind() == v,
            FilterField::FileFormat => a.file_format() == v,
            FilterField::Filename => a.filename == v,
            FilterField::Tag => a.tags.iter().any(|t| t == v),
            FilterField::Id => a.id.to_string() == v,
            FilterField::NameWithoutExtension => a.name_without_extension() == v,
            FilterField::Description => a.description.as_deref() == Some(v),
            FilterField::Locale => a.locale.as_deref() == Some(v),
            FilterField::Sha256 => a.sha256.as_deref() == Some(v),
        }
    }
}

/// A validated listing: one page of a tenant's ready attachments that pass
/// every filter, inside the sort key's range, ordered by (sort value, id) in
/// `order`, at most `limit` of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Sort field and range.
    pub sort: SortKey,
    /// Direction; ties on the sort value are broken by id in the same direction.
    pub order: SortOrder,
    /// All must match.
    pub filters: Vec<Filter>,
    /// Page size, 1 to [`MAX_LIMIT`].
    pub limit: usize,
}

/// A listing as a client asked for it, before validation: cursors and limit
/// are still text.
#[derive(Debug, Clone, Default)]
pub struct ListRequest<'a> {
    /// Sort field.
    pub sort: SortField,
    /// Direction.
    pub order: SortOrder,
    /// Page size; [`DEFAULT_LIMIT`] when absent.
    pub limit: Option<&'a str>,
    /// Cursor of the lower bound, see [`parse_cursor`].
    pub after: Option<&'a str>,
    /// Cursor of the upper bound, see [`parse_cursor`].
    pub before: Option<&'a str>,
    /// Equality filters.
    pub filters: Vec<Filter>,
}

impl ListRequest<'_> {
    /// The query, or the first parameter that is wrong.
    pub fn validate(self) -> Result<ListQuery, ListingError> {
        if self.filters.len() > MAX_FILTERS {
            return Err(ListingError::TooManyFilters(self.filters.len()));
        }
        let limit = match self.limit {
            None => DEFAULT_LIMIT,
            Some(raw) => page_size(raw).ok_or_else(|| ListingError::Limit(raw.to_owned()))?,
        };
        let sort = match self.sort {
            SortField::CreatedAt => SortKey::CreatedAt(range(self.after, self.before, parse_time)?),
            SortField::Filename => {
                SortKey::Filename(range(self.after, self.before, |v| Ok(v.to_owned()))?)
            }
            SortField::Size => SortKey::Size(range(self.after, self.before, parse_size)?),
            SortField::UpdatedAt => SortKey::UpdatedAt(range(self.after, self.before, parse_time)?),
            SortField::Text(field) => {
                SortKey::Text(field, range(self.after, self.before, |v| Ok(v.to_owned()))?)
            }
            SortField::Id => SortKey::Id(range(self.after, self.before, parse_id)?),
        };
        Ok(ListQuery {
            sort,
            order: self.order,
            filters: self.filters,
            limit,
        })
    }
}

/// A page size as a client asks for it: a positive whole number, one above
/// [`MAX_LIMIT`] taken as [`MAX_LIMIT`] — a client asking for a large page
/// wants as much as it may have, and pages on from the last record it got.
fn page_size(raw: &str) -> Option<usize> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let asked = raw.parse::<usize>().unwrap_or(usize::MAX);
    (asked >= 1).then_some(asked.min(MAX_LIMIT))
}

fn range<T>(
    after: Option<&str>,
    before: Option<&str>,
    value: impl Fn(&str) -> Result<T, String>,
) -> Result<Range<T>, ListingError> {
    let cursor = |raw: Option<&str>, bound| {
        raw.map(|raw| {
            parse_cursor(raw, &value).map_err(|reason| ListingError::Cursor { bound, reason })
        })
        .transpose()
    };
    Ok(Range {
        after: cursor(after, Bound::After)?,
        before: cursor(before, Bound::Before)?,
    })
}

/// Reads a cursor: a value of the sort field, optionally followed by a comma
/// and the id of the record it stands on (the tie-breaker). The text after the
/// last comma is the tie-breaker only when it is an attachment id; a value that
/// itself ends in a comma and a UUID must therefore be followed by a tie-breaker
/// (`ffffffff-ffff-ffff-ffff-ffffffffffff` after it, or the nil UUID before it,
/// mean "the value alone").
pub fn parse_cursor<T>(
    raw: &str,
    value: impl Fn(&str) -> Result<T, String>,
) -> Result<Cursor<T>, String> {
    let split = raw
        .rsplit_once(',')
        .and_then(|(v, id)| AttachmentId::from_str(id).ok().map(|id| (v, id)));
    match split {
        Some((v, id)) => Ok(Cursor {
            value: value(v)?,
            id: Some(id),
        }),
        None => Ok(Cursor {
            value: value(raw)?,
            id: None,
        }),
    }
}

fn parse_time(raw: &str) -> Result<OffsetDateTime, String> {
    let at = OffsetDateTime::parse(raw, &Rfc3339)
        .map_err(|e| format!("{raw:?} is not an RFC 3339 time: {e}"))?;
    if at.nanosecond() % 1_000 != 0 {
        return Err(format!(
            "{raw:?} is more precise than the microseconds times are kept in"
        ));
    }
    Ok(at)
}

fn parse_id(raw: &str) -> Result<AttachmentId, String> {
    uuid::Uuid::parse_str(raw)
        .map(AttachmentId)
        .map_err(|_| format!("{raw:?} is not an attachment id"))
}

fn parse_size(raw: &str) -> Result<u64, String> {
    raw.parse::<u64>()
        .ok()
        .filter(|n| i64::try_from(*n).is_ok())
        .ok_or_else(|| format!("{raw:?} is not a size in bytes"))
}

impl ListQuery {
    /// Whether `a` belongs in the listing (apart from the limit): ready, passing
    /// every filter, inside the range. The in-memory adapter lists with it.
    pub fn admits(&self, a: &Attachment) -> bool {
        a.is_ready()
            && self.filters.iter().all(|f| f.matches(a))
            && match &self.sort {
                SortKey::CreatedAt(r) => r.contains(&a.created_at, a.id),
                SortKey::Filename(r) => r.contains(&a.filename, a.id),
                SortKey::Size(r) => r.contains(&a.size_bytes, a.id),
                SortKey::UpdatedAt(r) => r.contains(&a.updated_at, a.id),
                SortKey::Text(field, r) => r.contains(&field.of(a), a.id),
                SortKey::Id(r) => r.contains(&a.id, a.id),
            }
    }

    /// The listing's order between two attachments.
    pub fn compare(&self, a: &Attachment, b: &Attachment) -> Ordering {
        let by_value = match &self.sort {
            SortKey::CreatedAt(_) => a.created_at.cmp(&b.created_at),
            SortKey::Filename(_) => a.filename.cmp(&b.filename),
            SortKey::Size(_) => a.size_bytes.cmp(&b.size_bytes),
            SortKey::UpdatedAt(_) => a.updated_at.cmp(&b.updated_at),
            SortKey::Text(field, _) => field.of(a).cmp(&field.of(b)),
            SortKey::Id(_) => Ordering::Equal,
        };
        let ascending = by_value.then(a.id.cmp(&b.id));
        match self.order {
            SortOrder::Asc => ascending,
            SortOrder::Desc => ascending.reverse(),
        }
    }

    /// The page out of every attachment of a tenant: what each adapter must
    /// answer, computed the simplest way (the in-memory adapter and the contract
    /// suite use it).
    pub fn select<'a>(&self, all: impl IntoIterator<Item = &'a Attachment>) -> Vec<Attachment> {
        let mut found: Vec<&Attachment> = all.into_iter().filter(|a| self.admits(a)).collect();
        found.sort_by(|a, b| self.compare(a, b));
        found.into_iter().take(self.limit).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(sort: SortField, after: Option<&'a str>) -> ListRequest<'a> {
        ListRequest {
            sort,
            after,
            ..ListRequest::default()
        }
    }

    #[test]
    fn limits_default_and_are_bounded() {
        assert_eq!(
            ListRequest::default().validate().unwrap().limit,
            DEFAULT_LIMIT
        );
        for bad in ["0", "-1", "+5", "ten", ""] {
            let r = ListRequest {
                limit: Some(bad),
                ..ListRequest::default()
            };
            assert_eq!(r.validate(), Err(ListingError::Limit(bad.into())), "{bad}");
        }
        for (asked, got) in [
            ("1", 1),
            ("1000", 1000),
            ("1001", 1000),
            ("99999999999999999999999", 1000),
        ] {
            let r = ListRequest {
                limit: Some(asked),
                ..ListRequest::default()
            };
            assert_eq!(r.validate().unwrap().limit, got, "{asked}");
        }
    }

    #[test]
    fn the_number_of_filters_is_bounded() {
        let tag = |i: usize| Filter {
            field: FilterField::Tag,
            value: format!("t{i}"),
        };
        let most = ListRequest {
            filters: (0..MAX_FILTERS).map(tag).collect(),
            ..ListRequest::default()
        };
        assert!(most.validate().is_ok());
        let more = ListRequest {
            filters: (0..=MAX_FILTERS).map(tag).collect(),
            ..ListRequest::default()
        };
        assert_eq!(
            more.validate(),
            Err(ListingError::TooManyFilters(MAX_FILTERS + 1))
        );
    }

    #[test]
    fn cursors_hold_a_value_of_the_sort_field_and_maybe_an_id() {
        let id = AttachmentId::new();
        let with_id = format!("2026-01-02T03:04:05.123456Z,{id}");
        let q = request(SortField::CreatedAt, Some(&with_id))
            .validate()
            .unwrap();
        let SortKey::CreatedAt(r) = q.sort else {
            panic!("sort by time")
        };
        let after = r.after.unwrap();
        assert_eq!(after.id, Some(id));
        assert_eq!(after.value.microsecond(), 123_456);

        let named = format!("a,b,{id}");
        let q = request(SortField::Filename, Some(&named))
            .validate()
            .unwrap();
        assert_eq!(
            q.sort,
            SortKey::Filename(Range {
                after: Some(Cursor {
                    value: "a,b".into(),
                    id: Some(id)
                }),
                before: None
            })
        );
        let q = request(SortField::Filename, Some("a,b"))
            .validate()
            .unwrap();
        assert!(
            matches!(q.sort, SortKey::Filename(Range { after: Some(Cursor { ref value, id: None }), .. }) if value == "a,b")
        );

        for (sort, bad) in [
            (SortField::CreatedAt, "yesterday"),
            (SortField::CreatedAt, "2026-01-02T03:04:05.1234567Z"),
            (SortField::Size, "-3"),
            (SortField::Size, "9223372036854775808"),
            (SortField::Size, "12,not-an-id"),
        ] {
            let r = ListRequest {
                sort,
                before: Some(bad),
                ..ListRequest::default()
            };
            assert!(
                matches!(
                    r.validate(),
                    Err(ListingError::Cursor {
                        bound: Bound::Before,
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn ranges_exclude_their_cursor_and_its_ties_without_an_id() {
        let low = AttachmentId(uuid::Uuid::from_u128(1));
        let high = AttachmentId(uuid::Uuid::from_u128(2));
        let value_only = Range {
            after: Some(Cursor { value: 5, id: None }),
            before: None,
        };
        assert!(!value_only.contains(&5, high));
        assert!(value_only.contains(&6, low));
        let with_id = Range {
            after: Some(Cursor {
                value: 5,
                id: Some(low),
            }),
            before: Some(Cursor {
                value: 7,
                id: Some(high),
            }),
        };
        assert!(!with_id.contains(&5, low));
        assert!(with_id.contains(&5, high));
        assert!(with_id.contains(&7, low));
        assert!(!with_id.contains(&7, high));
    }
}
