//! What operators and browsers need around the dialects: `/healthz` (both
//! listeners), `/readyz` and `/metrics` (the admin listener), and CORS for the
//! configured origins. Request ids,
//! logs and metrics of every request are in [`metrics`](mod@metrics).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_cors::Cors;
use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::Services;
use crate::dialects::Dialect;
use crate::routes::{Group, handlers};

pub mod metrics;
mod work;

pub use metrics::{CountedBody, Metrics, REQUEST_ID, count_request_body, current_dialect, observe};

/// The public listener's `/healthz`: whether the process answers is all a
/// client may learn there; readiness and metrics name internals, and are the
/// admin listener's.
pub(crate) fn public_routes() -> Group {
    Group::new(Dialect::Ops, handlers![healthz])
}

/// The admin listener's `/healthz`, `/readyz` and `/metrics`, for probes and
/// scrapers (no token).
pub(crate) fn admin_routes() -> Group {
    Group::new(Dialect::Ops, handlers![healthz, readyz, metrics])
}

#[utoipa::path(get, path = "/healthz",
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain")),
)]
/// The process is alive and answering.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// How long one readiness verdict is reused: probes and scrapers may ask often,
/// and each check asks the metadata store, the blob store and the scanner.
const VERDICT_LIFETIME: Duration = Duration::from_secs(2);

/// The last readiness verdict and when it was reached, shared by all workers.
#[derive(Debug, Default)]
pub struct Readiness(Mutex<Option<(Instant, bool)>>);

impl Readiness {
    /// The verdict of at most [`VERDICT_LIFETIME`] ago, if there is one.
    fn recent(&self) -> Option<bool> {
        let last = *self.0.lock().ok()?;
        last.filter(|(at, _)| at.elapsed() < VERDICT_LIFETIME)
            .map(|(_, ready)| ready)
    }

    fn remember(&self, ready: bool) {
        if let Ok(mut last) = self.0.lock() {
            *last = Some((Instant::now(), ready));
        }
    }
}

#[utoipa::path(get, path = "/readyz", responses(
    (status = 200, description = "`ready`", body = String, content_type = "text/plain"),
    (status = 503, description = "`not ready`: what is not is logged, not told", body = String, content_type = "text/plain"),
))]
/// The process can do its work: the metadata store answers with current
/// migrations, the blob store answers, and so does the virus scanner when one is
/// configured; 503 otherwise. The verdict is kept for a few seconds, and the
/// answer names nothing (no store or scanner address): the log says what failed.
async fn readyz(services: web::Data<Services>, readiness: web::Data<Readiness>) -> HttpResponse {
    let ready = match readiness.recent() {
        Some(ready) => ready,
        None => {
            let checked = services.attachments.check_ready().await;
            if let Err(e) = &checked {
                tracing::warn!(error = %e, "not ready");
            }
            readiness.remember(checked.is_ok());
            checked.is_ok()
        }
    };
    if ready {
        HttpResponse::Ok().content_type("text/plain").body("ready")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("not ready")
    }
}

#[utoipa::path(get, path = "/metrics", responses(
    (status = 200, description = "Prometheus metrics in the OpenMetrics text format", body = String, content_type = "application/openmetrics-text"),
    (status = 500, description = "The metrics could not be encoded"),
))]
/// Every metric, for Prometheus.
async fn metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    match metrics.encode_text() {
        Ok(text) => HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(text),
        Err(_) => HttpResponse::InternalServerError().finish(),
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
    ]
    .into_iter()
    // What tus clients in browsers (tus-js-client, Uppy) read of the answers.
    .chain(
        [
            "tus-resumable",
            "tus-version",
            "tus-extension",
            "tus-max-size",
            "tus-checksum-algorithm",
            "upload-offset",
            "upload-length",
            "upload-expires",
            "clasp-attachment-id",
        ]
        .map(header::HeaderName::from_static),
    );
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
