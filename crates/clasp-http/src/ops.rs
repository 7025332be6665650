//! What operators and browsers need around the dialects: request ids, one log
//! line and Prometheus metrics per request, `/healthz`, `/readyz`, `/metrics`,
//! and CORS for the configured origins.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_cors::Cors;
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing::Instrument;

use crate::Services;

/// The header carrying a request's id, taken from the client or made here.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Labels of a request: which dialect and route answered, and how.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    dialect: &'static str,
    route: String,
    method: String,
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
}

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
        Metrics {
            registry: Arc::new(registry),
            requests,
            latency,
            bytes_in,
            bytes_out,
            uploads_in_flight,
            swept,
            sweeps_failed,
        }
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

    /// The text exposition format Prometheus scrapes.
    fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Registers `/healthz`, `/readyz` and `/metrics`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}

/// The operations endpoints' part of the OpenAPI document (tag `clasp`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(healthz, readyz, metrics))]
pub(crate) struct Api;

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "clasp",
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain")),
    security(())
)]
/// The process is alive and answering.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "clasp",
    responses(
        (status = 200, description = "`ready`", body = String, content_type = "text/plain"),
        (status = 503, description = "`not ready: <why>`", body = String, content_type = "text/plain"),
    ),
    security(())
)]
/// The process can do its work: the metadata store answers with current
/// migrations, the blob store answers, and so does the virus scanner when one is
/// configured; 503 naming what is not ready otherwise.
async fn readyz(services: web::Data<Services>) -> HttpResponse {
    match services.attachments.check_ready().await {
        Ok(()) => HttpResponse::Ok().content_type("text/plain").body("ready"),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain")
                .body(format!("not ready: {e}"))
        }
    }
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "clasp",
    responses(
        (status = 200, description = "Prometheus metrics in the OpenMetrics text format", body = String, content_type = "application/openmetrics-text"),
        (status = 500, description = "The metrics could not be encoded"),
    ),
    security(())
)]
/// Every metric, for Prometheus.
async fn metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    match metrics.encode() {
        Ok(text) => HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(text),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

/// Which dialect a matched route pattern belongs to (a bounded label set:
/// unmatched paths never become labels of their own).
pub(crate) fn dialect_of(pattern: Option<&str>, req: &HttpRequest) -> &'static str {
    let Some(pattern) = pattern else {
        return "none";
    };
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes().starts_with(b"Bearer "));
    if pattern.starts_with("/v1/tickets") {
        "tickets"
    } else if pattern.starts_with("/v1/workspaces") {
        "workspaces"
    } else if pattern.starts_with("/api-public/") {
        "cases"
    } else if pattern.starts_with("/api/v1/") {
        if bearer { "redirect" } else { "chat" }
    } else if pattern.starts_with("/signed") {
        "signed"
    } else {
        "ops"
    }
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

/// The dialect and route pattern of `req` (`unmatched` when no route matched).
fn route_of(req: &HttpRequest) -> (&'static str, String) {
    let pattern = req.match_pattern();
    let dialect = dialect_of(pattern.as_deref(), req);
    (dialect, pattern.unwrap_or_else(|| "unmatched".to_owned()))
}

/// Decrements the uploads gauge when the request ends, however it ends.
struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The middleware of every request: request id (header, log span), one log
/// line, request metrics, and byte counts of streamed bodies in both directions.
pub async fn observe(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<CountedBody<BoxBody>>, Error> {
    let started = Instant::now();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let id = request_id(&req);
    let method = req.method().to_string();

    // Before routing, naming the route means matching the path against every
    // route pattern (regular expressions); after it, it is a lookup. So only a
    // request with a body, whose byte counter needs its dialect now, pays it.
    let has_body = crate::limits::sends_body(&req);
    let early = has_body.then(|| route_of(req.request()));
    let mut in_flight = None;
    if let (Some(m), Some((dialect, _))) = (&metrics, &early) {
        let dialect = *dialect;
        m.uploads_in_flight.inc();
        in_flight = Some(InFlight(m.uploads_in_flight.clone()));
        let counter = m.bytes_in.get_or_create(&DialectLabels { dialect }).clone();
        let payload = req.take_payload().inspect_ok(move |chunk| {
            counter.inc_by(chunk.len() as u64);
        });
        let payload: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(payload);
        req.set_payload(Payload::from(payload));
    }

    let span = tracing::info_span!("request", request_id = %id);
    let res = next.call(req).instrument(span.clone()).await;
    drop(in_flight);
    let mut res = res?;
    let (dialect, route) = early.unwrap_or_else(|| route_of(res.request()));
    let status = res.status().as_u16();
    let elapsed = started.elapsed();
    span.in_scope(|| {
        tracing::info!(
            %method,
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

/// CORS for the configured origins: `*` lets any page call Clasp without
/// cookies; named origins may also send the `chat` session cookie. Requests
/// from other origins are served as before, just without CORS headers, so
/// non-browser clients that send `Origin` are never refused.
pub fn cors(origins: &[String]) -> Cors {
    let exposed = [
        header::CONTENT_DISPOSITION,
        header::CONTENT_LENGTH,
        header::CONTENT_RANGE,
        header::ACCEPT_RANGES,
        header::ETAG,
        header::LOCATION,
        REQUEST_ID,
    ];
    let cors = Cors::default()
        .allow_any_method()
        .allow_any_header()
        .expose_headers(exposed)
        .block_on_origin_mismatch(false)
        .max_age(3600);
    if origins.iter().any(|o| o == "*") {
        return cors.allow_any_origin().send_wildcard();
    }
    origins
        .iter()
        .fold(cors.supports_credentials(), |cors, origin| {
            cors.allowed_origin(origin)
        })
}

#[cfg(test)]
mod tests;
