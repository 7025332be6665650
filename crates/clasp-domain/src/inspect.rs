//! Checks an upload as its bytes stream past: counts them against the limit,
//! hashes them, and checks the magic bytes as soon as enough have arrived — so a
//! bad upload is refused mid-stream and no file is ever held in memory.

mod digests;
#[cfg(test)]
mod offloading_tests;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures::Stream;

use crate::offload::Offload;
use crate::validation::{SNIFF_BYTES, ValidationError, check_magic};
use digests::{Digests, Hashes};

/// Why a body stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The client or transport broke off (disconnect, malformed multipart, timeout).
    #[error("the upload was interrupted: {0}")]
    Interrupted(String),
    /// Clasp refused the bytes.
    #[error(transparent)]
    Rejected(#[from] ValidationError),
    /// What the service reads the bytes from failed (a stored part of a
    /// resumable upload could not be read): the service's failure, not the
    /// client's, so the same request may succeed later.
    #[error("the stored bytes could not be read: {0}")]
    Unavailable(String),
}

/// A request body as the domain receives it: chunks of bytes, `Send` so services
/// can run on any executor.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, BodyError>> + Send>>;

/// What the inspection found once the body ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    /// Bytes received.
    pub size: u64,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    /// Lowercase hex MD5 of the bytes, when it was asked for
    /// ([`Inspector::with_md5`]).
    pub md5: Option<String>,
    /// Type recognised from the magic bytes, if any.
    pub sniffed_type: Option<String>,
}

/// A body wrapped so it is checked while it streams; hand it to the blob store
/// and read [`Inspector::summary`] afterwards.
pub struct Inspector {
    inner: BodyStream,
    limit: u64,
    declared_type: String,
    digests: Digests,
    hashes: Option<Hashes>,
    received: u64,
    head: Vec<u8>,
    sniff_done: bool,
    sniffed: Option<String>,
    failure: Option<BodyError>,
    ended: bool,
    finished: bool,
}

impl Inspector {
    /// Wraps `inner`, allowing at most `limit` bytes of a file declared as `declared_type`.
    pub fn new(inner: BodyStream, limit: u64, declared_type: &str) -> Self {
        Self {
            inner,
            limit,
            declared_type: declared_type.to_owned(),
            digests: Digests::new(),
            hashes: None,
            received: 0,
            head: Vec::new(),
            sniff_done: false,
            sniffed: None,
            failure: None,
            ended: false,
            finished: false,
        }
    }

    /// The same, hashing a large body on a core `offload` has spare, so
    /// receiving and hashing it are not both held to one core. Only before
    /// any bytes.
    pub fn offloading(mut self, offload: Arc<dyn Offload>) -> Self {
        self.digests = self.digests.offloading(offload);
        self
    }

    /// The same, computing the bytes' MD5 too: only where a client declared
    /// one, as it costs as much again as the SHA-256.
    pub fn with_md5(mut self) -> Self {
        self.digests = self.digests.with_md5();
        self
    }

    /// The same, for bytes that do not start the file (a later part of a
    /// resumable upload, whose first bytes were checked with the first part):
    /// no magic is looked for.
    pub fn without_magic(mut self) -> Self {
        self.sniff_done = true;
        self
    }

    /// The same, hashing nothing: for bytes whose digests nobody reads (a
    /// part of a resumable upload, whose file is hashed whole once it is
    /// complete). [`Inspector::summary`] then stays `None`; size and magic
    /// are checked as ever, and [`Inspector::failure`] says why the body
    /// stopped.
    pub fn unhashed(mut self) -> Self {
        self.digests = Digests::none();
        self
    }

    /// Why the body was cut short, if it was.
    pub fn failure(&self) -> Option<&BodyError> {
        self.failure.as_ref()
    }

    /// The result, once the stream has ended cleanly; `None` before that,
    /// after a failure, or when built [`Inspector::unhashed`].
    pub fn summary(&self) -> Option<Inspected> {
        let hashes = self.hashes.as_ref().filter(|_| self.failure.is_none())?;
        Some(Inspected {
            size: self.received,
            sha256: hashes.sha256.clone(),
            md5: hashes.md5.clone(),
            sniffed_type: self.sniffed.clone(),
        })
    }

    fn fail(&mut self, e: BodyError) -> Poll<Option<Result<Bytes, BodyError>>> {
        self.failure = Some(e.clone());
        self.finished = true;
        Poll::Ready(Some(Err(e)))
    }

    fn sniff(&mut self) -> Result<(), ValidationError> {
        self.sniff_done = true;
        self.sniffed = check_magic(&self.declared_type, &self.head)?;
        self.head = Vec::new();
        Ok(())
    }
}

impl Stream for Inspector {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        if let Err(e) = ready!(this.digests.poll_ready(cx)) {
            return this.fail(e);
        }
        while !this.ended {
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return this.fail(e),
                Poll::Ready(Some(Ok(chunk))) if chunk.is_empty() => continue,
                Poll::Ready(Some(Ok(chunk))) => {
                    this.received += chunk.len() as u64;
                    if this.received > this.limit {
                        return this.fail(ValidationError::TooLarge { limit: this.limit }.into());
                    }
                    if !this.sniff_done {
                        let take = (SNIFF_BYTES - this.head.len()).min(chunk.len());
                        this.head.extend_from_slice(&chunk[..take]);
                        if this.head.len() >= SNIFF_BYTES
                            && let Err(e) = this.sniff()
                        {
                            return this.fail(e.into());
                        }
                    }
                    this.digests.feed(&chunk);
                    return Poll::Ready(Some(Ok(chunk)));
                }
                Poll::Ready(None) => {
                    if !this.sniff_done
                        && let Err(e) = this.sniff()
                    {
                        return this.fail(e.into());
                    }
                    this.ended = true;
                }
            }
        }
        match ready!(this.digests.poll_finish(cx)) {
            Ok(hashes) => {
                this.hashes = hashes;
                this.finished = true;
                Poll::Ready(None)
            }
            Err(e) => this.fail(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use futures::executor::block_on;

    fn body(chunks: Vec<Vec<u8>>) -> BodyStream {
        Box::pin(futures::stream::iter(
            chunks.into_iter().map(|c| Ok(Bytes::from(c))),
        ))
    }

    fn drain(i: &mut Inspector) -> Result<u64, BodyError> {
        block_on(async {
            let mut n = 0;
            while let Some(c) = i.next().await {
                n += c?.len() as u64;
            }
            Ok(n)
        })
    }

    #[test]
    fn counts_and_hashes() {
        let mut i = Inspector::new(
            body(vec![b"hello ".to_vec(), vec![], b"world".to_vec()]),
            100,
            "text/plain",
        );
        assert_eq!(drain(&mut i).unwrap(), 11);
        let s = i.summary().unwrap();
        assert_eq!(s.size, 11);
        assert_eq!(
            s.sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
    }

    #[test]
    fn stops_at_the_limit_without_reading_further() {
        let chunks: Vec<Vec<u8>> = (0..10).map(|_| vec![b'a'; 10]).collect();
        let mut i = Inspector::new(body(chunks), 25, "text/plain");
        let err = drain(&mut i).unwrap_err();
        assert_eq!(
            err,
            BodyError::Rejected(ValidationError::TooLarge { limit: 25 })
        );
        assert!(i.summary().is_none());
        assert!(i.failure().is_some());
    }

    #[test]
    fn exactly_the_limit_passes() {
        let mut i = Inspector::new(body(vec![vec![b'a'; 25]]), 25, "text/plain");
        assert_eq!(drain(&mut i).unwrap(), 25);
    }

    #[test]
    fn magic_is_checked_mid_stream_and_at_the_end() {
        let mut big = Inspector::new(
            body(vec![vec![b'x'; SNIFF_BYTES], vec![b'x'; 10]]),
            1 << 20,
            "image/png",
        );
        assert!(matches!(
            drain(&mut big),
            Err(BodyError::Rejected(ValidationError::MagicMismatch { .. }))
        ));
        let mut small = Inspector::new(body(vec![b"GIF89a".to_vec()]), 100, "image/png");
        assert!(matches!(
            drain(&mut small),
            Err(BodyError::Rejected(ValidationError::MagicMismatch { .. }))
        ));
        let mut ok = Inspector::new(
            body(vec![
                b"\x89PNG\r\n".to_vec(),
                b"\x1a\n\0\0\0\rIHDR".to_vec(),
            ]),
            100,
            "image/png",
        );
        drain(&mut ok).unwrap();
        assert_eq!(
            ok.summary().unwrap().sniffed_type.as_deref(),
            Some("image/png")
        );
    }

    #[test]
    fn an_unhashed_body_is_still_counted_and_sniffed() {
        let mut part = Inspector::new(body(vec![vec![b'a'; 25]]), 25, "text/plain").unhashed();
        assert_eq!(drain(&mut part).unwrap(), 25);
        assert!(part.summary().is_none() && part.failure().is_none());
        let mut over = Inspector::new(body(vec![vec![b'a'; 26]]), 25, "text/plain").unhashed();
        assert!(drain(&mut over).is_err());
        let mut liar = Inspector::new(body(vec![b"GIF89a".to_vec()]), 100, "image/png").unhashed();
        assert!(matches!(
            drain(&mut liar),
            Err(BodyError::Rejected(ValidationError::MagicMismatch { .. }))
        ));
    }

    #[test]
    fn client_errors_pass_through() {
        let s: BodyStream = Box::pin(futures::stream::iter(vec![
            Ok(Bytes::from_static(b"abc")),
            Err(BodyError::Interrupted("reset".into())),
        ]));
        let mut i = Inspector::new(s, 100, "text/plain");
        assert_eq!(
            drain(&mut i).unwrap_err(),
            BodyError::Interrupted("reset".into())
        );
    }
}
