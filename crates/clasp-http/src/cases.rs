//! The `cases` dialect (seed 002): `/api-public/1.0/…`, Bearer API keys with
//! scopes, multipart `save_file` to a case, a queryable listing answering
//! `{records, count}`, raw byte downloads, camelCase objects.
//!
//! Errors are `{"status": <http status>, "code": "<code>", "message": "<text>"}`,
//! plus `"parameter": "<name>"` when one query parameter or form field is at
//! fault: 400 (bad parameter or upload), 401 (no or bad key), 403 (missing
//! scope), 404 (no such attachment in this tenant — also for ids that are not
//! UUIDs), 500. `docs/dialects/cases.md` lists every code.

use std::cell::RefCell;
use std::rc::Rc;

use actix_multipart::MultipartError;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::BytesMut;
use clasp_domain::listing::{Bound, Filter, FilterField, SortField, SortOrder};
use clasp_domain::services::{Lookup, NewUpload};
use clasp_domain::{
    Attachment, AttachmentError, AttachmentId, AuthError, ListRequest, ListingError, Principal,
    Scope, Subject, ValidationError,
};
use futures::StreamExt;
use serde::Serialize;
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::form::{Form, Part};
use crate::limits::Refusal;
use crate::{Services, bearer, body, download};

/// The locale of an upload that names none, as the seed documents.
const DEFAULT_LOCALE: &str = "en_US";

/// What `encoding` says of every file: Clasp stores the bytes exactly as they
/// arrived, without any transfer encoding.
const ENCODING: &str = "binary";

/// Longest text form field read (a description, a tag, a case id), in bytes.
const MAX_TEXT_FIELD: usize = 64 * 1024;

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

/// Registers the seed's four endpoints.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api-public/1.0")
            .route("/save_file", web::post().to(save_file))
            .route("/attachments", web::get().to(list))
            .route("/attachment/{id}", web::get().to(get))
            .route("/attachment/{id}/attachment", web::get().to(download)),
    );
}

/// This dialect's part of the OpenAPI document, built from the handlers below.
#[derive(OpenApi)]
#[openapi(paths(save_file, list, get, download))]
pub(crate) struct Api;

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
            created_date: rfc3339(a.created_at),
            updated_date: rfc3339(a.updated_at),
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

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// A failure as this dialect reports it.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    parameter: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            parameter: None,
        }
    }

    fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "notFound", "attachment not found")
    }

    /// A 400 blaming one query parameter or form field.
    fn blame(code: &'static str, parameter: &str, message: impl Into<String>) -> Self {
        Self {
            parameter: Some(parameter.to_owned()),
            ..Self::new(StatusCode::BAD_REQUEST, code, message)
        }
    }

    fn parameter(parameter: &str, message: impl Into<String>) -> Self {
        Self::blame("invalidParameter", parameter, message)
    }

    fn internal(what: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %what, "cases request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internalError",
            "the request could not be completed",
        )
    }

    fn response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        res.json(ErrorJson {
            status: self.status.as_u16(),
            code: self.code,
            message: &self.message,
            parameter: self.parameter.as_deref(),
        })
    }
}

/// A refusal made before the handler ran (rate limit, upload cap), in this
/// dialect's error shape and camelCase codes.
pub(crate) fn refusal(refused: Refusal) -> HttpResponse {
    let (status, _, message) = refused.describe();
    let code = match refused {
        Refusal::Busy => "tooManyUploads",
        Refusal::RateLimited { .. } => "rateLimited",
    };
    ApiError::new(status, code, message).response()
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Backend(b) => Self::internal(&b),
            other => Self::new(StatusCode::UNAUTHORIZED, "unauthorized", other.to_string()),
        }
    }
}

impl From<AttachmentError> for ApiError {
    fn from(e: AttachmentError) -> Self {
        use StatusCode as S;
        let message = e.to_string();
        let with = |status, code| Self::new(status, code, message.clone());
        match &e {
            AttachmentError::Forbidden(_) => with(S::FORBIDDEN, "forbidden"),
            AttachmentError::NotFound => Self::not_found(),
            AttachmentError::Invalid(v) => match v {
                ValidationError::TooLarge { .. } => {
                    Self::blame("fileTooLarge", "file", message.clone())
                }
                ValidationError::DisallowedType(_) => {
                    Self::blame("invalidFileType", "file", message.clone())
                }
                ValidationError::MagicMismatch { .. } => {
                    Self::blame("contentTypeMismatch", "file", message.clone())
                }
                ValidationError::EmptyFile
                | ValidationError::MalformedChecksum
                | ValidationError::SizeMismatch { .. } => with(S::BAD_REQUEST, "invalidRequest"),
            },
            AttachmentError::Interrupted(_) => with(S::BAD_REQUEST, "uploadInterrupted"),
            // The flows behind these are other dialects'; no endpoint here reaches them.
            AttachmentError::State(_)
            | AttachmentError::NotUploaded
            | AttachmentError::UploadExpired
            | AttachmentError::NotPending(_) => with(S::CONFLICT, "conflict"),
            AttachmentError::ChecksumMismatch { .. }
            | AttachmentError::ETagMismatch { .. }
            | AttachmentError::VerificationFailed(_)
            | AttachmentError::NotLinkable { .. }
            | AttachmentError::InvalidMessage(_) => with(S::BAD_REQUEST, "invalidRequest"),
            AttachmentError::QuotaExceeded(_) => with(S::FORBIDDEN, "quotaExceeded"),
            AttachmentError::Infected { .. } => Self {
                parameter: Some("file".to_owned()),
                ..with(S::UNPROCESSABLE_ENTITY, "infectedFile")
            },
            AttachmentError::ScanFailed(_) => {
                tracing::error!(error = %e, "cases upload not scanned");
                Self::new(
                    S::SERVICE_UNAVAILABLE,
                    "scannerUnavailable",
                    "the file could not be scanned for viruses; try again later",
                )
            }
            AttachmentError::Signature(_)
            | AttachmentError::Storage(_)
            | AttachmentError::Repository(_) => Self::internal(&e),
        }
    }
}

impl From<ListingError> for ApiError {
    fn from(e: ListingError) -> Self {
        let parameter = match &e {
            ListingError::Limit(_) => "limit",
            ListingError::Cursor {
                bound: Bound::After,
                ..
            } => "after",
            ListingError::Cursor {
                bound: Bound::Before,
                ..
            } => "before",
        };
        Self::parameter(parameter, format!("{parameter}: {e}"))
    }
}

type Reply = Result<HttpResponse, ApiError>;

fn finish(r: Reply) -> HttpResponse {
    r.unwrap_or_else(|e| e.response())
}

async fn principal(req: &HttpRequest, services: &Services) -> Result<Principal, ApiError> {
    Ok(bearer::authenticate(req, &services.identities).await?)
}

fn lookup(req: &HttpRequest) -> Result<Lookup, ApiError> {
    req.match_info()
        .get("id")
        .and_then(|s| s.parse::<AttachmentId>().ok())
        .map(Lookup::id)
        .ok_or_else(ApiError::not_found)
}

#[utoipa::path(
    get,
    path = "/api-public/1.0/attachment/{id}",
    tag = "cases",
    params(("id" = Uuid, Path, description = "The attachment")),
    responses(
        (status = 200, description = "The attachment's metadata", body = AttachmentJson),
        crate::openapi::NotFound<ErrorJson>,
        crate::openapi::BearerRefusals<ErrorJson>,
    ),
    security(("bearer" = []))
)]
/// One attachment's metadata.
async fn get(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    finish(
        async {
            let p = principal(&req, &services).await?;
            let a = services.attachments.get(&p, &lookup(&req)?).await?;
            Ok(HttpResponse::Ok().json(AttachmentJson::from(&a)))
        }
        .await,
    )
}

#[utoipa::path(
    get,
    path = "/api-public/1.0/attachment/{id}/attachment",
    tag = "cases",
    params(("id" = Uuid, Path, description = "The attachment")),
    responses(
        crate::download::Responses,
        crate::openapi::NotFound<ErrorJson>,
        crate::openapi::BearerRefusals<ErrorJson>,
    ),
    security(("bearer" = []))
)]
/// The raw bytes of an attachment.
async fn download(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    finish(
        async {
            let p = principal(&req, &services).await?;
            let opened = services.attachments.open(&p, &lookup(&req)?).await?;
            Ok(download::respond(&req, opened).await?)
        }
        .await,
    )
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
        _ => return None,
    })
}

/// A listing as the query string asks for it, and the keys to answer.
struct Listing {
    sort: SortField,
    order: SortOrder,
    limit: Option<String>,
    after: Option<String>,
    before: Option<String>,
    fields: Option<Vec<String>>,
    filters: Vec<Filter>,
}

/// Reads the listing parameters; any unknown, repeated or malformed one is
/// refused, naming it.
fn listing(query: &str) -> Result<Listing, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
        .map_err(|e| ApiError::parameter("query", format!("unreadable query string: {e}")))?
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
            let value = if field == FilterField::CaseId {
                Uuid::parse_str(value)
                    .map_err(|_| ApiError::parameter(name, "caseId must be a UUID"))?
                    .to_string()
            } else {
                value.clone()
            };
            listing.filters.push(Filter { field, value });
            continue;
        }
        if seen.contains(&name.as_str()) {
            return Err(ApiError::parameter(name, format!("{name} is given twice")));
        }
        match name.as_str() {
            "limit" => listing.limit = Some(value.clone()),
            "after" => listing.after = Some(value.clone()),
            "before" => listing.before = Some(value.clone()),
            "sort" => {
                listing.sort = match value.as_str() {
                    "createdDate" => SortField::CreatedAt,
                    "name" => SortField::Filename,
                    "sizeBytes" => SortField::Size,
                    other => {
                        return Err(ApiError::parameter(
                            "sort",
                            format!("cannot sort by {other:?}: use createdDate, name or sizeBytes"),
                        ));
                    }
                }
            }
            "order" => {
                listing.order = match value.to_ascii_lowercase().as_str() {
                    "asc" => SortOrder::Asc,
                    "desc" => SortOrder::Desc,
                    _ => {
                        return Err(ApiError::parameter(
                            "order",
                            format!("order must be asc or desc, not {value:?}"),
                        ));
                    }
                }
            }
            "fields" => {
                let keys: Vec<String> = value.split(',').map(|k| k.trim().to_owned()).collect();
                if let Some(bad) = keys.iter().find(|k| !FIELDS.contains(&k.as_str())) {
                    return Err(ApiError::parameter(
                        "fields",
                        format!("{bad:?} is not a field of an attachment"),
                    ));
                }
                listing.fields = Some(keys);
            }
            other => {
                return Err(ApiError::parameter(
                    other,
                    format!("unknown query parameter {other:?}"),
                ));
            }
        }
        seen.push(name);
    }
    Ok(listing)
}

#[utoipa::path(
    get,
    path = "/api-public/1.0/attachments",
    tag = "cases",
    params(("limit" = Option<u32>, Query, description = "At most this many records"), ("sort" = Option<String>, Query, description = "`createdDate` (default), `name` or `sizeBytes`"), ("order" = Option<String>, Query, description = "`asc` (default) or `desc`"), ("after" = Option<String>, Query, description = "Only records whose `sort` value comes after this one"), ("before" = Option<String>, Query, description = "Only records whose `sort` value comes before this one"), ("fields" = Option<String>, Query, description = "Comma-separated keys of the attachment object to return"), ("caseId" = Option<Uuid>, Query, description = "Filter: the case"), ("mimeType" = Option<String>, Query, description = "Filter: the MIME type"), ("kind" = Option<String>, Query, description = "Filter: the MIME type's top level, e.g. `image`"), ("fileFormat" = Option<String>, Query, description = "Filter: the file name's extension"), ("name" = Option<String>, Query, description = "Filter: the file name"), ("tag" = Option<String>, Query, description = "Filter: a tag")),
    responses(
        (status = 200, description = "A page of records", body = ListJson),
        (status = 400, description = "An unknown, repeated or malformed parameter (`invalidParameter`, named by `parameter`)", body = ErrorJson),
        crate::openapi::BearerRefusals<ErrorJson>,
    ),
    security(("bearer" = []))
)]
/// Lists the tenant's attachments, sorted, paged by keyset and filtered.
async fn list(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    finish(
        async {
            let p = principal(&req, &services).await?;
            let asked = listing(req.query_string())?;
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
        .await,
    )
}

/// Why the form's body stream ended early.
#[derive(Debug, thiserror::Error)]
enum FormError {
    /// The multipart body itself is broken.
    #[error(transparent)]
    Multipart(#[from] MultipartError),
    /// A field follows `file`.
    #[error("the field {0:?} follows file, which must be the last field")]
    NotLast(String),
}

fn bad_form(e: MultipartError) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalidRequest", e.to_string())
}

/// A text form field's value, bounded and UTF-8.
async fn read_text(mut field: Part, name: &str) -> Result<String, ApiError> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(bad_form)?;
        if buf.len() + chunk.len() > MAX_TEXT_FIELD {
            return Err(ApiError::blame(
                "invalidField",
                name,
                format!("{name} may hold at most {MAX_TEXT_FIELD} bytes"),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8(buf.to_vec())
        .map_err(|_| ApiError::blame("invalidField", name, format!("{name} is not UTF-8 text")))
}

fn missing(name: &str) -> ApiError {
    ApiError::blame(
        "missingField",
        name,
        format!("the form field {name} is required (before file, which comes last)"),
    )
}

fn once(slot: &mut Option<String>, name: &str, value: String) -> Result<(), ApiError> {
    if slot.replace(value).is_some() {
        return Err(ApiError::blame(
            "invalidField",
            name,
            format!("{name} is given twice"),
        ));
    }
    Ok(())
}

#[utoipa::path(
    post,
    path = "/api-public/1.0/save_file",
    tag = "cases",
    request_body(content = SaveFileForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Stored", body = AttachmentJson),
        (status = 400, description = "Bad form, missing or bad `caseId`, `file` not last, too large, type not allowed", body = ErrorJson),
        (status = 422, description = "The virus scanner found malware (`infectedFile`); nothing is served", body = ErrorJson),
        (status = 503, description = "Too many uploads at once (see `Retry-After`), or the virus scanner gave no verdict", body = ErrorJson),
        crate::openapi::BearerRefusals<ErrorJson>,
    ),
    security(("bearer" = []))
)]
/// Uploads a file to a case; `file` must be the form's last part.
async fn save_file(
    req: HttpRequest,
    services: web::Data<Services>,
    mut form: Form,
) -> HttpResponse {
    finish(
        async {
            let p = principal(&req, &services).await?;
            // Before a byte of the body is read.
            services.attachments.authorize(&p, Scope::Write)?;
            body::refuse_oversized(&req, services.attachments.policy().max_bytes)
                .map_err(|e| ApiError::from(AttachmentError::Invalid(e)))?;

            let (mut case_id, mut description, mut locale) = (None, None, None);
            let mut tags = Vec::new();
            let file = loop {
                let field = form
                    .next()
                    .await
                    .ok_or_else(|| missing("file"))?
                    .map_err(bad_form)?;
                let name = field.name().unwrap_or_default().to_owned();
                match name.as_str() {
                    "file" => break field,
                    "caseId" => once(&mut case_id, &name, read_text(field, &name).await?)?,
                    "description" => once(&mut description, &name, read_text(field, &name).await?)?,
                    "templateLocale" => once(&mut locale, &name, read_text(field, &name).await?)?,
                    "bulkTags[]" => tags.push(read_text(field, &name).await?),
                    // Fields the seed does not define are read (bounded) and ignored.
                    _ => drop(read_text(field, &name).await?),
                }
            };
            let case_id = case_id.ok_or_else(|| missing("caseId"))?;
            let case_id = Uuid::parse_str(case_id.trim())
                .map_err(|_| ApiError::blame("invalidField", "caseId", "caseId must be a UUID"))?;
            let upload = NewUpload {
                subject: Subject {
                    case_id: Some(case_id.to_string()),
                    ..Subject::default()
                },
                filename: file
                    .content_disposition()
                    .and_then(|d| d.get_filename())
                    .unwrap_or_default()
                    .to_owned(),
                content_type: file.content_type().map(|m| m.to_string()),
                description: description.filter(|d| !d.is_empty()),
                tags: tags.into_iter().filter(|t| !t.is_empty()).collect(),
                locale: Some(
                    locale
                        .filter(|l| !l.trim().is_empty())
                        .unwrap_or_else(|| DEFAULT_LOCALE.to_owned()),
                ),
                declared_sha256: None,
                size_hint: body::content_length(&req),
            };

            // The file's bytes, then a check that nothing follows them: a field
            // after the file ends the body with an error, so the upload is
            // refused before it becomes visible.
            let not_last = Rc::new(RefCell::new(None));
            let noticed = Rc::clone(&not_last);
            let rest = futures::stream::once(async move {
                match form.next().await {
                    None => None,
                    Some(Ok(next)) => {
                        let name = next.name().unwrap_or_default().to_owned();
                        noticed.replace(Some(name.clone()));
                        Some(Err(FormError::NotLast(name)))
                    }
                    Some(Err(e)) => Some(Err(FormError::Multipart(e))),
                }
            })
            .filter_map(futures::future::ready);
            let source = Box::pin(file.map(|r| r.map_err(FormError::from)).chain(rest));
            let attachments = &services.attachments;
            let created =
                body::bridge(source, |stream| attachments.upload(&p, upload, stream)).await;
            if let Some(name) = not_last.take() {
                return Err(ApiError::blame(
                    "fileNotLast",
                    "file",
                    format!("file must be the last field of the form, but {name:?} follows it"),
                ));
            }
            Ok(HttpResponse::Ok().json(AttachmentJson::from(&created?)))
        }
        .await,
    )
}
