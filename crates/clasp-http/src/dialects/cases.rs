//! The `cases` dialect (seed 002): `/api-public/1.0/…`, Bearer API keys with
//! scopes, multipart `save_file` to a case, a queryable listing answering
//! `{records, count}`, raw byte downloads, camelCase objects.
//!
//! Errors are `{"status": <http status>, "code": "<code>", "message": "<text>"}`,
//! plus `"parameter": "<name>"` when one query parameter or form field is at
//! fault: 400 (bad parameter or upload), 401 (no or bad key), 403 (missing
//! scope), 404 (no such attachment in this tenant — also for ids that are not
//! UUIDs), 500. `docs/dialects/cases.md` lists every code.

use actix_web::http::StatusCode;
use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use clasp_domain::services::Lookup;
use clasp_domain::{Attachment, AttachmentId, ErrorKind, ListRequest};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::dialects::Dialect;
use crate::extract::{Bearer, Id, PathParam};
use crate::json::microseconds;
use crate::openapi::Refusals;
use crate::problem::{Problem, ProblemKind};
use crate::routes::{Group, handlers};
use crate::wire::{Reply, Wire, WireDialect, standard};
use crate::{Services, download};

mod listing;
mod save_file;

use listing::listing;

/// The locale of an upload that names none, as the seed documents.
const DEFAULT_LOCALE: &str = "en_US";

/// What `encoding` says of every file: Clasp stores the bytes exactly as they
/// arrived, without any transfer encoding.
const ENCODING: &str = "binary";

/// The keys of the attachment object, which `fields` may name.
const FIELDS: [&str; 16] = [
    "id",
    "name",
    "nameWithoutExtension",
    "encoding",
    "mimeType",
    "objectId",
    "sizeBytes",
    "kind",
    "fileFormat",
    "caseId",
    "description",
    "tags",
    "locale",
    "sha256",
    "createdDate",
    "updatedDate",
];

/// The `cases` dialect: camelCase codes, and the field at fault named.
pub struct Cases;

impl WireDialect for Cases {
    const DIALECT: Dialect = Dialect::Cases;
    type Caller = Bearer<Cases>;

    fn wire(problem: &Problem) -> Wire {
        use ErrorKind as E;
        use ProblemKind as P;
        let mut wire = match problem.kind {
            P::Domain(E::Forbidden(_)) => Wire::new(StatusCode::FORBIDDEN, "forbidden"),
            P::Domain(
                E::ChecksumMismatch | E::ETagMismatch | E::VerificationFailed | E::NotLinkable(_),
            ) => Wire::new(StatusCode::BAD_REQUEST, "invalid_request"),
            P::MissingField => Wire::new(StatusCode::BAD_REQUEST, "missing_field"),
            P::InvalidField => Wire::new(StatusCode::BAD_REQUEST, "invalid_field"),
            P::InvalidParameter => Wire::new(StatusCode::BAD_REQUEST, "invalid_parameter"),
            _ => standard(problem),
        };
        wire.code = camel_case(&wire.code).into();
        wire
    }

    fn body<'a>(problem: &'a Problem, wire: &'a Wire, message: &'a str) -> impl Serialize + 'a {
        let about_the_file = matches!(
            problem.kind,
            ProblemKind::Domain(
                ErrorKind::TooLarge
                    | ErrorKind::DisallowedType
                    | ErrorKind::MagicMismatch
                    | ErrorKind::Infected { .. }
            )
        );
        ErrorJson {
            status: wire.status.as_u16(),
            code: &wire.code,
            message,
            parameter: problem
                .parameter
                .as_deref()
                .or(about_the_file.then_some("file")),
        }
    }
}

/// The camelCase spelling of a snake_case wire code (`file_too_large` →
/// `fileTooLarge`), as this dialect writes every code.
fn camel_case(code: &str) -> String {
    let mut words = code.split('_');
    let first = words.next().unwrap_or_default().to_owned();
    words.fold(first, |mut out, word| {
        let mut chars = word.chars();
        if let Some(c) = chars.next() {
            out.push(c.to_ascii_uppercase());
            out.push_str(chars.as_str());
        }
        out
    })
}

/// The seed's four endpoints.
pub(crate) fn routes() -> Group {
    Group::new(
        Dialect::Cases,
        handlers![save_file in save_file, list, get, download],
    )
}

type Attached = PathParam<AttachmentId, Id, Cases>;

/// The seed's attachment object, with every field; [`FIELDS`] names its keys.
#[derive(Serialize, ToSchema)]
#[schema(as = cases::Attachment)]
#[serde(rename_all = "camelCase")]
struct AttachmentJson<'a> {
    id: Uuid,
    name: &'a str,
    name_without_extension: &'a str,
    /// Always `binary`: the bytes are stored as they arrived.
    encoding: &'static str,
    mime_type: &'a str,
    object_id: String,
    size_bytes: u64,
    /// The MIME type's top level, e.g. `image`.
    kind: &'a str,
    /// The file name's extension.
    file_format: String,
    #[schema(format = Uuid)]
    case_id: Option<&'a str>,
    description: Option<&'a str>,
    tags: &'a [String],
    locale: Option<&'a str>,
    sha256: Option<&'a str>,
    #[schema(format = DateTime)]
    created_date: String,
    #[schema(format = DateTime)]
    updated_date: String,
}

impl<'a> From<&'a Attachment> for AttachmentJson<'a> {
    fn from(a: &'a Attachment) -> Self {
        Self {
            id: a.id.0,
            name: &a.filename,
            name_without_extension: a.name_without_extension(),
            encoding: ENCODING,
            mime_type: &a.content_type,
            object_id: a.blob_key(),
            size_bytes: a.size_bytes,
            kind: a.kind(),
            file_format: a.file_format(),
            case_id: a.subject.case_id.as_deref(),
            description: a.description.as_deref(),
            tags: &a.tags,
            locale: a.locale.as_deref(),
            sha256: a.sha256.as_deref(),
            created_date: microseconds(a.created_at),
            updated_date: microseconds(a.updated_at),
        }
    }
}

/// A page of the listing.
#[derive(Serialize, ToSchema)]
#[schema(as = cases::AttachmentList)]
struct ListJson {
    /// How many records this page holds.
    count: usize,
    /// Attachment objects (`cases.Attachment`), holding only the keys `fields`
    /// names when it is given.
    #[schema(value_type = Vec<Object>)]
    records: Vec<Map<String, Value>>,
}

/// The error body; `parameter` names the query parameter or form field at fault.
#[derive(Serialize, ToSchema)]
#[schema(as = cases::Error)]
struct ErrorJson<'a> {
    status: u16,
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameter: Option<&'a str>,
}

/// The multipart form of `save_file` (described for the OpenAPI document; the
/// handler streams the parts instead of deserialising them).
#[derive(ToSchema)]
#[schema(as = cases::SaveFileForm)]
#[expect(
    dead_code,
    reason = "only describes the request body in the OpenAPI document"
)]
struct SaveFileForm {
    /// The case the file is attached to.
    #[schema(rename = "caseId")]
    case_id: Uuid,
    description: Option<String>,
    /// Defaults to `en_US`.
    #[schema(rename = "templateLocale")]
    template_locale: Option<String>,
    /// Tag ids, one part per tag.
    #[schema(rename = "bulkTags[]")]
    bulk_tags: Option<Vec<String>>,
    /// The file: the last part of the form.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

#[utoipa::path(get, path = "/api-public/1.0/attachment/{id}", params(Attached), responses(
    (status = 200, description = "The attachment's metadata", body = AttachmentJson),
    Refusals<ErrorJson>,
))]
/// One attachment's metadata.
async fn get(p: Bearer<Cases>, id: Attached, services: Data<Services>) -> Reply<Cases> {
    let a = services.attachments.get(&p, &Lookup::id(id.0)).await?;
    Ok(HttpResponse::Ok().json(AttachmentJson::from(&a)))
}

#[utoipa::path(get, path = "/api-public/1.0/attachment/{id}/attachment", params(Attached), responses(
    crate::download::Responses,
    Refusals<ErrorJson>,
))]
/// The raw bytes of an attachment.
async fn download(
    p: Bearer<Cases>,
    id: Attached,
    req: HttpRequest,
    services: Data<Services>,
) -> Reply<Cases> {
    let opened = services.attachments.open(&p, &Lookup::id(id.0)).await?;
    Ok(download::respond(&req, opened).await?)
}

#[utoipa::path(get, path = "/api-public/1.0/attachments", params(("limit" = Option<u32>, Query, description = "At most this many records: 50 when absent, and more than 1000 is taken as 1000", minimum = 1), ("sort" = Option<String>, Query, description = "`createdDate` (default), `updatedDate`, `name`, `sizeBytes`, `mimeType`, `kind`, `fileFormat`, `nameWithoutExtension`, `caseId`, `description`, `locale`, `sha256` (absent sorts as empty), `id` or `objectId`"), ("order" = Option<String>, Query, description = "`asc` (default) or `desc`"), ("after" = Option<String>, Query, description = "Only records whose `sort` value comes after this one"), ("before" = Option<String>, Query, description = "Only records whose `sort` value comes before this one"), ("fields" = Option<String>, Query, description = "Comma-separated keys of the attachment object to return"), ("caseId" = Option<Uuid>, Query, description = "Filter: the case"), ("mimeType" = Option<String>, Query, description = "Filter: the MIME type"), ("kind" = Option<String>, Query, description = "Filter: the MIME type's top level, e.g. `image`"), ("fileFormat" = Option<String>, Query, description = "Filter: the file name's extension"), ("name" = Option<String>, Query, description = "Filter: the file name"), ("tag" = Option<String>, Query, description = "Filter: a tag"), ("id" = Option<Uuid>, Query, description = "Filter: the attachment's id"), ("nameWithoutExtension" = Option<String>, Query, description = "Filter: the file name without its extension"), ("encoding" = Option<String>, Query, description = "Filter: always `binary`"), ("objectId" = Option<String>, Query, description = "Filter: where the bytes are kept, `{tenant id}/{id}`"), ("description" = Option<String>, Query, description = "Filter: the description"), ("locale" = Option<String>, Query, description = "Filter: the locale"), ("sha256" = Option<String>, Query, description = "Filter: the SHA-256 of the bytes"), ("_" = Option<String>, Query, description = "A cache-buster, ignored")), responses(
    (status = 200, description = "A page of records", body = ListJson),
    (status = 400, description = "An unknown, repeated or malformed parameter (`invalidParameter`, named by `parameter`)", body = ErrorJson),
    crate::openapi::BearerRefusals<ErrorJson>,
))]
/// Lists the tenant's attachments, sorted, paged by keyset and filtered.
async fn list(p: Bearer<Cases>, req: HttpRequest, services: Data<Services>) -> Reply<Cases> {
    let asked = listing(req.query_string(), p.tenant_id)?;
    let query = ListRequest {
        sort: asked.sort,
        order: asked.order,
        limit: asked.limit.as_deref(),
        after: asked.after.as_deref(),
        before: asked.before.as_deref(),
        filters: asked.filters,
    }
    .validate()?;
    let found = services.attachments.query(&p, &query).await?;
    let records: Vec<Map<String, Value>> = found
        .iter()
        .map(|a| {
            let mut r = match serde_json::to_value(AttachmentJson::from(a)) {
                Ok(Value::Object(map)) => map,
                _ => Map::new(),
            };
            if let Some(keys) = &asked.fields {
                r.retain(|k, _| keys.contains(k));
            }
            r
        })
        .collect();
    Ok(HttpResponse::Ok().json(ListJson {
        count: records.len(),
        records,
    }))
}
