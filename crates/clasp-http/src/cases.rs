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

use actix_multipart::{Field, Multipart, MultipartError};
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
use serde_json::{Map, Value, json};
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

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

/// The seed's attachment object, with every field.
fn record(a: &Attachment) -> Map<String, Value> {
    let value = json!({
        "id": a.id.0,
        "name": a.filename,
        "nameWithoutExtension": a.name_without_extension(),
        "encoding": ENCODING,
        "mimeType": a.content_type,
        "objectId": a.blob_key(),
        "sizeBytes": a.size_bytes,
        "kind": a.kind(),
        "fileFormat": a.file_format(),
        "caseId": a.subject.case_id,
        "description": a.description,
        "tags": a.tags,
        "locale": a.locale,
        "sha256": a.sha256,
        "createdDate": rfc3339(a.created_at),
        "updatedDate": rfc3339(a.updated_at),
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
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
        let mut body = json!({
            "status": self.status.as_u16(),
            "code": self.code,
            "message": self.message,
        });
        if let (Some(p), Value::Object(map)) = (&self.parameter, &mut body) {
            map.insert("parameter".into(), Value::String(p.clone()));
        }
        res.json(body)
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

async fn get(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    finish(
        async {
            let p = principal(&req, &services).await?;
            let a = services.attachments.get(&p, &lookup(&req)?).await?;
            Ok(HttpResponse::Ok().json(record(&a)))
        }
        .await,
    )
}

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
                    let mut r = record(a);
                    if let Some(keys) = &asked.fields {
                        r.retain(|k, _| keys.contains(k));
                    }
                    r
                })
                .collect();
            Ok(HttpResponse::Ok().json(json!({ "count": records.len(), "records": records })))
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
async fn read_text(mut field: Field, name: &str) -> Result<String, ApiError> {
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

async fn save_file(
    req: HttpRequest,
    services: web::Data<Services>,
    mut form: Multipart,
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
            Ok(HttpResponse::Ok().json(record(&created?)))
        }
        .await,
    )
}
