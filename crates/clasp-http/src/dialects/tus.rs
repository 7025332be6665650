//! The `tus` dialect: resumable uploads by the tus protocol 1.0.0 at
//! `/tus/`, with its `creation`, `creation-with-upload`, `termination`,
//! `expiration` and `checksum` (SHA-1, SHA-256) extensions
//! (`docs/dialects/tus.md`). A client authenticates as the dialects do (a
//! Bearer API key, or the chat session cookie), names where the file lands in
//! `Upload-Metadata`, and sends it in as many `PATCH`es as it likes, on any
//! instance, across restarts. Every answer carries `Tus-Resumable: 1.0.0`;
//! refusals are `{"error", "message"}` with the statuses tus clients know
//! (409 offset, 460 checksum, 410 expired, 413 length).

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use actix_web::web::{self, Data};
use actix_web::{FromRequest, HttpRequest, HttpResponse, HttpResponseBuilder};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clasp_domain::services::{NewUpload, PartChecksum, Resumable};
use clasp_domain::{AttachmentId, ErrorKind, Principal, Subject};
use futures::future::LocalBoxFuture;
use serde::Serialize;
use utoipa::ToSchema;

use crate::dialects::Dialect;
use crate::extract::{Bearer, PathParam, Session};
use crate::problem::{Problem, ProblemKind};
use crate::routes::{Group, handlers};
use crate::wire::{ApiError, Reply, Wire, WireDialect, standard};
use crate::{Services, body, credentials};

/// The protocol version spoken.
const VERSION: &str = "1.0.0";
/// The extensions supported.
const EXTENSIONS: &str = "creation,creation-with-upload,termination,expiration,checksum";
/// The checksum algorithms a `PATCH` may name.
const CHECKSUMS: &str = "sha1,sha256";
/// The body type of a `PATCH` (and of a `POST` with its first bytes).
const OFFSET_STREAM: &str = "application/offset+octet-stream";
/// The most `Upload-Metadata` pairs read.
const MAX_METADATA_PAIRS: usize = 32;
/// The longest metadata value read (decoded).
const MAX_METADATA_VALUE: usize = 4096;

/// The `tus` dialect.
pub struct Tus;

impl WireDialect for Tus {
    const DIALECT: Dialect = Dialect::Tus;
    type Caller = Caller;

    fn wire(problem: &Problem) -> Wire {
        use ErrorKind as E;
        use StatusCode as S;
        let ProblemKind::Domain(kind) = problem.kind else {
            return standard(problem);
        };
        match kind {
            E::OffsetMismatch => Wire::new(S::CONFLICT, "offset_mismatch"),
            // what tusd answers for an upload it is still working on; tus
            // clients retry it
            E::Finishing => Wire::new(S::LOCKED, "upload_locked"),
            E::ChecksumMismatch => Wire::new(checksum_mismatch(), "checksum_mismatch"),
            E::UploadExpired => Wire::new(S::GONE, "upload_expired"),
            E::NotPending => Wire::new(S::CONFLICT, "upload_finished"),
            E::TooLarge => Wire::new(S::PAYLOAD_TOO_LARGE, "file_too_large"),
            E::DisallowedType | E::MagicMismatch => {
                Wire::new(S::UNSUPPORTED_MEDIA_TYPE, "content_type_mismatch")
            }
            _ => standard(problem),
        }
    }

    fn body<'a>(_: &'a Problem, wire: &'a Wire, message: &'a str) -> impl Serialize + 'a {
        ErrorJson {
            error: &wire.code,
            message,
        }
    }

    fn headers() -> &'static [(&'static str, &'static str)] {
        &[("tus-resumable", VERSION)]
    }
}

/// tus's status for a checksum that does not match (not one of HTTP's own).
fn checksum_mismatch() -> StatusCode {
    StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST)
}

/// A refusal of the `tus` dialect.
#[derive(Serialize, ToSchema)]
#[schema(as = tus::Error)]
pub(crate) struct ErrorJson<'a> {
    /// A stable code: `offset_mismatch`, `checksum_mismatch`, `upload_expired`, …
    error: &'a str,
    message: &'a str,
}

/// Who is uploading: a Bearer API key, or else the chat session cookie.
pub struct Caller(Principal);

impl FromRequest for Caller {
    type Error = ApiError<Tus>;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if credentials::bearer(req.headers()).is_some() {
            let keyed = Bearer::<Tus>::from_request(req, payload);
            Box::pin(async move { Ok(Caller(keyed.await?.0)) })
        } else {
            let session = Session::<Tus>::from_request(req, payload);
            Box::pin(async move { Ok(Caller(session.await?.0)) })
        }
    }
}

/// A request that says it speaks tus 1.0.0 (`Tus-Resumable`), as every
/// request but `OPTIONS` must; others are refused with 412.
pub struct Speaks;

impl FromRequest for Speaks {
    type Error = ApiError<Tus>;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let spoken = req
            .headers()
            .get("tus-resumable")
            .and_then(|v| v.to_str().ok());
        ready(if spoken == Some(VERSION) {
            Ok(Speaks)
        } else {
            Err(Problem::new(
                ProblemKind::UnsupportedVersion,
                "Tus-Resumable must be 1.0.0, the version this server speaks",
            )
            .into())
        })
    }
}

/// The dialect's routes.
pub(crate) fn routes() -> Group {
    Group::new(
        Dialect::Tus,
        handlers![options, create, head, patch, terminate],
    )
}

/// The upload a path names.
type Upload = PathParam<AttachmentId, crate::extract::Id, Tus>;

/// What every successful answer says besides its own headers.
fn answer(status: StatusCode) -> HttpResponseBuilder {
    let mut res = HttpResponse::build(status);
    res.insert_header(("tus-resumable", VERSION))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    res
}

/// Where an upload stands, in tus's headers.
fn standing(res: &mut HttpResponseBuilder, upload: &Resumable) {
    res.insert_header(("upload-offset", upload.offset))
        .insert_header(("upload-length", upload.length));
    if upload.is_finished() {
        res.insert_header(("clasp-attachment-id", upload.attachment.id.to_string()));
    } else if let Some(expires) = upload.attachment.upload_expires_at {
        let http_date = header::HttpDate::from(std::time::SystemTime::from(expires));
        res.insert_header(("upload-expires", http_date.to_string()));
    }
}

#[utoipa::path(options, path = "/tus/", security(()), responses(
    (status = 204, description = "What this server supports: `Tus-Version`, `Tus-Extension`, `Tus-Max-Size`, `Tus-Checksum-Algorithm`"),
))]
/// The server's tus capabilities.
async fn options(services: Data<Services>) -> HttpResponse {
    answer(StatusCode::NO_CONTENT)
        .insert_header(("tus-version", VERSION))
        .insert_header(("tus-extension", EXTENSIONS))
        .insert_header(("tus-checksum-algorithm", CHECKSUMS))
        .insert_header(("tus-max-size", services.attachments.policy().max_bytes))
        .finish()
}

#[utoipa::path(post, path = "/tus/", security(("bearer" = []), ("session" = [])), params(
    ("Tus-Resumable" = String, Header, description = "`1.0.0`"),
    ("Upload-Length" = u64, Header, description = "The file's length in bytes"),
    ("Upload-Metadata" = String, Header, description = "`key base64value` pairs, comma-separated: `filename`, `filetype`, and one subject: `ticketId`, `caseId` (with `description`, `tags`), or `messageId` (with `roomId`)"),
), responses(
    (status = 201, description = "Created; `Location` is the upload's URL. With a body (`creation-with-upload`), `Upload-Offset` says how much of it was stored", headers(("Location" = String, description = "The upload's URL, `/tus/{id}`"))),
    (status = 400, description = "No `Upload-Length`, or metadata without one subject", body = ErrorJson),
    (status = 401, description = "No, unknown or revoked credential", body = ErrorJson),
    (status = 412, description = "Not `Tus-Resumable: 1.0.0`", body = ErrorJson),
    (status = 413, description = "`Upload-Length` over the tenant's largest file", body = ErrorJson),
    (status = 415, description = "A type the tenant does not accept, or a first part that is not of its type", body = ErrorJson),
))]
/// Creates an upload (and takes its first bytes, if the request has a body).
async fn create(
    caller: Caller,
    _: Speaks,
    req: HttpRequest,
    payload: web::Payload,
    services: Data<Services>,
) -> Reply<Tus> {
    let headers = req.headers();
    if headers.contains_key("upload-defer-length") {
        return Err(bad("Upload-Defer-Length is not supported: send Upload-Length").into());
    }
    let length =
        number(headers, "upload-length")?.ok_or_else(|| bad("Upload-Length is required"))?;
    let upload = described(headers)?;
    let attachments = &services.attachments;
    let mut begun = attachments
        .begin_resumable(&caller.0, upload, length)
        .await?;
    let id = begun.attachment.id;
    if offset_stream(headers) && body::content_length(&req).is_none_or(|l| l > 0) {
        let checksum = checksum(headers)?;
        begun = body::bridge(payload, |stream| {
            attachments.append(&caller.0, id, 0, stream, checksum)
        })
        .await?;
    }
    let mut res = answer(StatusCode::CREATED);
    res.insert_header((header::LOCATION, format!("/tus/{id}")));
    standing(&mut res, &begun);
    Ok(res.finish())
}

#[utoipa::path(head, path = "/tus/{id}", security(("bearer" = []), ("session" = [])), params(Upload, ("Tus-Resumable" = String, Header, description = "`1.0.0`")), responses(
    (status = 200, description = "`Upload-Offset` and `Upload-Length`; `Upload-Expires` while unfinished, `Clasp-Attachment-Id` once finished"),
    (status = 401, description = "No, unknown or revoked credential"),
    (status = 404, description = "No such upload in the caller's tenant (or it was refused)"),
    (status = 410, description = "Past its deadline: it will be swept"),
    (status = 423, description = "Every byte arrived and the upload is being finished (or its finishing was cut off, and it will be swept at its deadline): ask again"),
    (status = 412, description = "Not `Tus-Resumable: 1.0.0`"),
))]
/// Where an upload stands.
async fn head(caller: Caller, _: Speaks, id: Upload, services: Data<Services>) -> Reply<Tus> {
    let upload = services.attachments.resumable(&caller.0, id.0).await?;
    let mut res = answer(StatusCode::OK);
    standing(&mut res, &upload);
    Ok(res.finish())
}

#[utoipa::path(patch, path = "/tus/{id}", security(("bearer" = []), ("session" = [])), params(
    Upload,
    ("Tus-Resumable" = String, Header, description = "`1.0.0`"),
    ("Upload-Offset" = u64, Header, description = "Where these bytes start: where the upload is"),
    ("Upload-Checksum" = Option<String>, Header, description = "`sha1 <base64>` or `sha256 <base64>` of these bytes"),
), request_body(content = crate::download::Body, content_type = "application/offset+octet-stream", description = "The bytes from `Upload-Offset` on"), responses(
    (status = 204, description = "Stored: `Upload-Offset` is where the upload now is; with the last byte the file was checked and `Clasp-Attachment-Id` names the attachment"),
    (status = 400, description = "No `Upload-Offset`, an unknown checksum algorithm, or the upload's 1,001st `PATCH` carrying bytes (`invalid_request`)", body = ErrorJson),
    (status = 404, description = "No such upload in the caller's tenant", body = ErrorJson),
    (status = 409, description = "The upload is not at `Upload-Offset`", body = ErrorJson),
    (status = 423, description = "The upload is being finished (`upload_locked`): ask `HEAD` again", body = ErrorJson),
    (status = 410, description = "Past its deadline", body = ErrorJson),
    (status = 412, description = "Not `Tus-Resumable: 1.0.0`", body = ErrorJson),
    (status = 413, description = "More bytes than `Upload-Length` leaves", body = ErrorJson),
    (status = 415, description = "Not `application/offset+octet-stream`, or a file that is not its type", body = ErrorJson),
    (status = 460, description = "The bytes do not match `Upload-Checksum`; nothing of them was kept", body = ErrorJson),
    (status = 500, description = "The blob or metadata store failed (`internal_error`); a last part is taken back: `HEAD`, then send it again", body = ErrorJson),
    (status = 503, description = "The virus scanner gave no verdict on the finished file (`scanner_unavailable`); the last part is taken back: `HEAD`, then send it again", body = ErrorJson),
))]
/// Stores bytes of an upload from its current offset.
async fn patch(
    caller: Caller,
    _: Speaks,
    id: Upload,
    req: HttpRequest,
    payload: web::Payload,
    services: Data<Services>,
) -> Reply<Tus> {
    let headers = req.headers();
    if !offset_stream(headers) {
        return Err(Problem::new(
            ProblemKind::UnsupportedBody,
            format!("a PATCH's body is {OFFSET_STREAM}"),
        )
        .into());
    }
    let offset =
        number(headers, "upload-offset")?.ok_or_else(|| bad("Upload-Offset is required"))?;
    let checksum = checksum(headers)?;
    let attachments = &services.attachments;
    let upload = if body::content_length(&req) == Some(0) {
        attachments.append_nothing(&caller.0, id.0, offset).await?
    } else {
        body::bridge(payload, |stream| {
            attachments.append(&caller.0, id.0, offset, stream, checksum)
        })
        .await?
    };
    let mut res = answer(StatusCode::NO_CONTENT);
    standing(&mut res, &upload);
    Ok(res.finish())
}

#[utoipa::path(delete, path = "/tus/{id}", security(("bearer" = []), ("session" = [])), params(Upload, ("Tus-Resumable" = String, Header, description = "`1.0.0`")), responses(
    (status = 204, description = "The unfinished upload and every byte of it are gone"),
    (status = 404, description = "No such upload in the caller's tenant", body = ErrorJson),
    (status = 409, description = "The upload is finished: delete the attachment through its dialect", body = ErrorJson),
    (status = 423, description = "The upload is being finished (`upload_locked`)", body = ErrorJson),
    (status = 410, description = "Past its deadline", body = ErrorJson),
    (status = 412, description = "Not `Tus-Resumable: 1.0.0`", body = ErrorJson),
))]
/// Ends an unfinished upload (the `termination` extension).
async fn terminate(caller: Caller, _: Speaks, id: Upload, services: Data<Services>) -> Reply<Tus> {
    services.attachments.terminate(&caller.0, id.0).await?;
    Ok(answer(StatusCode::NO_CONTENT).finish())
}

fn bad(message: impl Into<String>) -> Problem {
    Problem::new(ProblemKind::BadRequest, message)
}

fn offset_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim() == OFFSET_STREAM)
        })
}

/// The non-negative integer header `name`, if present.
fn number(headers: &HeaderMap, name: &str) -> Result<Option<u64>, Problem> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| bad(format!("{name} must be a non-negative integer")))
        })
        .transpose()
}

/// The part checksum `Upload-Checksum` names, if any.
fn checksum(headers: &HeaderMap) -> Result<Option<PartChecksum>, Problem> {
    let Some(value) = headers.get("upload-checksum") else {
        return Ok(None);
    };
    let malformed = || bad("Upload-Checksum is `<algorithm> <base64 digest>`");
    let (algorithm, digest) = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().split_once(' '))
        .ok_or_else(malformed)?;
    let digest = STANDARD.decode(digest.trim()).map_err(|_| malformed())?;
    match (algorithm, digest.len()) {
        ("sha1", 20) => Ok(Some(PartChecksum::Sha1(digest))),
        ("sha256", 32) => Ok(Some(PartChecksum::Sha256(digest))),
        ("sha1" | "sha256", _) => Err(malformed()),
        _ => Err(bad(format!(
            "Upload-Checksum algorithm {algorithm:?} is not supported (Tus-Checksum-Algorithm: {CHECKSUMS})"
        ))),
    }
}

/// The upload `Upload-Metadata` describes: its name and type, and the one
/// subject it lands on.
fn described(headers: &HeaderMap) -> Result<NewUpload, Problem> {
    let metadata = metadata(headers)?;
    let get = |key: &str| {
        metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let subject = match (get("ticketId"), get("caseId"), get("messageId")) {
        (Some(ticket), None, None) => Subject::ticket(ticket),
        (None, Some(case), None) => Subject {
            case_id: Some(case),
            ..Subject::default()
        },
        (None, None, Some(message)) => Subject {
            message_id: Some(message),
            room_id: get("roomId"),
            ..Subject::default()
        },
        _ => {
            return Err(bad(
                "Upload-Metadata names exactly one of ticketId, caseId and messageId",
            ));
        }
    };
    if subject.room_id.is_none() && get("roomId").is_some() {
        return Err(bad("roomId goes with messageId"));
    }
    let filename = get("filename")
        .or_else(|| get("name"))
        .ok_or_else(|| bad("Upload-Metadata names the file: filename"))?;
    let tags = get("tags")
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok(NewUpload {
        subject,
        filename,
        content_type: get("filetype").or_else(|| get("type")),
        description: get("description"),
        tags,
        ..NewUpload::default()
    })
}

/// The pairs of `Upload-Metadata`: `key base64`, comma-separated; a key
/// alone has an empty value.
fn metadata(headers: &HeaderMap) -> Result<Vec<(String, String)>, Problem> {
    let Some(raw) = headers.get("upload-metadata") else {
        return Ok(Vec::new());
    };
    let raw = raw.to_str().map_err(|_| bad("Upload-Metadata is ASCII"))?;
    let mut pairs = Vec::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if pairs.len() == MAX_METADATA_PAIRS {
            return Err(bad(format!(
                "at most {MAX_METADATA_PAIRS} Upload-Metadata pairs"
            )));
        }
        let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
        let value = STANDARD
            .decode(value.trim())
            .ok()
            .and_then(|v| String::from_utf8(v).ok())
            .filter(|v| v.len() <= MAX_METADATA_VALUE)
            .ok_or_else(|| {
                bad(format!(
                    "Upload-Metadata {key}: not base64 of UTF-8 text of at most {MAX_METADATA_VALUE} bytes"
                ))
            })?;
        pairs.push((key.to_owned(), value));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    #[test]
    fn metadata_names_one_subject() {
        let meta = format!(
            "filename {},filetype {},caseId {},tags {}",
            b64("a.pdf"),
            b64("application/pdf"),
            b64("C-1"),
            b64("x, y")
        );
        let upload = described(&headers(&[("upload-metadata", &meta)])).unwrap();
        assert_eq!(upload.subject.case_id.as_deref(), Some("C-1"));
        assert_eq!(upload.filename, "a.pdf");
        assert_eq!(upload.content_type.as_deref(), Some("application/pdf"));
        assert_eq!(upload.tags, ["x", "y"]);
        let two = format!(
            "filename {},ticketId {},caseId {}",
            b64("a"),
            b64("T"),
            b64("C")
        );
        assert!(described(&headers(&[("upload-metadata", &two)])).is_err());
        let none = format!("filename {}", b64("a"));
        assert!(described(&headers(&[("upload-metadata", &none)])).is_err());
        let bad_b64 = "filename !!!,ticketId VA==";
        assert!(described(&headers(&[("upload-metadata", bad_b64)])).is_err());
    }

    #[test]
    fn checksums_name_their_algorithm() {
        let sha1 = STANDARD.encode([0u8; 20]);
        assert_eq!(
            checksum(&headers(&[("upload-checksum", &format!("sha1 {sha1}"))])).unwrap(),
            Some(PartChecksum::Sha1(vec![0; 20]))
        );
        assert!(checksum(&headers(&[("upload-checksum", &format!("md5 {sha1}"))])).is_err());
        assert!(checksum(&headers(&[("upload-checksum", &format!("sha256 {sha1}"))])).is_err());
        assert_eq!(checksum(&HeaderMap::new()).unwrap(), None);
    }

    #[test]
    fn numbers_are_plain_digits() {
        assert_eq!(
            number(&headers(&[("upload-offset", "42")]), "upload-offset").unwrap(),
            Some(42)
        );
        for bad in ["-1", "+1", "1e3", "", " 1"] {
            assert!(
                number(&headers(&[("upload-offset", bad)]), "upload-offset").is_err(),
                "{bad:?}"
            );
        }
    }
}
