//! The multipart form of an upload, read so that neither a body that ends
//! early nor a body that never says anything can hold the request or grow
//! memory, and so that a file's bytes go on as they arrived, uncopied.
//!
//! - The parser is Clasp's own ([`reader`] says why it is not actix-multipart):
//!   RFC 7578 forms, each part delimited by its boundary (a part's own
//!   `Content-Length` is not trusted), with RFC 2046's preamble, transport
//!   padding and epilogue; every part must carry a `form-data`
//!   `Content-Disposition` with a name, and no part may be multipart itself.
//! - A body that ends before the closing delimiter fails the form with
//!   [`FormError::Incomplete`], which each dialect answers with its 400.
//! - What precedes the first part, and each part's headers, are bounded by
//!   [`MAX_HEAD_BYTES`]; a head is searched for its end once, however small
//!   the chunks it arrives in.
//! - The whole body has a cap ([`Form::cap`]), chunked bodies included, which
//!   a handler sets from the dialect's limits (the files it takes, plus its
//!   form fields); a body past it fails the form.

use std::cell::RefCell;
use std::future::{Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header::{self, ContentDisposition, DispositionType, HeaderMap};
use actix_web::{FromRequest, HttpRequest};
use bytes::Bytes;
use futures::Stream;

mod fields;
mod reader;
#[cfg(test)]
mod tests;
pub use fields::{FieldLimits, Fields};
use reader::Reader;

/// The most bytes of what precedes the first part (with its delimiter), or of
/// one part's headers (with the padding after its delimiter).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Headers one part may carry.
const MAX_PART_HEADERS: usize = 32;

/// The longest boundary taken: RFC 2046 allows 70 characters, and the
/// delimiter is searched for in every byte of a file.
const MAX_BOUNDARY_BYTES: usize = 200;

/// Why a form could not be read; every one is the client's doing, answered
/// with the dialect's 400.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    /// The request is not a multipart form with a usable boundary.
    #[error(
        "the body is not multipart/form-data with a boundary of 1 to {MAX_BOUNDARY_BYTES} bytes"
    )]
    NotMultipart,
    /// The body ended before the form's closing delimiter.
    #[error("the body ended before the multipart form did")]
    Incomplete,
    /// A head ran past its bound.
    #[error("a part's headers, or what precedes the first part, ran past {MAX_HEAD_BYTES} bytes")]
    HeadTooLong,
    /// A part's headers cannot be read.
    #[error("a part's headers are malformed")]
    BadHeaders,
    /// A part carries more headers than a form's part needs.
    #[error("a part carries more than {MAX_PART_HEADERS} headers")]
    TooManyHeaders,
    /// A delimiter is followed by neither a line break nor `--`.
    #[error("a boundary line holds more than the boundary")]
    BadDelimiter,
    /// A part has no `form-data` disposition with a name.
    #[error("every part needs a Content-Disposition of form-data with a name")]
    Unnamed,
    /// A part is a multipart body itself.
    #[error("a part may not be multipart itself")]
    Nested,
    /// The body is larger than the form may be.
    #[error("the body is larger than this form may be")]
    TooLarge,
    /// The form failed before, and is read no further.
    #[error("the multipart form failed earlier")]
    Broken,
    /// The connection failed while the body was read.
    #[error(transparent)]
    Payload(#[from] PayloadError),
}

/// A request's multipart form, whose reading fails, rather than waits forever
/// or buffers without end, on a body that breaks off or never ends a head.
/// Extracted without reading a byte: a request that is not a form fails at
/// its first part, after the handler has checked its credential.
pub struct Form {
    reader: Result<Rc<RefCell<Reader>>, Option<FormError>>,
}

/// One part of a [`Form`]: its headers, and its bytes as a stream that fails
/// when the body ended before the part's end.
pub struct Part {
    reader: Rc<RefCell<Reader>>,
    /// Which of the form's parts this is.
    number: u64,
    headers: HeaderMap,
    name: String,
    disposition: ContentDisposition,
    media_type: Option<mime::Mime>,
}

impl Form {
    /// Caps the whole body at `max_bytes` (before any of it is read).
    pub fn cap(&self, max_bytes: u64) {
        if let Ok(reader) = &self.reader {
            reader.borrow_mut().cap = max_bytes;
        }
    }
}

/// The media type a request declares for its body.
pub(crate) fn body_type(req: &HttpRequest) -> Option<mime::Mime> {
    req.headers()
        .get(header::CONTENT_TYPE)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The boundary of a multipart request.
fn boundary(req: &HttpRequest) -> Option<String> {
    let media = body_type(req)?;
    let boundary = media.get_param(mime::BOUNDARY)?.as_str();
    let usable =
        media.type_() == mime::MULTIPART && (1..=MAX_BOUNDARY_BYTES).contains(&boundary.len());
    usable.then(|| boundary.to_owned())
}

impl FromRequest for Form {
    type Error = actix_web::Error;
    type Future = Ready<Result<Form, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let reader = match boundary(req) {
            Some(boundary) => Ok(Rc::new(RefCell::new(Reader::new(
                Box::pin(payload.take()),
                &boundary,
            )))),
            None => Err(Some(FormError::NotMultipart)),
        };
        ready(Ok(Form { reader }))
    }
}

impl Stream for Form {
    type Item = Result<Part, FormError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let reader = match &mut self.get_mut().reader {
            Ok(reader) => reader,
            Err(refused) => return Poll::Ready(refused.take().map(Err)),
        };
        let mut read = reader.borrow_mut();
        let Some(headers) = ready!(read.poll_part(cx)) else {
            return Poll::Ready(None);
        };
        let part = headers.and_then(|headers| Part::new(Rc::clone(reader), read.part, headers));
        if part.is_err() {
            read.break_off();
        }
        Poll::Ready(Some(part))
    }
}

impl Stream for Part {
    type Item = Result<Bytes, FormError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut read = self.reader.borrow_mut();
        if read.part != self.number {
            return Poll::Ready(None);
        }
        read.poll_body(cx)
    }
}

impl Part {
    /// The part named by its headers, which RFC 7578 requires to say its name.
    fn new(
        reader: Rc<RefCell<Reader>>,
        number: u64,
        headers: HeaderMap,
    ) -> Result<Self, FormError> {
        let disposition = headers
            .get(header::CONTENT_DISPOSITION)
            .and_then(|value| ContentDisposition::from_raw(value).ok())
            .filter(|d| d.disposition == DispositionType::FormData)
            .ok_or(FormError::Unnamed)?;
        let name = disposition.get_name().ok_or(FormError::Unnamed)?.to_owned();
        let media_type: Option<mime::Mime> = headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok());
        if media_type
            .as_ref()
            .is_some_and(|m| m.type_() == mime::MULTIPART)
        {
            return Err(FormError::Nested);
        }
        Ok(Self {
            reader,
            number,
            headers,
            name,
            disposition,
            media_type,
        })
    }

    /// The form field's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The part's own headers (a `Content-Digest`, say).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The file name the client gave the part; empty when it gave none.
    pub fn filename(&self) -> String {
        self.disposition
            .get_filename()
            .unwrap_or_default()
            .to_owned()
    }

    /// The media type the client declared for the part.
    pub fn media_type(&self) -> Option<String> {
        self.media_type.as_ref().map(ToString::to_string)
    }
}
