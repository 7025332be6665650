//! What operators and browsers need around the dialects: `/healthz`,
//! `/readyz`, `/metrics`, and CORS for the configured origins. Request ids,
//! logs and metrics of every request are in [`metrics`].

use actix_cors::Cors;
use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::Services;
use crate::dialects::Dialect;
use crate::routes::{Group, handlers};

pub mod metrics;

pub use metrics::{CountedBody, Metrics, REQUEST_ID, count_request_body, observe};

/// `/healthz`, `/readyz` and `/metrics`.
pub(crate) fn routes() -> Group {
    Group::new(Dialect::Ops, handlers![healthz, readyz, metrics])
}

#[utoipa::path(get, path = "/healthz",
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain")),
)]
/// The process is alive and answering.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

#[utoipa::path(get, path = "/readyz", responses(
    (status = 200, description = "`ready`", body = String, content_type = "text/plain"),
    (status = 503, description = "`not ready: <why>`", body = String, content_type = "text/plain"),
))]
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
