//! Building download responses that are safe to open in a browser.

use actix_web::HttpResponse;
use actix_web::http::header::{self, HeaderValue};
use clasp_domain::services::Download;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Types a browser may render in place; everything else is offered as a download.
const INLINE_TYPES: [&str; 9] = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "video/mp4",
    "video/webm",
    "video/ogg",
    "video/quicktime",
    "application/pdf",
];

/// RFC 5987 `attr-char`s stay as they are; everything else is percent-encoded.
const ATTR_CHAR_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// An RFC 6266 `Content-Disposition`: a quoted ASCII fallback that can hold no
/// quote, backslash or control character, plus `filename*` when the name is not ASCII.
pub fn content_disposition(filename: &str, inline: bool) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    let fallback: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if fallback == filename {
        format!("{kind}; filename=\"{fallback}\"")
    } else {
        let encoded = utf8_percent_encode(filename, ATTR_CHAR_ESCAPES);
        format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
    }
}

/// A 200 response streaming the attachment's bytes with its stored type, exact
/// length, a safe disposition and `nosniff`; HTML is never rendered (attachment
/// disposition and a sandboxing CSP).
pub fn stream(download: Download) -> HttpResponse {
    let a = &download.attachment;
    let inline = INLINE_TYPES.contains(&a.content_type.as_str());
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CONTENT_TYPE, a.content_type.as_str()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            content_disposition(&a.filename, inline),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "private, max-age=0"));
    if !inline {
        res.insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox"),
        ));
    }
    if let Some(sha) = &a.sha256 {
        res.insert_header((header::ETAG, format!("\"{sha}\"")));
    }
    res.no_chunking(download.body.size)
        .streaming(download.body.stream)
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn dispositions_are_safe() {
        assert_eq!(
            content_disposition("a.png", true),
            "inline; filename=\"a.png\""
        );
        assert_eq!(
            content_disposition("résumé \"x\".pdf", false),
            "attachment; filename=\"r_sum_ _x_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22x%22.pdf"
        );
        let d = content_disposition("a\\b.txt", false);
        assert!(!d.contains('\\'));
    }
}
