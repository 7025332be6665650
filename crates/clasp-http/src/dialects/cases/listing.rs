//! The query string of the `cases` listing: sort, order, limit, keyset bounds,
//! the keys to answer with, and filters — one per string field of the
//! attachment object; any unknown, repeated or malformed parameter is refused,
//! naming it.

use actix_web::web;
use clasp_domain::TenantId;
use clasp_domain::listing::{Filter, FilterField, SortField, SortOrder, TextField};
use uuid::Uuid;

use super::FIELDS;
use crate::problem::{Problem, ProblemKind};

/// A 400 blaming the query parameter `name`.
fn invalid(name: &str, message: impl Into<String>) -> Problem {
    Problem::new(ProblemKind::InvalidParameter, message).at(name.to_owned())
}

/// The filter a query parameter names, if it names one.
fn filter_field(name: &str) -> Option<FilterField> {
    Some(match name {
        "caseId" => FilterField::CaseId,
        "mimeType" => FilterField::ContentType,
        "kind" => FilterField::Kind,
        "fileFormat" => FilterField::FileFormat,
        "name" => FilterField::Filename,
        "tag" => FilterField::Tag,
        "id" => FilterField::Id,
        "nameWithoutExtension" => FilterField::NameWithoutExtension,
        "description" => FilterField::Description,
        "locale" => FilterField::Locale,
        "sha256" => FilterField::Sha256,
        _ => return None,
    })
}

/// A listing as the query string asks for it, and the keys to answer.
pub(super) struct Listing {
    pub(super) sort: SortField,
    pub(super) order: SortOrder,
    pub(super) limit: Option<String>,
    pub(super) after: Option<String>,
    pub(super) before: Option<String>,
    pub(super) fields: Option<Vec<String>>,
    pub(super) filters: Vec<Filter>,
}

/// Reads the listing parameters; any unknown, repeated or malformed one is
/// refused, naming it.
pub(super) fn listing(query: &str, tenant: TenantId) -> Result<Listing, Problem> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
        .map_err(|e| invalid("query", format!("unreadable query string: {e}")))?
        .into_inner();
    let mut listing = Listing {
        sort: SortField::CreatedAt,
        order: SortOrder::Asc,
        limit: None,
        after: None,
        before: None,
        fields: None,
        filters: Vec::new(),
    };
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in &pairs {
        if let Some(field) = filter_field(name) {
            let value = if matches!(field, FilterField::CaseId | FilterField::Id) {
                Uuid::parse_str(value)
                    .map_err(|_| invalid(name, format!("{name} must be a UUID")))?
                    .to_string()
            } else {
                value.clone()
            };
            listing.filters.push(Filter { field, value });
            continue;
        }
        // Fields whose value follows from the id, or no attachment's: a value
        // no attachment has filters by an id none has.
        let derived = match name.as_str() {
            "objectId" => Some(
                value
                    .split_once('/')
                    .filter(|(of, _)| *of == tenant.to_string())
                    .map_or_else(String::new, |(_, id)| id.to_owned()),
            ),
            "encoding" if value == "binary" => continue,
            "encoding" => Some(String::new()),
            _ => None,
        };
        if let Some(value) = derived {
            let field = FilterField::Id;
            listing.filters.push(Filter { field, value });
            continue;
        }
        if seen.contains(&name.as_str()) {
            return Err(invalid(name, format!("{name} is given twice")));
        }
        match name.as_str() {
            "limit" => listing.limit = Some(value.clone()),
            "after" => listing.after = Some(value.clone()),
            "before" => listing.before = Some(value.clone()),
            "sort" => {
                listing.sort = match value.as_str() {
                    "createdDate" => SortField::CreatedAt,
                    "updatedDate" => SortField::UpdatedAt,
                    "name" => SortField::Filename,
                    "sizeBytes" => SortField::Size,
                    "mimeType" => SortField::Text(TextField::ContentType),
                    "kind" => SortField::Text(TextField::Kind),
                    "fileFormat" => SortField::Text(TextField::FileFormat),
                    "nameWithoutExtension" => SortField::Text(TextField::NameWithoutExtension),
                    "caseId" => SortField::Text(TextField::CaseId),
                    "description" => SortField::Text(TextField::Description),
                    "locale" => SortField::Text(TextField::Locale),
                    "sha256" => SortField::Text(TextField::Sha256),
                    // objectId is `{tenant}/{id}`: the id's order in a tenant
                    "id" | "objectId" => SortField::Id,
                    other => {
                        return Err(invalid(
                            "sort",
                            format!(
                                "cannot sort by {other:?}: use createdDate, updatedDate, name, \
                                 sizeBytes, mimeType, kind, fileFormat, nameWithoutExtension, \
                                 caseId, description, locale, sha256, id or objectId"
                            ),
                        ));
                    }
                }
            }
            "order" => {
                listing.order = match value.to_ascii_lowercase().as_str() {
                    "asc" => SortOrder::Asc,
                    "desc" => SortOrder::Desc,
                    _ => {
                        return Err(invalid(
                            "order",
                            format!("order must be asc or desc, not {value:?}"),
                        ));
                    }
                }
            }
            "fields" => {
                let keys: Vec<String> = value.split(',').map(|k| k.trim().to_owned()).collect();
                if let Some(bad) = keys.iter().find(|k| !FIELDS.contains(&k.as_str())) {
                    return Err(invalid(
                        "fields",
                        format!("{bad:?} is not a field of an attachment"),
                    ));
                }
                listing.fields = Some(keys);
            }
            // the cache-buster jQuery and others add
            "_" => {}
            other => {
                return Err(invalid(other, format!("unknown query parameter {other:?}")));
            }
        }
        seen.push(name);
    }
    // An objectId cursor names the tenant before the id the listing pages by.
    if pairs.iter().any(|(n, v)| n == "sort" && v == "objectId") {
        let own = format!("{tenant}/");
        for bound in [&mut listing.after, &mut listing.before] {
            if let Some(value) = bound.as_mut()
                && let Some(id) = value.strip_prefix(&own)
            {
                *value = id.to_owned();
            }
        }
    }
    Ok(listing)
}
