//! The blob store, the virus scanner and the metadata stores, timed: each call
//! is recorded in the process's metrics (docs/operations.md, "Metrics"), runs
//! in a span of its own (a trace's child of its request's span), and is passed
//! on unchanged.

mod database;

pub use database::MeteredMetadata;

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use clasp_domain::ports::{BlobError, BlobReader, BlobStore, PutBody, ScanError, Scanner, Verdict};
use clasp_http::ops::Metrics;
use tracing::Instrument;

/// A blob store whose every operation is timed.
pub struct MeteredBlobs {
    inner: Arc<dyn BlobStore>,
    metrics: Metrics,
}

impl MeteredBlobs {
    /// Times every operation of `inner` into `metrics`.
    pub fn new(inner: Arc<dyn BlobStore>, metrics: Metrics) -> Self {
        Self { inner, metrics }
    }

    /// Records how `operation`, begun at `began`, ended; passes its result on.
    fn timed<T>(
        &self,
        operation: &'static str,
        began: Instant,
        result: Result<T, BlobError>,
    ) -> Result<T, BlobError> {
        // An absent object is an answer, not a failure of the store.
        let ok = matches!(result, Ok(_) | Err(BlobError::NotFound));
        self.metrics.observe_store(operation, ok, began.elapsed());
        result
    }
}

#[async_trait]
impl BlobStore for MeteredBlobs {
    async fn put(&self, key: &str, body: PutBody<'_>) -> Result<u64, BlobError> {
        let began = Instant::now();
        let result = self
            .inner
            .put(key, body)
            .instrument(tracing::info_span!("store", otel.name = "store put"))
            .await;
        self.timed("put", began, result)
    }

    async fn get(&self, key: &str) -> Result<BlobReader, BlobError> {
        let began = Instant::now();
        let result = self
            .inner
            .get(key)
            .instrument(tracing::info_span!("store", otel.name = "store get"))
            .await;
        self.timed("get", began, result)
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<BlobReader, BlobError> {
        let began = Instant::now();
        let result = self
            .inner
            .get_range(key, range)
            .instrument(tracing::info_span!("store", otel.name = "store get_range"))
            .await;
        self.timed("get_range", began, result)
    }

    async fn head(&self, key: &str) -> Result<Option<u64>, BlobError> {
        let began = Instant::now();
        let result = self
            .inner
            .head(key)
            .instrument(tracing::info_span!("store", otel.name = "store head"))
            .await;
        self.timed("head", began, result)
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let began = Instant::now();
        let result = self
            .inner
            .delete(key)
            .instrument(tracing::info_span!("store", otel.name = "store delete"))
            .await;
        self.timed("delete", began, result)
    }

    async fn etag(&self, key: &str) -> Result<Option<String>, BlobError> {
        let began = Instant::now();
        let result = self
            .inner
            .etag(key)
            .instrument(tracing::info_span!("store", otel.name = "store etag"))
            .await;
        self.timed("etag", began, result)
    }

    async fn check_ready(&self) -> Result<(), BlobError> {
        self.inner.check_ready().await
    }
}

/// A virus scanner whose every scan is counted by verdict and timed.
pub struct MeteredScanner {
    inner: Arc<dyn Scanner>,
    metrics: Metrics,
}

impl MeteredScanner {
    /// Times every scan of `inner` into `metrics`.
    pub fn new(inner: Arc<dyn Scanner>, metrics: Metrics) -> Self {
        Self { inner, metrics }
    }
}

#[async_trait]
impl Scanner for MeteredScanner {
    fn scans(&self) -> bool {
        self.inner.scans()
    }

    async fn scan(&self, file: BlobReader) -> Result<Verdict, ScanError> {
        let began = Instant::now();
        let result = self
            .inner
            .scan(file)
            .instrument(tracing::info_span!("scan", otel.name = "virus scan"))
            .await;
        let verdict = match &result {
            Ok(Verdict::Clean) => "clean",
            Ok(Verdict::Infected { .. }) => "infected",
            Err(_) => "failed",
        };
        self.metrics.observe_scan(verdict, began.elapsed());
        result
    }

    async fn check_ready(&self) -> Result<(), ScanError> {
        self.inner.check_ready().await
    }
}
