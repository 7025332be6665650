//! An upload's parts: how large each is, given how many uploads share the
//! memory, the buffer that fills them, and the writer that sends them.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use object_store::MultipartUpload;
use tokio::task::JoinHandle;

/// Picks the size of each part of the uploads to a store. A store that needs
/// fixed parts (S3 takes no part under 5 MiB) gets [`PartSizer::fixed`]. A
/// store on this machine takes parts of any size, and there the size trades
/// speed for memory: with one upload in flight, small parts slow it down (the
/// worker waits more often for the thread writing the part before), while
/// with many in flight the cores are busy anyway and small parts cost nothing
/// (docs/performance.md, "Memory"). So [`PartSizer::shared`] splits a budget
/// between the uploads in flight, part by part: large parts while few run,
/// small ones while many do, and memory bounded by the budget rather than
/// growing with every upload.
#[derive(Debug, Clone)]
pub(crate) struct PartSizer {
    largest: usize,
    smallest: usize,
    budget: usize,
    in_flight: Arc<AtomicUsize>,
}

impl PartSizer {
    /// Every part is `part_bytes` (at least one byte).
    pub(crate) fn fixed(part_bytes: usize) -> Self {
        let part_bytes = part_bytes.max(1);
        Self::shared(part_bytes, part_bytes, part_bytes)
    }

    /// Parts of `budget` divided by the uploads in flight, within
    /// `smallest..=largest`.
    pub(crate) fn shared(budget: usize, smallest: usize, largest: usize) -> Self {
        let smallest = smallest.max(1);
        Self {
            largest: largest.max(smallest),
            smallest,
            budget,
            in_flight: Arc::default(),
        }
    }

    /// Counts a new upload in, until the buffer answered is dropped.
    pub(crate) fn begin(&self) -> PartBuffer {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        PartBuffer {
            sizer: self.clone(),
            size: 0,
            filling: Vec::new(),
        }
    }

    /// The size of a part begun now: the share, rounded down to a power of
    /// two so that parts come in few sizes and the allocator reuses the
    /// memory of one for the next.
    fn part_bytes(&self) -> usize {
        let uploads = self.in_flight.load(Ordering::Relaxed).max(1);
        let share = (self.budget / uploads).max(1);
        let rounded = 1 << share.ilog2();
        rounded.clamp(self.smallest, self.largest)
    }
}

/// What a part's buffer starts at: a small file fits, and a large part grows
/// to its size in one step once it passes this.
const FIRST_ALLOCATION: usize = 64 * 1024;

/// Fills an upload's parts by copying its chunks in, rather than keeping the
/// chunks themselves. The multipart parser hands out slices of its own
/// buffers, and a slice kept alive keeps its whole buffer: while parts held
/// the chunks, each upload pinned about 1.3 MiB of the parser's buffers
/// whatever the part size (heaptrack, docs/performance.md). Copied, a chunk is
/// dropped as soon as it is read and the parser reuses its buffer; the copy
/// costs far less than the SHA-256 every byte goes through anyway.
#[derive(Debug)]
pub(crate) struct PartBuffer {
    sizer: PartSizer,
    /// The size of the part being filled, decided when its first byte came.
    size: usize,
    filling: Vec<u8>,
}

impl Drop for PartBuffer {
    fn drop(&mut self) {
        self.sizer.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl PartBuffer {
    /// Copies as much of `chunk` as the part being filled takes. Answers the
    /// rest of `chunk`, not copied yet, and the part if it is now full.
    pub(crate) fn fill<'a>(&mut self, chunk: &'a [u8]) -> (&'a [u8], Option<Bytes>) {
        if chunk.is_empty() {
            return (chunk, None);
        }
        if self.filling.capacity() == 0 {
            self.size = self.sizer.part_bytes();
            // A small first allocation, since most uploads are small files.
            self.filling.reserve_exact(self.size.min(FIRST_ALLOCATION));
        }
        let room = self.size - self.filling.len();
        let (now, later) = chunk.split_at(room.min(chunk.len()));
        if self.filling.capacity() - self.filling.len() < now.len() {
            // Then the whole part at once: one reallocation per large part.
            self.filling.reserve_exact(self.size - self.filling.len());
        }
        self.filling.extend_from_slice(now);
        let full = (self.filling.len() == self.size)
            .then(|| Bytes::from(std::mem::take(&mut self.filling)));
        (later, full)
    }

    /// The last part: what was copied in since the last full one (empty if
    /// nothing was).
    pub(crate) fn finish(mut self) -> Bytes {
        Bytes::from(std::mem::take(&mut self.filling))
    }
}

/// Sends an upload's parts to the store, one written while the next fills:
/// a full part starts at once, queued behind the one being written (so the
/// writing thread goes on to it without waiting for this task to wake up),
/// and the filling waits until that one is written. An upload holds at most
/// three parts: one being written, one queued, one filling.
pub(crate) struct PartWriter {
    upload: Box<dyn MultipartUpload>,
    writing: VecDeque<JoinHandle<object_store::Result<()>>>,
}

impl PartWriter {
    pub(crate) fn new(upload: Box<dyn MultipartUpload>) -> Self {
        Self {
            upload,
            writing: VecDeque::with_capacity(2),
        }
    }

    /// Starts writing `part` (a task of its own, so a store whose parts are
    /// requests sends it while the next part fills), then waits until at
    /// most that part is still being written.
    pub(crate) async fn send(&mut self, part: Bytes) -> object_store::Result<()> {
        let writing = tokio::spawn(self.upload.put_part(part.into()));
        self.writing.push_back(writing);
        self.written(1).await
    }

    /// Sends the `last` part, if it holds anything, and completes the upload.
    pub(crate) async fn finish(mut self, last: Bytes) -> object_store::Result<()> {
        if !last.is_empty() {
            self.send(last).await?;
        }
        self.written(0).await?;
        self.upload.complete().await.map(drop)
    }

    /// Drops what was sent: the store keeps nothing of this upload.
    pub(crate) async fn abort(mut self) -> object_store::Result<()> {
        // Their outcomes no longer matter; the abort removes what they wrote.
        drop(self.written(0).await);
        self.upload.abort().await
    }

    /// Waits until at most `left` parts are still being written.
    async fn written(&mut self, left: usize) -> object_store::Result<()> {
        while self.writing.len() > left {
            if let Some(writing) = self.writing.pop_front() {
                writing
                    .await
                    .map_err(|source| object_store::Error::JoinError { source })??;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: usize = 1024;

    /// The size of the next part `buffer` begins.
    fn next_part(buffer: &mut PartBuffer) -> usize {
        let mut filled = 0;
        let mut rest: &[u8] = &[0; 1];
        loop {
            let (later, full) = buffer.fill(rest);
            filled += rest.len() - later.len();
            if let Some(full) = full {
                assert_eq!(full.len(), filled);
                return filled;
            }
            rest = if later.is_empty() { &[0; 4096] } else { later };
        }
    }

    #[test]
    fn a_fixed_sizer_ignores_how_many_uploads_run() {
        let sizer = PartSizer::fixed(5 * KIB);
        let mut held: Vec<_> = (0..20).map(|_| sizer.begin()).collect();
        assert!(held.iter_mut().all(|b| next_part(b) == 5 * KIB));
        assert_eq!(next_part(&mut PartSizer::fixed(0).begin()), 1);
    }

    #[test]
    fn a_shared_budget_shrinks_parts_as_uploads_start_and_grows_them_as_they_end() {
        let sizer = PartSizer::shared(4096 * KIB, 256 * KIB, 1024 * KIB);
        let mut held: Vec<_> = (0..4).map(|_| sizer.begin()).collect();
        assert_eq!(next_part(&mut held[0]), 1024 * KIB);
        held.extend((0..4).map(|_| sizer.begin()));
        assert_eq!(
            next_part(&mut held[0]),
            512 * KIB,
            "an upload begun early gets smaller parts once more run"
        );
        held.extend((0..12).map(|_| sizer.begin()));
        assert_eq!(
            next_part(&mut held[7]),
            256 * KIB,
            "never below the smallest part"
        );
        held.truncate(1);
        assert_eq!(
            next_part(&mut held[0]),
            1024 * KIB,
            "ended uploads give their share back"
        );
    }

    #[test]
    fn a_part_buffer_cuts_chunks_at_part_boundaries_and_keeps_every_byte() {
        let mut parts = PartSizer::fixed(4).begin();
        let mut out = Vec::new();
        for chunk in [&b"ab"[..], b"cdefghij", b"", b"k"] {
            let mut rest = chunk;
            while !rest.is_empty() {
                let (later, full) = parts.fill(rest);
                out.extend(full);
                rest = later;
            }
        }
        out.push(parts.finish());
        assert_eq!(out, [&b"abcd"[..], b"efgh", b"ijk"]);
        assert!(PartSizer::fixed(8).begin().finish().is_empty());
    }
}
