//! The multipart form of an upload, read so that neither a body that ends
//! early nor a body that never says anything can hold the request or grow
//! memory.
//!
//! - actix-multipart (0.7.2, where this was found) answers `Pending` forever when the request body
//!   ends before a part's closing boundary (upstream actix-web issue #3202):
//!   nothing will ever wake it, and the body idle timeout cannot cut it
//!   because the body did end. [`Form`] records when the body has ended; once
//!   it has, every byte is in the parser's buffer, so a `Pending` from the form
//!   or from one of its [`Part`]s can only be that hang and is turned into
//!   [`MultipartError::Incomplete`], which each dialect answers with its 400.
//! - The parser buffers a part's headers (and the preamble before the first
//!   boundary) until they end, and looks for their end from the start each
//!   time more arrives: a header that never ends would be read whole, at a
//!   quadratic cost. [`Form`] counts the bytes fed to the parser since it last
//!   yielded a part or a chunk of one; more than [`MAX_HEAD_BYTES`] of them
//!   while it still asks for more can only be an endless preamble or header,
//!   and fail the form.
//! - The whole body has a cap ([`Form::cap`]), chunked bodies included, which
//!   a handler sets from the dialect's limits (the files it takes, plus its
//!   form fields); a body past it fails the form.

use std::cell::Cell;
use std::future::{Ready, ready};
use std::io;
use std::ops::Deref;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_multipart::{Field, Multipart, MultipartError};
use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::{FromRequest, HttpRequest};
use bytes::Bytes;
use futures::{Stream, StreamExt};

mod fields;
pub use fields::{FieldLimits, Fields};

/// The most bytes the parser may take in without yielding anything: a part's
/// headers (8 KiB), or the preamble and first boundary (8 KiB).
pub const MAX_HEAD_BYTES: u64 = 16 * 1024;

/// What the body has done so far, shared by the form, its parts and the
/// stream feeding the parser.
#[derive(Debug, Default)]
struct Progress {
    /// The body has ended.
    ended: Cell<bool>,
    /// Bytes fed to the parser.
    fed: Cell<u64>,
    /// `fed` when the parser last yielded a part or a chunk.
    yielded_at: Cell<u64>,
    /// The most bytes the body may have (`u64::MAX`: no cap).
    cap: Cell<u64>,
}

impl Progress {
    /// `polled`, unless it is a `Pending` that can only be a hang or an
    /// endless head: then the error that ends it. Anything yielded is progress.
    fn check<T>(
        &self,
        polled: Poll<Option<Result<T, MultipartError>>>,
    ) -> Poll<Option<Result<T, MultipartError>>> {
        match polled {
            Poll::Pending if self.ended.get() => Poll::Ready(Some(Err(MultipartError::Incomplete))),
            Poll::Pending if self.fed.get() - self.yielded_at.get() > MAX_HEAD_BYTES => {
                Poll::Ready(Some(Err(MultipartError::Payload(PayloadError::Io(
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "a part's headers, or what precedes the first part, \
                             ran past {MAX_HEAD_BYTES} bytes"
                        ),
                    ),
                )))))
            }
            Poll::Ready(Some(Ok(item))) => {
                self.yielded_at.set(self.fed.get());
                Poll::Ready(Some(Ok(item)))
            }
            polled => polled,
        }
    }

    /// Counts a chunk fed to the parser, failing it once the body passes its cap.
    fn feed(&self, item: Result<Bytes, PayloadError>) -> Result<Bytes, PayloadError> {
        let chunk = item?;
        let fed = self.fed.get().saturating_add(chunk.len() as u64);
        self.fed.set(fed);
        if fed > self.cap.get() {
            return Err(PayloadError::Overflow);
        }
        Ok(chunk)
    }
}

/// A request's multipart form whose reading fails, rather than waits forever
/// or buffers without end, on a body that breaks off or never ends a header.
/// Extracted like [`Multipart`].
pub struct Form {
    inner: Multipart,
    progress: Rc<Progress>,
}

/// One part of a [`Form`]: its headers through [`Field`], its bytes as a stream
/// that fails when the body ended before the part's end.
pub struct Part {
    inner: Field,
    progress: Rc<Progress>,
}

impl Form {
    /// Caps the whole body at `max_bytes` (before any of it is read).
    pub fn cap(&self, max_bytes: u64) {
        self.progress.cap.set(max_bytes);
    }
}

impl FromRequest for Form {
    type Error = actix_web::Error;
    type Future = Ready<Result<Form, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let progress = Rc::new(Progress {
            cap: Cell::new(u64::MAX),
            ..Progress::default()
        });
        let fed = Rc::clone(&progress);
        let mark = Rc::clone(&progress);
        // Once the body has ended, every poll lands in the marker.
        let body = payload
            .take()
            .map(move |item| fed.feed(item))
            .chain(futures::stream::poll_fn(move |_| {
                mark.ended.set(true);
                Poll::Ready(None)
            }));
        ready(Ok(Form {
            inner: Multipart::new(req.headers(), body),
            progress,
        }))
    }
}

impl Stream for Form {
    type Item = Result<Part, MultipartError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let polled = this.inner.poll_next_unpin(cx).map(|item| {
            item.map(|field| {
                field.map(|inner| Part {
                    inner,
                    progress: Rc::clone(&this.progress),
                })
            })
        });
        this.progress.check(polled)
    }
}

impl Stream for Part {
    type Item = Result<Bytes, MultipartError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let polled = this.inner.poll_next_unpin(cx);
        this.progress.check(polled)
    }
}

impl Deref for Part {
    type Target = Field;

    fn deref(&self) -> &Field {
        &self.inner
    }
}

impl Part {
    /// The file name the client gave the part; empty when it gave none.
    pub fn filename(&self) -> String {
        self.content_disposition()
            .and_then(|d| d.get_filename())
            .unwrap_or_default()
            .to_owned()
    }

    /// The media type the client declared for the part.
    pub fn media_type(&self) -> Option<String> {
        self.content_type().map(ToString::to_string)
    }
}
