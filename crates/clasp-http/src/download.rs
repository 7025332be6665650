//! Download responses: safe to open in a browser, and conformant — byte ranges,
//! entity tags, conditional requests and `HEAD` — so browsers can seek in videos
//! and caches can revalidate.

use std::convert::Infallible;
use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpRequest, HttpResponse, HttpResponseBuilder};
use bytes::Bytes;
use clasp_domain::safety::content_disposition;
use clasp_domain::services::Download;
use clasp_domain::validation::THUMBNAIL_TYPES;
use clasp_domain::{Attachment, AttachmentError};

use crate::taking_turns::taking_turns;

/// The answers of [`respond`], as the OpenAPI document describes every download.
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "only describes `respond` in the OpenAPI document")]
pub(crate) enum Responses {
    /// The bytes, typed with the attachment's MIME type, with `Content-Length`,
    /// `Content-Disposition`, `ETag` and `Accept-Ranges: bytes`.
    #[response(status = 200, content_type = "*/*")]
    Whole(#[to_schema] Body),
    /// The `Range` asked for, with `Content-Range`.
    #[response(status = 206, content_type = "*/*")]
    Part(#[to_schema] Body),
    /// Not modified: `If-None-Match` names the current entity tag.
    #[response(status = 304)]
    NotModified,
    /// The `Range` is not satisfiable; `Content-Range: bytes */<size>`.
    #[response(status = 416)]
    Unsatisfiable,
}

/// Raw bytes of any type.
#[derive(utoipa::ToSchema)]
#[schema(as = Bytes, value_type = String, format = Binary)]
#[expect(
    dead_code,
    reason = "only describes download bodies in the OpenAPI document"
)]
pub(crate) struct Body(Vec<u8>);

/// Whether a browser may show a file of `content_type` in place: the images
/// Clasp makes thumbnails of, videos (a player seeks in them), and PDF;
/// everything else is offered as a download.
fn renders_inline(content_type: &str) -> bool {
    THUMBNAIL_TYPES.contains(&content_type)
        || matches!(
            content_type,
            "video/mp4" | "video/webm" | "video/ogg" | "video/quicktime" | "application/pdf"
        )
}

/// Headers every answer about the attachment's bytes carries: its stored type,
/// a safe disposition, `nosniff`, no shared caching, a sandbox for what must not
/// render, byte ranges on offer, and a strong `ETag` from its SHA-256.
fn describe(a: &Attachment, res: &mut HttpResponseBuilder) {
    let inline = renders_inline(&a.content_type);
    res.insert_header((header::CONTENT_TYPE, a.content_type.as_str()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            content_disposition(&a.filename, inline),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "private, max-age=0"))
        .insert_header((header::ACCEPT_RANGES, "bytes"));
    if !inline {
        res.insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox"),
        ));
    }
    if let Some(tag) = etag(a) {
        res.insert_header((header::ETAG, tag));
    }
}

/// The strong entity tag of an attachment: its SHA-256, which changes exactly
/// when its bytes do.
fn etag(a: &Attachment) -> Option<String> {
    a.sha256.as_ref().map(|sha| format!("\"{sha}\""))
}

/// What a request asks of the bytes, from its conditional and range headers
/// (RFC 9110 §13 and §14).
#[derive(Debug, PartialEq, Eq)]
enum Wanted {
    /// All of them (no range, or one Clasp does not serve: several ranges, a
    /// malformed header, a stale `If-Range`).
    Whole,
    /// One byte range, end exclusive.
    Part(Range<u64>),
    /// Nothing: the client's copy (`If-None-Match`) is current.
    NotModified,
    /// A range entirely past the end.
    Unsatisfiable,
}

fn wanted(req: &HttpRequest, size: u64, etag: Option<&str>) -> Wanted {
    let text = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let (Some(tags), Some(etag)) = (text(header::IF_NONE_MATCH), etag) {
        // weak comparison: a W/ prefix does not matter here
        let matches = tags
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || t == etag);
        if matches {
            return Wanted::NotModified;
        }
    }
    let Some(range) = text(header::RANGE) else {
        return Wanted::Whole;
    };
    // strong comparison; a date, or a tag of another version, means "send it all"
    if let Some(validator) = text(header::IF_RANGE)
        && Some(validator.trim()) != etag
    {
        return Wanted::Whole;
    }
    parse_range(range, size)
}

/// One `bytes=` range of a `size`-byte body; anything else is served whole.
fn parse_range(header: &str, size: u64) -> Wanted {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Wanted::Whole;
    };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Wanted::Whole;
    };
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    match (first, number(first), number(last)) {
        // the last `n` bytes
        ("", _, Some(n)) => {
            if n == 0 || size == 0 {
                Wanted::Unsatisfiable
            } else {
                Wanted::Part(size.saturating_sub(n)..size)
            }
        }
        (_, Some(start), end) if last.is_empty() || end.is_some() => {
            if end.is_some_and(|end| end < start) {
                Wanted::Whole
            } else if start >= size {
                Wanted::Unsatisfiable
            } else {
                let end = end.map_or(size, |end| end.saturating_add(1).min(size));
                Wanted::Part(start..end)
            }
        }
        _ => Wanted::Whole,
    }
}

/// Answers a request for the attachment's bytes: 200 with all of them, 206 with
/// the one range asked for (read as a ranged read of the store), 304 when the
/// client's copy is current, 416 for a range past the end. Bodies stream with
/// their exact length, taking turns with the worker's other downloads; HTML is
/// never rendered (attachment disposition and a sandboxing CSP). `HEAD` gets
/// the same headers without the body.
pub async fn respond(
    req: &HttpRequest,
    download: Download,
) -> Result<HttpResponse, AttachmentError> {
    let a = &download.attachment;
    let size = download.body.size;
    let tag = etag(a);
    let mut res;
    match wanted(req, size, tag.as_deref()) {
        Wanted::NotModified => {
            res = HttpResponse::NotModified();
            res.insert_header((header::CACHE_CONTROL, "private, max-age=0"));
            if let Some(tag) = tag {
                res.insert_header((header::ETAG, tag));
            }
            Ok(res.finish())
        }
        Wanted::Unsatisfiable => {
            res = HttpResponse::RangeNotSatisfiable();
            res.insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                .insert_header((header::ACCEPT_RANGES, "bytes"));
            Ok(res.finish())
        }
        Wanted::Whole => {
            res = HttpResponse::Ok();
            describe(a, &mut res);
            Ok(res
                .no_chunking(size)
                .streaming(taking_turns(download.body.stream)))
        }
        Wanted::Part(range) => {
            res = HttpResponse::PartialContent();
            describe(a, &mut res);
            res.insert_header((
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{size}", range.start, range.end - 1),
            ));
            let part = download.range(range).await?;
            Ok(res
                .no_chunking(part.size)
                .streaming(taking_turns(part.stream)))
        }
    }
}

/// Lets every `GET` route answer `HEAD` as HTTP requires: the request is routed
/// as a `GET`, and the body is replaced by an empty one of the same announced
/// length, so the bytes are never read.
pub async fn answer_head(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<HeadBody, BoxBody>>, Error> {
    if req.method() != Method::HEAD {
        return Ok(next
            .call(req)
            .await?
            .map_into_boxed_body()
            .map_into_right_body());
    }
    req.head_mut().method = Method::GET;
    let res = next.call(req).await?;
    Ok(res.map_body(|_, body| EitherBody::left(HeadBody(body.size()))))
}

/// The body of a `HEAD` answer: the length the `GET` would have, and no bytes.
pub struct HeadBody(BodySize);

impl MessageBody for HeadBody {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        self.0
    }

    fn poll_next(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Poll::Ready(None)
    }
}

#[cfg(test)]
mod tests {
    use super::{Wanted, parse_range, wanted};
    use actix_web::test::TestRequest;

    #[test]
    fn single_ranges_are_served_and_the_rest_whole() {
        let part = |r: std::ops::Range<u64>| Wanted::Part(r);
        for (header, size, expected) in [
            ("bytes=10-", 10, Wanted::Unsatisfiable),
            ("bytes=10-20", 10, Wanted::Unsatisfiable),
            ("bytes=-0", 10, Wanted::Unsatisfiable),
            ("bytes=0-", 0, Wanted::Unsatisfiable),
            ("bytes=-1", 0, Wanted::Unsatisfiable),
            ("bytes=0-0", 10, part(0..1)),
            ("bytes=2-5", 10, part(2..6)),
            ("bytes=2-", 10, part(2..10)),
            ("bytes=5-100", 10, part(5..10)),
            ("bytes=-3", 10, part(7..10)),
            ("bytes=-30", 10, part(0..10)),
            ("bytes=9-9", 10, part(9..10)),
            ("bytes=5-2", 10, Wanted::Whole),
            ("bytes=0-1,4-5", 10, Wanted::Whole),
            ("bytes=a-b", 10, Wanted::Whole),
            ("bytes=-", 10, Wanted::Whole),
            ("bytes=+1-2", 10, Wanted::Whole),
            ("items=0-1", 10, Wanted::Whole),
            ("bytes=99999999999999999999999-", 10, Wanted::Whole),
        ] {
            assert_eq!(parse_range(header, size), expected, "{header} of {size}");
        }
    }

    #[test]
    fn conditions_decide_before_ranges() {
        let tag = Some("\"abc\"");
        let ask = |headers: &[(&str, &str)]| {
            let mut req = TestRequest::get();
            for (k, v) in headers {
                req = req.insert_header((*k, *v));
            }
            wanted(&req.to_http_request(), 10, tag)
        };
        assert_eq!(ask(&[]), Wanted::Whole);
        assert_eq!(ask(&[("If-None-Match", "\"abc\"")]), Wanted::NotModified);
        assert_eq!(ask(&[("If-None-Match", "W/\"abc\"")]), Wanted::NotModified);
        assert_eq!(
            ask(&[("If-None-Match", "\"x\", \"abc\"")]),
            Wanted::NotModified
        );
        assert_eq!(ask(&[("If-None-Match", "*")]), Wanted::NotModified);
        assert_eq!(ask(&[("If-None-Match", "\"other\"")]), Wanted::Whole);
        assert_eq!(ask(&[("Range", "bytes=1-2")]), Wanted::Part(1..3));
        assert_eq!(
            ask(&[("Range", "bytes=1-2"), ("If-Range", "\"abc\"")]),
            Wanted::Part(1..3)
        );
        assert_eq!(
            ask(&[("Range", "bytes=1-2"), ("If-Range", "\"old\"")]),
            Wanted::Whole
        );
        assert_eq!(
            ask(&[("Range", "bytes=1-2"), ("If-Range", "W/\"abc\"")]),
            Wanted::Whole,
            "If-Range compares strongly"
        );
        assert_eq!(
            ask(&[
                ("Range", "bytes=1-2"),
                ("If-Range", "Tue, 01 Dec 2026 00:00:00 GMT")
            ]),
            Wanted::Whole
        );
        assert_eq!(
            ask(&[("Range", "bytes=1-2"), ("If-None-Match", "\"abc\"")]),
            Wanted::NotModified
        );
    }
}
