//! Streaming a local file to a download: opened on the serving thread when
//! the kernel's lookup cache holds its path, and what the page cache holds
//! read there too; the rest on the blocking pool, each chunk into the buffer
//! of the chunk before.

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use clasp_domain::ports::{BlobError, BlobStream};
use futures::StreamExt;

/// Bytes read at a time. Each chunk is one read and one write to the socket,
/// and actix-http copies it into its connection's write buffer first. With
/// reads that seldom leave the serving thread (below), 256 KiB made 1 MiB
/// downloads fastest: 120, 192, 384, 512 KiB and 1 MiB were each measured
/// against it (docs/performance.md, "eighth session"). A download in flight
/// holds its chunk's buffer and actix's copy of it.
const CHUNK_BYTES: usize = 256 * 1024;

/// How a chunk is read without waiting for the disk: [`cached_read`], or in
/// tests a reader that never can, to take the blocking pool's way.
type CachedRead = fn(&File, &mut [u8], u64) -> Option<std::io::Result<usize>>;

/// A download being read.
struct Reading {
    cached: CachedRead,
    file: Arc<File>,
    path: PathBuf,
    /// Where the next chunk starts, and where the range ends.
    at: u64,
    end: u64,
    /// The chunk handed out last. actix copies a chunk into its write buffer
    /// and drops it before it asks for the next, so by then this is the only
    /// handle on its buffer, which the next chunk is read into: a download
    /// fills one buffer over and over instead of allocating one per chunk.
    last: Option<Bytes>,
}

/// The bytes `range` of `file` (at `path`, named in errors). A file shorter
/// than `range` is an error, never a silently short body.
pub(crate) fn file_stream(file: File, path: PathBuf, range: Range<u64>) -> BlobStream {
    stream_with(cached_read, file, path, range)
}

fn stream_with(cached: CachedRead, file: File, path: PathBuf, range: Range<u64>) -> BlobStream {
    let reading = Reading {
        cached,
        file: Arc::new(file),
        path,
        at: range.start,
        end: range.end,
        last: None,
    };
    futures::stream::try_unfold(reading, |mut reading| async move {
        if reading.at >= reading.end {
            return Ok(None);
        }
        let chunk = reading.next_chunk().await?;
        Ok(Some((chunk, reading)))
    })
    .boxed()
}

impl Reading {
    async fn next_chunk(&mut self) -> Result<Bytes, BlobError> {
        let left = self.end - self.at;
        let wanted = usize::try_from(left).map_or(CHUNK_BYTES, |n| n.min(CHUNK_BYTES));
        let mut buffer = self.buffer(wanted);
        let read = match (self.cached)(&self.file, &mut buffer, self.at) {
            Some(read) => read,
            None => {
                // Not all in the page cache: the disk may take milliseconds,
                // so the read waits on the blocking pool, not on this thread.
                let file = self.file.clone();
                let at = self.at;
                let (back, read) = tokio::task::spawn_blocking(move || {
                    let read = file.read_at(&mut buffer, at);
                    (buffer, read)
                })
                .await
                .map_err(|e| self.failed(e))?;
                buffer = back;
                read
            }
        }
        .map_err(|e| self.failed(e))?;
        if read == 0 {
            return Err(BlobError::Backend(format!(
                "{} ended {left} bytes early",
                self.path.display()
            )));
        }
        buffer.truncate(read);
        self.at += read as u64;
        let chunk = buffer.freeze();
        self.last = Some(chunk.clone());
        Ok(chunk)
    }

    fn failed(&self, e: impl std::fmt::Display) -> BlobError {
        BlobError::Backend(format!("reading {}: {e}", self.path.display()))
    }

    /// A buffer of `len` bytes for the next chunk: the last chunk's, if
    /// nothing else holds it any more.
    fn buffer(&mut self, len: usize) -> BytesMut {
        match self.last.take().map(Bytes::try_into_mut) {
            Some(Ok(mut reused)) => {
                reused.resize(len, 0);
                reused
            }
            _ => {
                // Not `BytesMut::zeroed`: jemalloc zeroes a large block it
                // reuses by handing its pages back to the kernel, and each
                // page then faults in again, about 130 faults a download.
                let mut fresh = BytesMut::with_capacity(len);
                fresh.resize(len, 0);
                fresh
            }
        }
    }
}

/// Reads into `buffer` at `at` what the page cache holds, without waiting for
/// the disk (`preadv2` with `RWF_NOWAIT`): how many bytes, or `None` when
/// none are cached or the file system cannot say.
#[cfg(target_os = "linux")]
fn cached_read(file: &File, buffer: &mut [u8], at: u64) -> Option<std::io::Result<usize>> {
    use rustix::io::{Errno, ReadWriteFlags, preadv2};
    let mut slices = [std::io::IoSliceMut::new(buffer)];
    match preadv2(file, &mut slices, at, ReadWriteFlags::NOWAIT) {
        Ok(read) => Some(Ok(read)),
        Err(Errno::AGAIN | Errno::OPNOTSUPP | Errno::NOSYS | Errno::INVAL) => None,
        Err(e) => Some(Err(e.into())),
    }
}

/// Elsewhere every read goes to the blocking pool.
#[cfg(not(target_os = "linux"))]
fn cached_read(_: &File, _: &mut [u8], _: u64) -> Option<std::io::Result<usize>> {
    None
}

/// Opens `path` for reading if the kernel can without touching the disk
/// (`openat2` with `RESOLVE_CACHED`: every component of the path is in its
/// lookup cache), so a download of a file read lately skips a trip to the
/// blocking pool for its open, as its reads do. `None` when it cannot say, or
/// for any failure: the caller then opens the usual way, on the blocking
/// pool, where a missing file gets its usual error.
#[cfg(target_os = "linux")]
pub(crate) fn cached_open(path: &std::path::Path) -> Option<File> {
    use rustix::fs::{CWD, Mode, OFlags, ResolveFlags, openat2};
    let flags = OFlags::RDONLY | OFlags::CLOEXEC;
    openat2(CWD, path, flags, Mode::empty(), ResolveFlags::CACHED)
        .ok()
        .map(File::from)
}

/// Elsewhere every open goes to the blocking pool.
#[cfg(not(target_os = "linux"))]
pub(crate) fn cached_open(_: &std::path::Path) -> Option<File> {
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is how a test fails")]

    use std::io::Write;

    use futures::TryStreamExt;

    use super::*;

    fn never_cached(_: &File, _: &mut [u8], _: u64) -> Option<std::io::Result<usize>> {
        None
    }

    /// Every range of a file a few chunks long, read both ways: from the
    /// page cache on the calling thread, and through the blocking pool.
    #[tokio::test]
    async fn ranges_read_alike_from_the_cache_and_the_blocking_pool() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let data: Vec<u8> = (0..CHUNK_BYTES * 3 + 17).map(|i| (i % 251) as u8).collect();
        file.write_all(&data).unwrap();
        let len = data.len() as u64;
        let chunk = CHUNK_BYTES as u64;
        for range in [0..len, 1..len - 1, chunk..2 * chunk, 5..6, len..len] {
            for cached in [cached_read as CachedRead, never_cached] {
                let opened = File::open(file.path()).unwrap();
                let chunks: Vec<Bytes> =
                    stream_with(cached, opened, file.path().into(), range.clone())
                        .try_collect()
                        .await
                        .unwrap();
                assert!(chunks.iter().all(|c| c.len() <= CHUNK_BYTES));
                let read: Vec<u8> = chunks.concat();
                let (start, end) = (range.start as usize, range.end as usize);
                assert_eq!(read, data[start..end], "{range:?}");
            }
        }
    }

    /// A file cut short while it is read is an error, not a short body.
    #[tokio::test]
    async fn a_file_shorter_than_its_range_is_an_error_both_ways() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&[7; 1000]).unwrap();
        for cached in [cached_read as CachedRead, never_cached] {
            let opened = File::open(file.path()).unwrap();
            let read: Result<Vec<Bytes>, _> =
                stream_with(cached, opened, file.path().into(), 0..2000)
                    .try_collect()
                    .await;
            assert!(
                matches!(&read, Err(BlobError::Backend(m)) if m.contains("early")),
                "{read:?}"
            );
        }
    }

    /// A file whose path the kernel has just looked up opens on the calling
    /// thread and reads back what it holds; a path that is not there is left
    /// to the usual open, which reports it.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_path_looked_up_lately_opens_without_the_blocking_pool() {
        use std::io::Read;
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"%PDF-1.4 cached").unwrap();
        std::fs::metadata(file.path()).unwrap();
        let mut opened = cached_open(file.path()).expect("a cached path opens");
        let mut read = String::new();
        opened.read_to_string(&mut read).unwrap();
        assert_eq!(read, "%PDF-1.4 cached");
        assert!(cached_open(&file.path().with_extension("missing")).is_none());
    }
}
