//! Objects in a map.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;

use crate::ports::{BlobError, BlobReader, BlobStore, PutBody};

use super::lock;

/// Objects in a map. An object appears only once its whole body has arrived.
/// Each put gives the object a new version, which is its entity tag.
#[derive(Default)]
pub struct MemoryBlobs {
    objects: Mutex<HashMap<String, (Bytes, u64)>>,
    versions: AtomicI64,
}

impl MemoryBlobs {
    /// How many objects are stored (tests check that refused uploads leave none).
    pub fn len(&self) -> usize {
        lock(&self.objects).len()
    }

    /// Whether no object is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores `bytes` under `key` at once, as a client uploading straight to an
    /// object store would (tests of direct uploads use it).
    pub fn insert(&self, key: &str, bytes: &[u8]) {
        let version = self.versions.fetch_add(1, Ordering::Relaxed).unsigned_abs() + 1;
        lock(&self.objects).insert(key.to_owned(), (Bytes::copy_from_slice(bytes), version));
    }

    /// Whether an object is stored under `key`.
    pub fn contains(&self, key: &str) -> bool {
        lock(&self.objects).contains_key(key)
    }
}

/// `bytes` as a reader yielding 64 KiB chunks, as a real store would.
fn reader(bytes: Bytes) -> BlobReader {
    let size = bytes.len() as u64;
    let chunks: Vec<Result<Bytes, BlobError>> = (0..bytes.len())
        .step_by(64 * 1024)
        .map(|at| Ok(bytes.slice(at..bytes.len().min(at + 64 * 1024))))
        .collect();
    BlobReader {
        size,
        stream: Box::pin(futures::stream::iter(chunks)),
    }
}

#[async_trait]
impl BlobStore for MemoryBlobs {
    async fn put(&self, key: &str, body: PutBody<'_>) -> Result<u64, BlobError> {
        let mut buf = Vec::new();
        while let Some(chunk) = body.next().await {
            buf.extend_from_slice(&chunk?);
        }
        let size = buf.len() as u64;
        let version = self.versions.fetch_add(1, Ordering::Relaxed).unsigned_abs() + 1;
        lock(&self.objects).insert(key.to_owned(), (Bytes::from(buf), version));
        Ok(size)
    }

    async fn get(&self, key: &str) -> Result<BlobReader, BlobError> {
        let (bytes, _) = lock(&self.objects)
            .get(key)
            .cloned()
            .ok_or(BlobError::NotFound)?;
        Ok(reader(bytes))
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<BlobReader, BlobError> {
        let (bytes, _) = lock(&self.objects)
            .get(key)
            .cloned()
            .ok_or(BlobError::NotFound)?;
        let end = usize::try_from(range.end)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let start = usize::try_from(range.start).unwrap_or(usize::MAX).min(end);
        Ok(reader(bytes.slice(start..end)))
    }

    async fn head(&self, key: &str) -> Result<Option<u64>, BlobError> {
        Ok(lock(&self.objects).get(key).map(|(b, _)| b.len() as u64))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        lock(&self.objects).remove(key);
        Ok(())
    }

    async fn etag(&self, key: &str) -> Result<Option<String>, BlobError> {
        Ok(lock(&self.objects)
            .get(key)
            .map(|(_, version)| format!("\"v{version}\"")))
    }

    async fn check_ready(&self) -> Result<(), BlobError> {
        Ok(())
    }
}
