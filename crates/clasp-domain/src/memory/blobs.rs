//! Objects in a map.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;

use crate::ports::{BlobError, BlobReader, BlobStore, PutBody};

use super::faults::{Fault, Faults, injected};
use super::lock;

/// Objects in a map. An object appears only once its whole body has arrived.
/// Each put gives the object a new version, which is its entity tag. Fails
/// where its [`Faults`] say.
#[derive(Default)]
pub struct MemoryBlobs {
    objects: Mutex<HashMap<String, (Bytes, u64)>>,
    versions: AtomicI64,
    faults: Arc<Faults>,
}

impl MemoryBlobs {
    /// An empty store failing where `faults` say.
    pub fn with_faults(faults: Arc<Faults>) -> Self {
        Self {
            faults,
            ..Self::default()
        }
    }

    /// How many objects are stored (tests check that refused uploads leave none).
    pub fn len(&self) -> usize {
        lock(&self.objects).len()
    }

    /// The keys stored, in order (tests check which objects an upload leaves).
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = lock(&self.objects).keys().cloned().collect();
        keys.sort_unstable();
        keys
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

impl MemoryBlobs {
    /// The object under `key`, for the read `what` ([`Fault::GetFails`] fails it).
    fn object(&self, what: &str, key: &str) -> Result<Bytes, BlobError> {
        if self.faults.fire(Fault::GetFails) {
            return Err(BlobError::Backend(injected(what)));
        }
        lock(&self.objects)
            .get(key)
            .map(|(bytes, _)| bytes.clone())
            .ok_or(BlobError::NotFound)
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
        if self.faults.fire(Fault::PutBeforeWrite) {
            return Err(BlobError::Backend(injected("put before write")));
        }
        if self.faults.fire(Fault::PutWaits) {
            self.faults.pass_puts().await;
        }
        let mut buf = Vec::new();
        while let Some(chunk) = body.next().await {
            buf.extend_from_slice(&chunk?);
        }
        let size = buf.len() as u64;
        let version = self.versions.fetch_add(1, Ordering::Relaxed).unsigned_abs() + 1;
        lock(&self.objects).insert(key.to_owned(), (Bytes::from(buf), version));
        if self.faults.fire(Fault::PutAfterWrite) {
            return Err(BlobError::Backend(injected("put after write")));
        }
        Ok(size)
    }

    async fn get(&self, key: &str) -> Result<BlobReader, BlobError> {
        let bytes = self.object("get", key)?;
        if !self.faults.fire(Fault::GetMidStream) {
            return Ok(reader(bytes));
        }
        let half = bytes.slice(..bytes.len().min(64 * 1024) / 2);
        let broken = Err(BlobError::Backend(injected("get mid-stream")));
        Ok(BlobReader {
            size: bytes.len() as u64,
            stream: Box::pin(futures::stream::iter([Ok(half), broken])),
        })
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<BlobReader, BlobError> {
        let bytes = self.object("get range", key)?;
        let end = usize::try_from(range.end)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let start = usize::try_from(range.start).unwrap_or(usize::MAX).min(end);
        Ok(reader(bytes.slice(start..end)))
    }

    async fn head(&self, key: &str) -> Result<Option<u64>, BlobError> {
        match self.object("head", key) {
            Ok(bytes) => Ok(Some(bytes.len() as u64)),
            Err(BlobError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        if self.faults.fire(Fault::BlobDeleteFails) {
            return Err(BlobError::Backend(injected("delete")));
        }
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
