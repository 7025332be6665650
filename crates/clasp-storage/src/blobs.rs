//! The blob port over `object_store`.

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use clasp_domain::error::with_causes;
use clasp_domain::ports::{BlobError, BlobReader, BlobStore, BlobStream, PutBody};
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    GetOptions, GetRange, GetResult, GetResultPayload, ObjectStore, ObjectStoreExt, PutPayload,
};

use crate::file_stream::{cached_open, file_stream};
use crate::parts::{PartSizer, PartWriter};
use crate::{S3Settings, StorageError};

/// A prefix no object key starts with (keys start with a tenant id), listed by
/// the readiness check.
const READINESS_PREFIX: &str = "clasp-readiness-probe";

/// Default part size: the smallest that every S3-compatible store accepts.
const DEFAULT_PART_BYTES: usize = 5 * 1024 * 1024;

/// Largest part for stores on this machine (directory, memory), which take
/// parts of any size: smaller parts keep less of each upload in memory.
const LOCAL_PART_BYTES: usize = 1024 * 1024;

/// Smallest part of a local directory's uploads, when many run at once.
const LOCAL_PART_MIN_BYTES: usize = 128 * 1024;

/// What one part of every upload in flight to a local directory adds up to,
/// shared out between them (see [`PartSizer::shared`]): one or two uploads
/// get [`LOCAL_PART_BYTES`], three or four 512 KiB, up to eight 256 KiB, more
/// [`LOCAL_PART_MIN_BYTES`]. An upload holds up to three parts.
const LOCAL_PARTS_BUDGET: usize = 2 * LOCAL_PART_BYTES;

/// A [`BlobStore`] on any `object_store` backend.
#[derive(Debug, Clone)]
pub struct ObjectBlobStore {
    store: Arc<dyn ObjectStore>,
    parts: PartSizer,
    /// The same store when it is a local directory: its files are opened
    /// directly when the kernel has their paths at hand, and `delete` removes
    /// the parts they had staged too.
    local: Option<Arc<LocalFileSystem>>,
}

impl ObjectBlobStore {
    /// Wraps an already configured store (tests, embedding services).
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            parts: PartSizer::fixed(DEFAULT_PART_BYTES),
            local: None,
        }
    }

    /// Sets the multipart part size, which is also the largest body sent as a
    /// single put. An upload holds at most three parts: one being written, one
    /// queued behind it, one filling.
    pub fn with_part_bytes(mut self, part_bytes: usize) -> Self {
        self.parts = PartSizer::fixed(part_bytes);
        self
    }

    /// A store for `storage_url`: `file://PATH` (relative paths allowed; the
    /// directory is created), `memory://`, or `s3://BUCKET` with the endpoint,
    /// region and keys taken from the standard `AWS_*` variables (see
    /// [`S3Settings::with_env_fallback`]; use [`ObjectBlobStore::s3`] to pass them).
    pub fn from_url(url: &str) -> Result<Self, StorageError> {
        Self::from_url_with(url, true)
    }

    /// The same, a local directory syncing each object to disk only if `fsync`
    /// (see [`ObjectBlobStore::local_with`]).
    pub fn from_url_with(url: &str, fsync: bool) -> Result<Self, StorageError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| StorageError::NotAUrl(url.to_owned()))?;
        match scheme.to_ascii_lowercase().as_str() {
            "file" => Self::local_with(rest, fsync),
            "memory" => Ok(Self::new(Arc::new(InMemory::new())).with_part_bytes(LOCAL_PART_BYTES)),
            "s3" => Self::s3(&S3Settings::from_url(url)?.with_env_fallback()),
            other => Err(StorageError::UnsupportedScheme {
                scheme: other.to_owned(),
                url: url.to_owned(),
            }),
        }
    }

    /// A store keeping objects as files under `dir`, which is created if
    /// missing; each object and its directory are synced to disk before a put
    /// returns.
    pub fn local(dir: &str) -> Result<Self, StorageError> {
        Self::local_with(dir, true)
    }

    /// The same, syncing only if `fsync`: without, an object survives a crash
    /// of the process (it is renamed into place whole) but not a power cut,
    /// and a put costs less (docs/performance.md).
    pub fn local_with(dir: &str, fsync: bool) -> Result<Self, StorageError> {
        let failed = |source| StorageError::Directory {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(failed)?;
        let absolute = std::fs::canonicalize(dir).map_err(failed)?;
        let store = Arc::new(
            LocalFileSystem::new_with_prefix(&absolute)?
                .with_automatic_cleanup(true)
                .with_fsync(fsync),
        );
        Ok(Self {
            local: Some(store.clone()),
            parts: PartSizer::shared(LOCAL_PARTS_BUDGET, LOCAL_PART_MIN_BYTES, LOCAL_PART_BYTES),
            ..Self::new(store)
        })
    }

    /// A store in an S3-compatible bucket, so several instances can share the
    /// bytes. Bodies up to 5 MiB (the smallest part S3 accepts) go in one put;
    /// larger ones as a multipart upload that is aborted if the body breaks.
    /// Requests give up within seconds when the endpoint is unreachable.
    /// Nothing is contacted here: a wrong endpoint or bucket shows on first use.
    pub fn s3(settings: &S3Settings) -> Result<Self, StorageError> {
        Ok(Self::new(Arc::new(settings.build()?)))
    }

    /// The bytes `range` (or all) of a local store's object, opened on the
    /// calling thread if the kernel holds its path in its lookup cache
    /// ([`cached_open`]): a download of a file read lately then never waits
    /// for the blocking pool, whose two thread wake-ups cost 1 MiB downloads
    /// several per cent (docs/performance.md, "eleventh session"). `None`
    /// whenever object_store's own way might answer differently (not cached,
    /// not a file, a range it would clip or refuse), which the caller then takes.
    fn open_cached(&self, location: &Path, range: Option<Range<u64>>) -> Option<BlobReader> {
        let path = self.local.as_ref()?.path_to_filesystem(location).ok()?;
        let file = cached_open(&path)?;
        let len = file.metadata().ok().filter(|m| m.is_file())?.len();
        let range = match range {
            None => 0..len,
            Some(r) if r.start < r.end && r.end <= len => r,
            Some(_) => return None,
        };
        Some(BlobReader {
            size: range.end - range.start,
            stream: file_stream(file, path, range),
        })
    }
}

/// Staged parts of one key a delete looks for.
const STAGED_PROBES: u32 = 16;

/// Removes the files `FILE#1` … `FILE#16` beside `file`: the parts of local
/// uploads to it that never completed. object_store stages an upload as
/// `FILE#N`, with N the first free number from 1, and renames it on success,
/// so the leftovers of crashed uploads have small numbers: a key is written
/// once or a few times. They are removed by name, so a delete costs the same
/// however many files the tenant's directory holds (it used to list it).
async fn remove_staged_parts(file: &std::path::Path) -> std::io::Result<()> {
    for n in 1..=STAGED_PROBES {
        let mut staged = file.as_os_str().to_owned();
        staged.push(format!("#{n}"));
        match tokio::fs::remove_file(&staged).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn path(key: &str) -> Result<Path, BlobError> {
    Path::parse(key).map_err(|e| BlobError::Backend(format!("bad object key {key:?}: {e}")))
}

/// The bytes of a get. A local file is read in large chunks (see
/// [`file_stream`]) rather than through `GetResult::into_stream`, whose 8 KiB
/// reads, each a trip to the blocking pool, made local downloads 10–50 times
/// slower than nginx (docs/performance.md).
fn stream(result: GetResult) -> BlobStream {
    match result.payload {
        GetResultPayload::File(file, path) => file_stream(file, path, result.range),
        GetResultPayload::Stream(stream) => stream.map_err(backend).boxed(),
    }
}

fn backend(e: object_store::Error) -> BlobError {
    match e {
        object_store::Error::NotFound { .. } => BlobError::NotFound,
        other => BlobError::Backend(with_causes(&other)),
    }
}

#[async_trait]
impl BlobStore for ObjectBlobStore {
    async fn put(&self, key: &str, body: PutBody<'_>) -> Result<u64, BlobError> {
        let location = path(key)?;
        let mut parts = self.parts.begin();
        let mut writer = None;
        let mut total = 0u64;
        let failure = 'body: loop {
            let chunk = match body.next().await {
                None => break None,
                Some(Err(e)) => break Some(BlobError::Body(e)),
                Some(Ok(chunk)) => chunk,
            };
            total += chunk.len() as u64;
            let mut rest = &chunk[..];
            while !rest.is_empty() {
                let (later, full) = parts.fill(rest);
                rest = later;
                let Some(full) = full else { continue };
                let writer = match &mut writer {
                    Some(writer) => writer,
                    None => match self.store.put_multipart(&location).await {
                        Ok(upload) => writer.insert(PartWriter::new(upload)),
                        Err(e) => break 'body Some(backend(e)),
                    },
                };
                if let Err(e) = writer.send(full).await {
                    break 'body Some(backend(e));
                }
            }
        };
        match (failure, writer) {
            // Small bodies (most screenshots) go in one request.
            (None, None) => {
                let body = PutPayload::from(parts.finish());
                self.store.put(&location, body).await.map_err(backend)?;
            }
            (None, Some(writer)) => writer.finish(parts.finish()).await.map_err(backend)?,
            (Some(failure), writer) => {
                // Nothing of a broken body may stay behind: drop the parts sent so far.
                if let Some(writer) = writer
                    && let Err(e) = writer.abort().await
                {
                    tracing::warn!(key, error = %e, "aborting a failed multipart upload failed");
                }
                return Err(failure);
            }
        }
        Ok(total)
    }

    async fn get(&self, key: &str) -> Result<BlobReader, BlobError> {
        let location = path(key)?;
        if let Some(opened) = self.open_cached(&location, None) {
            return Ok(opened);
        }
        let result = self.store.get(&location).await.map_err(backend)?;
        let size = result.meta.size;
        Ok(BlobReader {
            size,
            stream: stream(result),
        })
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<BlobReader, BlobError> {
        let location = path(key)?;
        if let Some(opened) = self.open_cached(&location, Some(range.clone())) {
            return Ok(opened);
        }
        let size = range.end.saturating_sub(range.start);
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..GetOptions::default()
        };
        let result = self
            .store
            .get_opts(&location, options)
            .await
            .map_err(backend)?;
        Ok(BlobReader {
            size,
            stream: stream(result),
        })
    }

    async fn head(&self, key: &str) -> Result<Option<u64>, BlobError> {
        match self.store.head(&path(key)?).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(backend(e)),
        }
    }

    /// On a local store, the parts an upload had staged (`KEY#N` files, which
    /// object_store renames into place only when the upload completes) go too:
    /// a process killed mid-upload leaves them, and nothing else would find them.
    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let location = path(key)?;
        match self.store.delete(&location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(backend(e)),
        }
        let Some(local) = &self.local else {
            return Ok(());
        };
        let file = local.path_to_filesystem(&location).map_err(backend)?;
        remove_staged_parts(&file)
            .await
            .map_err(|e| BlobError::Backend(format!("removing staged parts of {key}: {e}")))
    }

    /// S3 answers its `ETag` (quoted); a local directory, one made of the file's
    /// inode, modification time and size; memory, a counter. A backend that
    /// keeps none gets one from size and modification time, so a replaced
    /// object still shows a new tag.
    async fn etag(&self, key: &str) -> Result<Option<String>, BlobError> {
        match self.store.head(&path(key)?).await {
            Ok(meta) => Ok(Some(meta.e_tag.unwrap_or_else(|| {
                format!(
                    "{}-{:x}",
                    meta.last_modified.timestamp_nanos_opt().unwrap_or_default(),
                    meta.size
                )
            }))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(backend(e)),
        }
    }

    /// Lists a prefix nothing is stored under: a round trip that needs the
    /// endpoint, the credentials and the bucket, and writes nothing.
    async fn check_ready(&self) -> Result<(), BlobError> {
        self.store
            .list_with_delimiter(Some(&Path::from(READINESS_PREFIX)))
            .await
            .map(drop)
            .map_err(backend)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is how a test fails")]

    use bytes::Bytes;

    use super::*;

    async fn read(reader: BlobReader) -> Vec<u8> {
        let chunks: Vec<Bytes> = reader.stream.try_collect().await.unwrap();
        chunks.concat()
    }

    /// An object written lately is opened on the calling thread, whole or any
    /// range within it; what object_store answers its own way (a range it
    /// would clip or refuse, a missing object, a store that is no directory)
    /// is left to it.
    #[tokio::test]
    async fn a_local_object_written_lately_opens_on_the_calling_thread() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectBlobStore::local_with(dir.path().to_str().unwrap(), false).unwrap();
        let mut body = futures::stream::iter(vec![Ok(Bytes::from_static(b"0123456789"))]);
        store.put("t/a", &mut body).await.unwrap();
        let at = path("t/a").unwrap();
        let whole = store.open_cached(&at, None).expect("opened at once");
        assert_eq!(whole.size, 10);
        assert_eq!(read(whole).await, b"0123456789");
        let part = store.open_cached(&at, Some(2..5)).expect("opened at once");
        assert_eq!(part.size, 3);
        assert_eq!(read(part).await, b"234");
        let reversed = Range { start: 6, end: 5 };
        for theirs in [5..5, reversed, 5..11, 10..11] {
            assert!(
                store.open_cached(&at, Some(theirs.clone())).is_none(),
                "{theirs:?}"
            );
        }
        assert!(store.open_cached(&path("t/b").unwrap(), None).is_none());
        let memory = ObjectBlobStore::from_url("memory://").unwrap();
        let mut body = futures::stream::iter(vec![Ok(Bytes::from_static(b"0123456789"))]);
        memory.put("t/a", &mut body).await.unwrap();
        assert!(memory.open_cached(&at, None).is_none());
    }
}
