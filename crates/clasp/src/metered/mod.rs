//! The blob store, the virus scanner and the metadata stores, timed: each call
//! is recorded in the process's metrics (docs/operations.md, "Metrics"), runs
//! in a span of its own (a trace's child of its request's span), and is passed
//! on unchanged.

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use clasp_domain::ports::{BlobError, BlobReader, BlobStore, PutBody, ScanError, Scanner, Verdict};
use clasp_http::ops::Metrics;
use tracing::Instrument;

/// Implements `$port` for the decorator `$ty` by timing each listed method
/// with the decorator's own `timed`, in a span named `$span` and the method:
/// one macro, so that forty methods of three ports are not forty copies of the
/// same six lines.
macro_rules! timed_port {
    ($ty:ty, $port:path, $span:literal {
        $(fn $name:ident(&self $(, $arg:ident: $argty:ty)*) -> $ret:ty;)*
    }) => {
        #[async_trait::async_trait]
        impl $port for $ty {
            $(
                async fn $name(&self $(, $arg: $argty)*) -> $ret {
                    let began = std::time::Instant::now();
                    let result = tracing::Instrument::instrument(
                        self.inner.$name($($arg),*),
                        tracing::info_span!($span, otel.name = concat!($span, " ", stringify!($name))),
                    )
                    .await;
                    self.timed(stringify!($name), began, result)
                }
            )*
        }
    };
}

mod database;

pub use database::MeteredMetadata;

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

timed_port!(MeteredBlobs, BlobStore, "store" {
    fn put(&self, key: &str, body: PutBody<'_>) -> Result<u64, BlobError>;
    fn get(&self, key: &str) -> Result<BlobReader, BlobError>;
    fn get_range(&self, key: &str, range: Range<u64>) -> Result<BlobReader, BlobError>;
    fn head(&self, key: &str) -> Result<Option<u64>, BlobError>;
    fn delete(&self, key: &str) -> Result<(), BlobError>;
    fn etag(&self, key: &str) -> Result<Option<String>, BlobError>;
    fn check_ready(&self) -> Result<(), BlobError>;
});

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
