//! The multipart form of an upload, read so that a body ending inside a part
//! fails instead of hanging.
//!
//! actix-multipart 0.7.2 answers `Pending` forever when the request body ends
//! before a part's closing boundary (upstream actix-web issue #3202): nothing
//! will ever wake it, so the request and its upload slot would be held as long
//! as the client keeps the connection open, and the body idle timeout cannot
//! cut it because the body did end. [`Form`] records when the body has ended;
//! once it has, every byte is in the parser's buffer, so a `Pending` from the
//! form or from one of its [`Part`]s can only be that hang and is turned into
//! [`MultipartError::Incomplete`], which each dialect already answers with its
//! own 400.

use std::cell::Cell;
use std::future::{Ready, ready};
use std::ops::Deref;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_multipart::{Field, Multipart, MultipartError};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use bytes::Bytes;
use futures::{Stream, StreamExt};

mod fields;
pub use fields::{FieldLimits, Fields};

/// A request's multipart form whose reading fails, rather than waits forever,
/// when the body ends inside a part. Extracted like [`Multipart`].
pub struct Form {
    inner: Multipart,
    ended: Rc<Cell<bool>>,
}

/// One part of a [`Form`]: its headers through [`Field`], its bytes as a stream
/// that fails when the body ended before the part's end.
pub struct Part {
    inner: Field,
    ended: Rc<Cell<bool>>,
}

impl FromRequest for Form {
    type Error = actix_web::Error;
    type Future = Ready<Result<Form, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let ended = Rc::new(Cell::new(false));
        let mark = Rc::clone(&ended);
        // Once the body has ended, every poll lands in the marker.
        let body = payload.take().chain(futures::stream::poll_fn(move |_| {
            mark.set(true);
            Poll::Ready(None)
        }));
        ready(Ok(Form {
            inner: Multipart::new(req.headers(), body),
            ended,
        }))
    }
}

/// `polled`, unless it is a `Pending` after the body ended: then the error that
/// ends the hang.
fn unless_stuck<T>(
    polled: Poll<Option<Result<T, MultipartError>>>,
    ended: &Cell<bool>,
) -> Poll<Option<Result<T, MultipartError>>> {
    match polled {
        Poll::Pending if ended.get() => Poll::Ready(Some(Err(MultipartError::Incomplete))),
        polled => polled,
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
                    ended: Rc::clone(&this.ended),
                })
            })
        });
        unless_stuck(polled, &this.ended)
    }
}

impl Stream for Part {
    type Item = Result<Bytes, MultipartError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        unless_stuck(this.inner.poll_next_unpin(cx), &this.ended)
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
