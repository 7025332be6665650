//! Request ids, one log line and Prometheus metrics per request, and byte
//! counts of streamed bodies in both directions. Every label comes from a
//! fixed set — the method (others are `other`), the route pattern that
//! matched, the dialect of that route — so no request can add a label value.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, web};
use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::work::WorkMetrics;
use crate::dialects::Dialect;

/// The header carrying a request's id, taken from the client or made here.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Labels of a request: which dialect and route answered, and how.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    dialect: &'static str,
    route: String,
    method: &'static str,
    status: u16,
}

/// Labels of byte counters: bytes are counted per dialect.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DialectLabels {
    dialect: &'static str,
}

/// The process's Prometheus metrics; cheap to clone (shared counters), so the
/// middleware, the sweeper and the `/metrics` route all hold the same ones.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram>,
    bytes_in: Family<DialectLabels, Counter>,
    bytes_out: Family<DialectLabels, Counter>,
    uploads_in_flight: Gauge,
    swept: Counter,
    sweeps_failed: Counter,
    sweep_backlog: Gauge,
    work: WorkMetrics,
    /// Run before each scrape, to read what is read rather than counted.
    before_scrape: Arc<std::sync::Mutex<Vec<ScrapeHook>>>,
}

/// A reading taken before each scrape (the pools' use).
type ScrapeHook = Box<dyn Fn(&Metrics) + Send + Sync>;

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry holding every metric Clasp exports.
    pub fn new() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RequestLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.0005, 2.0, 17))) as fn() -> Histogram,
        );
        let bytes_in = Family::<DialectLabels, Counter>::default();
        let bytes_out = Family::<DialectLabels, Counter>::default();
        let uploads_in_flight = Gauge::default();
        let swept = Counter::default();
        let sweeps_failed = Counter::default();
        let sweep_backlog = Gauge::default();
        let mut registry = Registry::with_prefix("clasp");
        registry.register(
            "http_requests",
            "Requests answered, by dialect, route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request (until the response head), by dialect, route, method and status",
            latency.clone(),
        );
        registry.register(
            "http_request_bytes",
            "Request body bytes received, by dialect",
            bytes_in.clone(),
        );
        registry.register(
            "http_response_bytes",
            "Response body bytes sent, by dialect",
            bytes_out.clone(),
        );
        registry.register(
            "uploads_in_flight",
            "Requests whose body is being received now",
            uploads_in_flight.clone(),
        );
        registry.register(
            "sweeper_deleted_uploads",
            "Abandoned direct uploads deleted by the sweeper or `clasp gc`",
            swept.clone(),
        );
        registry.register(
            "sweeper_failures",
            "Sweeps that failed (the next one retries)",
            sweeps_failed.clone(),
        );
        registry.register(
            "sweeper_backlog",
            "Uploads past their deadline that the last sweep left (at most 1000 counted): abandoned ones it could not remove yet",
            sweep_backlog.clone(),
        );
        let work = WorkMetrics::register(&mut registry);
        Metrics {
            registry: Arc::new(registry),
            requests,
            latency,
            bytes_in,
            bytes_out,
            uploads_in_flight,
            swept,
            sweeps_failed,
            sweep_backlog,
            work,
            before_scrape: Arc::default(),
        }
    }

    /// Runs `hook` before each scrape: for figures read at that moment (how
    /// full a pool is) rather than counted as they happen.
    pub fn before_scrape(&self, hook: impl Fn(&Metrics) + Send + Sync + 'static) {
        self.before_scrape
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(hook));
    }

    /// Sets how full the connection pool `pool` is.
    pub fn set_pool(
        &self,
        pool: &'static str,
        max: usize,
        open: usize,
        idle: usize,
        waiting: usize,
    ) {
        self.work.set_pool(
            pool,
            [
                ("max", max),
                ("open", open),
                ("idle", idle),
                ("waiting", waiting),
            ],
        );
    }

    /// Counts one change of the audit trail: `outcome` is `ok` or the
    /// refusal's code (both from fixed sets).
    pub fn count_change(&self, change: &'static str, outcome: &'static str) {
        self.work.count_change(change, outcome);
    }

    /// Counts one upload through `dialect` (see [`current_dialect`]) by
    /// outcome: `ok` or the refusal's code.
    pub fn count_upload(&self, dialect: &'static str, outcome: &'static str) {
        self.work.count_upload(dialect, outcome);
    }

    /// Records one virus scan: its verdict (`clean`, `infected` or `failed`)
    /// and how long it took.
    pub fn observe_scan(&self, verdict: &'static str, took: std::time::Duration) {
        self.work.observe_scan(verdict, took.as_secs_f64());
    }

    /// Records one call of a metadata store (`operation` is the port's
    /// method): whether the database answered and how long it took.
    pub fn observe_database(&self, operation: &'static str, ok: bool, took: std::time::Duration) {
        self.work
            .observe_database(operation, ok, took.as_secs_f64());
    }

    /// Records one blob store operation (`put`, `get`, `get_range`, `head`,
    /// `delete`, `etag`): whether it succeeded and how long it took.
    pub fn observe_store(&self, operation: &'static str, ok: bool, took: std::time::Duration) {
        self.work.observe_store(operation, ok, took.as_secs_f64());
    }

    /// Records one sweep of abandoned uploads: how many it deleted, or that it failed.
    pub fn record_sweep(&self, deleted: Option<usize>) {
        match deleted {
            Some(n) => {
                self.swept.inc_by(u64::try_from(n).unwrap_or(u64::MAX));
            }
            None => {
                self.sweeps_failed.inc();
            }
        }
    }

    /// Sets how many uploads past their deadline the last sweep left.
    pub fn set_sweep_backlog(&self, left: usize) {
        self.sweep_backlog
            .set(i64::try_from(left).unwrap_or(i64::MAX));
    }

    /// Counts one webhook delivery attempt by its result (`delivered`,
    /// `retrying`, `failed` or `refused`).
    pub fn count_webhook(&self, result: &'static str) {
        self.work.count_webhook(result);
    }

    /// Sets how many webhook deliveries are pending.
    pub fn set_outbox_backlog(&self, pending: u64) {
        self.work.set_outbox_backlog(pending);
    }

    /// The text exposition format Prometheus scrapes.
    pub fn encode_text(&self) -> Result<String, std::fmt::Error> {
        for hook in self
            .before_scrape
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            hook(self);
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// The method as a label: one of HTTP's own, or `other` (actix accepts any
/// token as a method, so a client could otherwise make a label of its choice).
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN
        .iter()
        .find(|known| *known == method)
        .map_or("other", Method::as_str)
}

/// A client's request id when it is a sane token, else a fresh one, so ids can
/// be followed across services without letting clients inject log lines.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// The dialect and route pattern of a routed request (`none` and `unmatched`
/// when no route matched).
fn route_of(req: &HttpRequest) -> (&'static str, String) {
    let dialect = req.app_data::<Dialect>().map_or("none", |d| d.label());
    (
        dialect,
        req.match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned()),
    )
}

/// Decrements the uploads gauge when the request ends, however it ends.
struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Counts the bytes of a routed request's body for its dialect, and the
/// request among the uploads in flight while it is received. Registered with
/// every route (see [`crate::routes`]), so the dialect is the route's own.
pub async fn count_request_body(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let dialect = req.app_data::<Dialect>().copied();
    let mut in_flight = None;
    if let (Some(m), Some(dialect), true) =
        (metrics, dialect, crate::limits::sends_body(req.headers()))
    {
        m.uploads_in_flight.inc();
        in_flight = Some(InFlight(m.uploads_in_flight.clone()));
        let counter = m
            .bytes_in
            .get_or_create(&DialectLabels {
                dialect: dialect.label(),
            })
            .clone();
        let payload = req.take_payload().inspect_ok(move |chunk| {
            counter.inc_by(chunk.len() as u64);
        });
        let payload: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(payload);
        req.set_payload(Payload::from(payload));
    }
    let res = match dialect {
        Some(dialect) => ROUTE_DIALECT.scope(dialect.label(), next.call(req)).await,
        None => next.call(req).await,
    };
    drop(in_flight);
    res
}

tokio::task_local! {
    /// The dialect of the route a request is being handled by.
    static ROUTE_DIALECT: &'static str;
}

/// The dialect whose route the current task is handling (`tickets`, `chat`,
/// …), or `none` outside a routed request (the sweeper, `clasp admin`): what
/// the audit trail's upload counts are labelled with.
pub fn current_dialect() -> &'static str {
    ROUTE_DIALECT.try_with(|d| *d).unwrap_or("none")
}

/// The middleware of every request: request id (header, log span), one log
/// line, request metrics, and byte counts of streamed responses.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<CountedBody<BoxBody>>, Error> {
    let started = Instant::now();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let id = request_id(&req);
    let method = method_label(req.method());
    // OpenTelemetry names the span once it starts, before routing: by the
    // method, with the route pattern and status as attributes once known.
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        otel.name = method,
        otel.kind = "server",
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    );
    // A caller's W3C `traceparent` makes this span a child of its own; without
    // an OpenTelemetry exporter there is no trace to join, and nothing happens.
    let caller =
        opentelemetry::global::get_text_map_propagator(|p| p.extract(&TraceHeaders(req.headers())));
    let _ = span.set_parent(caller);
    let mut res = next.call(req).instrument(span.clone()).await?;
    let (dialect, route) = route_of(res.request());
    let status = res.status().as_u16();
    span.record("http.route", route.as_str());
    span.record("http.response.status_code", i64::from(status));
    let elapsed = started.elapsed();
    span.in_scope(|| {
        tracing::info!(
            method,
            route = %route,
            status,
            millis = elapsed.as_secs_f64() * 1000.0,
            "answered"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    let out = metrics.map(|m| {
        let labels = RequestLabels {
            dialect,
            route,
            method,
            status,
        };
        m.requests.get_or_create(&labels).inc();
        m.latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        m.bytes_out
            .get_or_create(&DialectLabels { dialect })
            .clone()
    });
    Ok(res
        .map_into_boxed_body()
        .map_body(move |_, body| CountedBody { body, counter: out }))
}

/// A request's headers as OpenTelemetry's propagators read them.
struct TraceHeaders<'a>(&'a actix_web::http::header::HeaderMap);

impl opentelemetry::propagation::Extractor for TraceHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// A response body that counts the bytes it hands to the client, so streamed
/// downloads are measured without being buffered.
pub struct CountedBody<B> {
    body: B,
    counter: Option<Counter>,
}

impl<B: MessageBody + Unpin> MessageBody for CountedBody<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = &mut *self;
        let polled = std::pin::Pin::new(&mut this.body).poll_next(cx);
        if let (Poll::Ready(Some(Ok(chunk))), Some(counter)) = (&polled, &this.counter) {
            counter.inc_by(chunk.len() as u64);
        }
        polled
    }
}
