//! The hashes of an upload's bytes: computed on the thread receiving them at
//! first, then, once the upload has shown itself large and a core is spare
//! ([`Offload`]), on that core, pipelined with the receiving and the writing.
//! The bytes are handed over by reference (`Bytes`), never copied.

use std::mem;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::channel::{mpsc, oneshot};
use futures::{FutureExt, StreamExt};
use md5::Md5;
use sha2::{Digest, Sha256};

use super::BodyError;
use crate::offload::{Arrival, NoOffload, Offload};

/// Bytes hashed where they arrive before the rest may be handed over: a small
/// upload would spend more on the hand-off than on its hash.
pub(super) const HASHED_HERE_FIRST: u64 = 1 << 20;
/// Bytes handed over at once, so the hashing thread wakes once per batch.
pub(super) const BATCH_BYTES: usize = 256 << 10;
/// Batches that may wait for the hashing thread: what a hasher falling
/// behind holds back (with the batch being gathered, about 1.25 MiB), and when
/// the upload waits for it instead of running ahead.
pub(super) const WAITING_BATCHES: usize = 3;

/// Lowercase hex digests of the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Hashes {
    pub(super) sha256: String,
    pub(super) md5: Option<String>,
}

/// SHA-256 and, when asked for, MD5, as they stand.
struct Hashers {
    sha256: Sha256,
    md5: Option<Md5>,
}

impl Hashers {
    fn update(&mut self, bytes: &[u8]) {
        self.sha256.update(bytes);
        if let Some(md5) = &mut self.md5 {
            md5::Digest::update(md5, bytes);
        }
    }

    fn finish(self) -> Hashes {
        Hashes {
            sha256: hex::encode(self.sha256.finalize()),
            md5: self.md5.map(|m| hex::encode(md5::Digest::finalize(m))),
        }
    }
}

/// The bytes' way to the hashing thread, and its answer.
struct Away {
    gathering: Vec<Bytes>,
    gathered: usize,
    full: Option<Vec<Bytes>>,
    to: mpsc::Sender<Vec<Bytes>>,
    answer: oneshot::Receiver<Hashes>,
}

impl Away {
    /// Sends the batch gathered last, once the hashing thread has room.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BodyError>> {
        let Some(batch) = self.full.take() else {
            return Poll::Ready(Ok(()));
        };
        match self.to.poll_ready(cx) {
            Poll::Pending => {
                self.full = Some(batch);
                Poll::Pending
            }
            Poll::Ready(Ok(())) => Poll::Ready(self.to.start_send(batch).map_err(|_| stopped())),
            Poll::Ready(Err(_)) => Poll::Ready(Err(stopped())),
        }
    }
}

enum Place {
    Here(Hashers),
    Away(Away),
    Nowhere,
    Done,
}

/// Where the hashing happens, and how far it has got.
pub(super) struct Digests {
    place: Place,
    offload: Arc<dyn Offload>,
    fed: u64,
    arrival: Option<Arrival>,
}

impl Digests {
    pub(super) fn new() -> Self {
        Self {
            place: Place::Here(Hashers {
                sha256: Sha256::new(),
                md5: None,
            }),
            offload: Arc::new(NoOffload),
            fed: 0,
            arrival: None,
        }
    }

    /// Hands the hashing of a large body to `offload` when it has a core.
    pub(super) fn offloading(mut self, offload: Arc<dyn Offload>) -> Self {
        self.offload = offload;
        self
    }

    /// Hashes nothing: for bytes whose digests nobody reads.
    pub(super) fn none() -> Self {
        Self {
            place: Place::Nowhere,
            ..Self::new()
        }
    }

    /// Computes the MD5 too; only before any bytes.
    pub(super) fn with_md5(mut self) -> Self {
        if let Place::Here(hashers) = &mut self.place {
            hashers.md5 = Some(md5::Digest::new());
        }
        self
    }

    /// Takes the next bytes. Once [`Digests::poll_ready`] is ready again the
    /// next may come.
    pub(super) fn feed(&mut self, chunk: &Bytes) {
        self.fed += chunk.len() as u64;
        match &mut self.place {
            Place::Here(hashers) => {
                hashers.update(chunk);
                if self.fed >= HASHED_HERE_FIRST && self.arrival.is_none() {
                    self.hand_over();
                }
            }
            Place::Away(away) => {
                away.gathering.push(chunk.clone());
                away.gathered += chunk.len();
                if away.gathered >= BATCH_BYTES {
                    away.full = Some(mem::take(&mut away.gathering));
                    away.gathered = 0;
                }
            }
            Place::Nowhere | Place::Done => {}
        }
    }

    /// Moves the hashing to a spare core, if the offload has one now; asked
    /// once per body.
    fn hand_over(&mut self) {
        self.arrival = Some(self.offload.arrive());
        let (to, mut from) = mpsc::channel::<Vec<Bytes>>(WAITING_BATCHES);
        let (give, take) = oneshot::channel::<Hashers>();
        let (answer_with, answer) = oneshot::channel();
        let job = Box::new(move || {
            let Ok(mut hashers) = futures::executor::block_on(take) else {
                return;
            };
            while let Some(batch) = futures::executor::block_on(from.next()) {
                for bytes in &batch {
                    hashers.update(bytes);
                }
            }
            let _ = answer_with.send(hashers.finish());
        });
        if self.offload.offer(job).is_err() {
            return;
        }
        let away = Away {
            gathering: Vec::new(),
            gathered: 0,
            full: None,
            to,
            answer,
        };
        if let Place::Here(hashers) = mem::replace(&mut self.place, Place::Away(away)) {
            // The job waits on `take` until this; it cannot have gone.
            let _ = give.send(hashers);
        }
    }

    /// Ready when the next bytes may be fed: the hashing thread has room for
    /// the batch gathered last.
    pub(super) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BodyError>> {
        match &mut self.place {
            Place::Away(away) => away.poll_send(cx),
            _ => Poll::Ready(Ok(())),
        }
    }

    /// The hashes of every byte fed, once the hashing thread has them all;
    /// none when nothing was hashed.
    pub(super) fn poll_finish(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Hashes>, BodyError>> {
        if let Place::Away(away) = &mut self.place {
            if away.full.is_none() && !away.gathering.is_empty() {
                away.full = Some(mem::take(&mut away.gathering));
            }
            if let Err(e) = std::task::ready!(away.poll_send(cx)) {
                return Poll::Ready(Err(e));
            }
            away.to.close_channel();
            return match std::task::ready!(away.answer.poll_unpin(cx)) {
                Ok(hashes) => {
                    self.place = Place::Done;
                    self.arrival = None;
                    Poll::Ready(Ok(Some(hashes)))
                }
                Err(_) => Poll::Ready(Err(stopped())),
            };
        }
        self.arrival = None;
        match mem::replace(&mut self.place, Place::Done) {
            Place::Here(hashers) => Poll::Ready(Ok(Some(hashers.finish()))),
            Place::Nowhere => Poll::Ready(Ok(None)),
            Place::Away(_) | Place::Done => Poll::Ready(Err(stopped())),
        }
    }
}

/// The hashing thread went away before its answer: the service's failure.
fn stopped() -> BodyError {
    BodyError::Unavailable("the upload's hashing stopped".into())
}
