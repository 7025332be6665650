//! The bytes of a multipart body, cut into parts as they arrive.
//!
//! A part's bytes are handed on as slices of the chunks the connection
//! received (`Bytes`, no copy), found by one search for the whole delimiter
//! (`\r\n--` and the boundary) with memchr's SIMD `memmem`. Bytes are copied
//! only where a head (the preamble, a part's headers) spans chunks, and where
//! a delimiter may begin at the end of one chunk and go on in the next: a
//! few bytes of the first and as many of the second are compared first, and
//! the chunks are joined only when they could hold a delimiter across them.
//! Why this is not actix-multipart, or multer: both copy every received
//! chunk into a buffer of their own, and actix-multipart stops at every `\r`
//! of a binary file to compare what follows; on 30 MiB uploads the two cost
//! a tenth of both cores (docs/performance.md, "fourteenth session").

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use actix_web::error::PayloadError;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use bytes::{Buf, Bytes, BytesMut};
use futures::Stream;
use memchr::memmem::Finder;

use super::{FormError, MAX_HEAD_BYTES, MAX_PART_HEADERS};

/// The request body, chunk by chunk.
pub(super) type Source = Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>;

/// Where in the form the reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first delimiter.
    Preamble,
    /// Right after a delimiter: the closing `--`, or padding and a line break.
    Delimited,
    /// A part's headers.
    Headers,
    /// A part's bytes.
    Body,
    /// After the closing delimiter: the form has ended.
    End,
    /// After an error: nothing more is read.
    Broken,
}

/// Reads one form's body: its parts' headers for the form, their bytes for
/// each part in turn.
pub(super) struct Reader {
    source: Source,
    /// Received and not handed on yet.
    buf: Bytes,
    /// `\r\n--` and the boundary.
    delimiter: Finder<'static>,
    state: State,
    /// How far `buf` was searched for a head's end without finding it.
    scanned: usize,
    /// Bytes received so far.
    received: u64,
    /// The most bytes the body may have.
    pub(super) cap: u64,
    /// The number of the part whose bytes are being read (1 for the first).
    pub(super) part: u64,
}

impl Reader {
    /// A reader of `source`, whose parts are delimited by `boundary`.
    pub(super) fn new(source: Source, boundary: &str) -> Self {
        Self {
            source,
            buf: Bytes::new(),
            delimiter: Finder::new(format!("\r\n--{boundary}").as_bytes()).into_owned(),
            state: State::Preamble,
            scanned: 0,
            received: 0,
            cap: u64::MAX,
            part: 0,
        }
    }

    /// Reads on to the next part's headers, past what is left of the part
    /// before; `None` once the closing delimiter has been read.
    pub(super) fn poll_part(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<HeaderMap, FormError>>> {
        let polled = self.next_head(cx);
        if let Poll::Ready(Some(Err(_))) = polled {
            self.state = State::Broken;
        }
        polled
    }

    /// The next bytes of the current part; `None` at its end.
    pub(super) fn poll_body(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, FormError>>> {
        match self.state {
            State::Body => {}
            State::Broken => return Poll::Ready(Some(Err(FormError::Broken))),
            _ => return Poll::Ready(None),
        }
        let polled = self.body(cx);
        if let Poll::Ready(Some(Err(_))) = polled {
            self.state = State::Broken;
        }
        polled
    }

    /// Stops reading: the form was refused for what a part's headers say.
    pub(super) fn break_off(&mut self) {
        self.state = State::Broken;
    }

    fn next_head(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<HeaderMap, FormError>>> {
        loop {
            let stepped = match self.state {
                State::Body => match ready!(self.poll_body(cx)) {
                    Some(Err(e)) => Err(e),
                    _ => Ok(()),
                },
                State::Preamble => ready!(self.preamble(cx)),
                State::Delimited => ready!(self.delimited(cx)),
                State::Headers => return self.headers(cx).map(Some),
                State::End => return Poll::Ready(None),
                State::Broken => return Poll::Ready(Some(Err(FormError::Broken))),
            };
            if let Err(e) = stepped {
                return Poll::Ready(Some(Err(e)));
            }
        }
    }

    /// The next chunk of the body, counted against the cap; `None` at its end.
    fn next_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, FormError>> {
        loop {
            let chunk = match ready!(self.source.as_mut().poll_next(cx)) {
                None => return Poll::Ready(Ok(None)),
                Some(chunk) => chunk?,
            };
            self.received = self.received.saturating_add(chunk.len() as u64);
            if self.received > self.cap {
                return Poll::Ready(Err(FormError::TooLarge));
            }
            if !chunk.is_empty() {
                return Poll::Ready(Ok(Some(chunk)));
            }
        }
    }

    /// Adds the next chunk to `buf`, for a head; `Incomplete` if the body ended.
    fn append(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), FormError>> {
        let chunk = ready!(self.next_chunk(cx))?.ok_or(FormError::Incomplete)?;
        self.buf = join(std::mem::take(&mut self.buf), chunk);
        Poll::Ready(Ok(()))
    }

    /// Consumes `n` bytes of `buf` and moves to `state`.
    fn consume(&mut self, n: usize, state: State) {
        self.buf.advance(n);
        self.scanned = 0;
        self.state = state;
    }

    /// Skips what comes before the first delimiter, which may open the body
    /// without the line break before it.
    fn preamble(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), FormError>> {
        loop {
            let opening = self.delimiter.needle().get(2..).unwrap_or_default();
            if self.buf.starts_with(opening) {
                let n = opening.len();
                self.consume(n, State::Delimited);
                return Poll::Ready(Ok(()));
            }
            if !opening.starts_with(&self.buf) {
                let needle = self.delimiter.needle();
                if let Some(end) = find_end(&self.buf, &mut self.scanned, needle) {
                    self.consume(end, State::Delimited);
                    return Poll::Ready(Ok(()));
                }
            }
            if self.buf.len() > MAX_HEAD_BYTES {
                return Poll::Ready(Err(FormError::HeadTooLong));
            }
            ready!(self.append(cx))?;
        }
    }

    /// Reads what follows a delimiter: `--` ends the form; otherwise spaces or
    /// tabs (RFC 2046's transport padding) and a line break open a part.
    fn delimited(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), FormError>> {
        loop {
            if self.buf.starts_with(b"--") {
                self.buf = Bytes::new();
                self.state = State::End;
                return Poll::Ready(Ok(()));
            }
            let padding = self
                .buf
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t'))
                .count();
            let rest = self.buf.get(padding..).unwrap_or_default();
            if rest.starts_with(b"\r\n") {
                self.consume(padding + 2, State::Headers);
                return Poll::Ready(Ok(()));
            }
            let undecided = rest.is_empty() || rest == b"\r" || (padding == 0 && rest == b"-");
            if !undecided {
                return Poll::Ready(Err(FormError::BadDelimiter));
            }
            if padding > MAX_HEAD_BYTES {
                return Poll::Ready(Err(FormError::HeadTooLong));
            }
            ready!(self.append(cx))?;
        }
    }

    /// Reads a part's headers, up to the empty line that ends them.
    fn headers(&mut self, cx: &mut Context<'_>) -> Poll<Result<HeaderMap, FormError>> {
        loop {
            let end = if self.buf.starts_with(b"\r\n") {
                Some(2)
            } else {
                find_end(&self.buf, &mut self.scanned, b"\r\n\r\n")
            };
            if let Some(end) = end.filter(|&end| end <= MAX_HEAD_BYTES) {
                let head = self.buf.split_to(end);
                self.consume(0, State::Body);
                self.part += 1;
                return Poll::Ready(parse_headers(&head));
            }
            if self.buf.len() > MAX_HEAD_BYTES {
                return Poll::Ready(Err(FormError::HeadTooLong));
            }
            ready!(self.append(cx))?;
        }
    }

    /// The part's bytes up to the next delimiter, as slices of what arrived.
    fn body(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, FormError>>> {
        loop {
            if let Some(at) = self.delimiter.find(&self.buf) {
                if at > 0 {
                    return Poll::Ready(Some(Ok(self.buf.split_to(at))));
                }
                let n = self.delimiter.needle().len();
                self.consume(n, State::Delimited);
                return Poll::Ready(None);
            }
            let kept = possible_start(&self.buf, self.delimiter.needle());
            if self.buf.len() > kept {
                let at = self.buf.len() - kept;
                return Poll::Ready(Some(Ok(self.buf.split_to(at))));
            }
            let chunk = match ready!(self.next_chunk(cx)) {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return Poll::Ready(Some(Err(FormError::Incomplete))),
                Err(e) => return Poll::Ready(Some(Err(e))),
            };
            if continues_into(&self.buf, &chunk, &self.delimiter) {
                self.buf = join(std::mem::take(&mut self.buf), chunk);
            } else {
                let held = std::mem::replace(&mut self.buf, chunk);
                if !held.is_empty() {
                    return Poll::Ready(Some(Ok(held)));
                }
            }
        }
    }
}

/// Where `needle` first ends in `buf`, searching only what was not searched
/// before (`scanned`), so a head arriving in small chunks is searched once.
fn find_end(buf: &[u8], scanned: &mut usize, needle: &[u8]) -> Option<usize> {
    let from = scanned.saturating_sub(needle.len().saturating_sub(1));
    let found = buf
        .get(from..)
        .and_then(|rest| memchr::memmem::find(rest, needle));
    *scanned = buf.len();
    found.map(|at| from + at + needle.len())
}

/// `a` then `b`, copied only when both hold something.
fn join(a: Bytes, b: Bytes) -> Bytes {
    if a.is_empty() {
        return b;
    }
    let mut joined = BytesMut::with_capacity(a.len() + b.len());
    joined.extend_from_slice(&a);
    joined.extend_from_slice(&b);
    joined.freeze()
}

/// How many bytes at the end of `buf` could be the start of `delimiter`
/// (which begins with `\r`), to be kept until the next chunk tells.
fn possible_start(buf: &[u8], delimiter: &[u8]) -> usize {
    let from = buf.len().saturating_sub(delimiter.len() - 1);
    let tail = buf.get(from..).unwrap_or_default();
    memchr::memchr_iter(b'\r', tail)
        .find(|&at| {
            tail.get(at..)
                .is_some_and(|rest| delimiter.starts_with(rest))
        })
        .map_or(0, |at| tail.len() - at)
}

/// Whether a delimiter beginning in `held` (a possible start kept back) may
/// go on into `chunk`; a chunk too short to tell counts as yes.
fn continues_into(held: &[u8], chunk: &[u8], delimiter: &Finder<'_>) -> bool {
    if held.is_empty() {
        return false;
    }
    let reach = delimiter.needle().len() - 1;
    let Some(start) = chunk.get(..reach) else {
        return true;
    };
    let probe = [held, start].concat();
    delimiter.find(&probe).is_some_and(|at| at < held.len())
}

/// A part's header block (its lines and the empty line ending them).
fn parse_headers(head: &[u8]) -> Result<HeaderMap, FormError> {
    let mut parsed = [httparse::EMPTY_HEADER; MAX_PART_HEADERS];
    let lines = match httparse::parse_headers(head, &mut parsed) {
        Ok(httparse::Status::Complete((_, lines))) => lines,
        Ok(httparse::Status::Partial) => return Err(FormError::BadHeaders),
        Err(httparse::Error::TooManyHeaders) => return Err(FormError::TooManyHeaders),
        Err(_) => return Err(FormError::BadHeaders),
    };
    let mut headers = HeaderMap::with_capacity(lines.len());
    for line in lines.iter() {
        let name =
            HeaderName::from_bytes(line.name.as_bytes()).map_err(|_| FormError::BadHeaders)?;
        let value = HeaderValue::from_bytes(line.value).map_err(|_| FormError::BadHeaders)?;
        headers.append(name, value);
    }
    Ok(headers)
}
