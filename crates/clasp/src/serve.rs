//! `clasp serve`: the HTTP server with every dialect, graceful on SIGTERM/SIGINT.

use std::time::Duration;

use actix_web::middleware::{Condition, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use clasp_http::limits::{self, Admission, BodyIdleTimeout};
use clasp_http::ops::{self, Metrics};
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};
use crate::{gc, wiring};

/// Installs the tracing subscriber (text or JSON; RUST_LOG overrides the level).
pub fn init_logging(config: &Config) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Builds the services and serves until a shutdown signal; meanwhile a sweeper
/// deletes abandoned direct uploads every `sweep_interval_secs`, and stops with
/// the server.
pub fn run(config: Config) -> anyhow::Result<()> {
    if config.is_shared() && config.signing_secret.is_none() {
        // A secret generated per machine would make every other instance refuse
        // the signed URLs this one hands out: fail now, not on a client's download.
        return Err(wiring::SetupError(
            "serving with PostgreSQL or S3 needs signing_secret (CLASP_SIGNING_SECRET), \
             the same on every instance"
                .into(),
        )
        .into());
    }
    actix_web::rt::System::new().block_on(async move {
        let services = wiring::build(&config).await?;
        let sweeping = services.attachments.clone();
        let metrics = Metrics::new();
        let origins = config.cors_origins();
        let body_idle = BodyIdleTimeout(Duration::from_secs(config.body_idle_timeout_secs));
        let admission = web::Data::new(Admission::new(
            config.max_concurrent_uploads,
            config.rate_limit_per_second,
            config.rate_limit_burst,
        ));
        let workers = match config.workers {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        };
        let serving = metrics.clone();
        let server = HttpServer::new(move || {
            App::new()
                // innermost first: refusals of `admit` still get CORS headers
                // (browsers can read them) and are counted by `observe`
                .wrap(clasp_http::default_headers())
                .wrap(from_fn(limits::body_idle_timeout))
                .wrap(from_fn(limits::admit))
                .wrap(Condition::new(!origins.is_empty(), ops::cors(&origins)))
                .wrap(from_fn(clasp_http::download::answer_head))
                .wrap(from_fn(ops::observe))
                .app_data(web::Data::new(serving.clone()))
                .app_data(web::Data::new(body_idle))
                .app_data(admission.clone())
                .configure(ops::routes)
                .configure(clasp_http::configure(services.clone()))
        })
        .workers(workers)
        .shutdown_timeout(config.shutdown_timeout_secs)
        .client_request_timeout(Duration::from_secs(30))
        // nginx's default: clients pool connections for longer than actix's 5 s,
        // and a connection closed just as a client reuses it fails that request
        .keep_alive(Duration::from_secs(75))
        .bind(&config.listen)
        .map_err(|e| wiring::SetupError(format!("cannot listen on {}: {e}", config.listen)))?;
        tracing::info!(listen = %config.listen, public_url = %config.public_url(), "clasp serving");
        let sweeper = actix_web::rt::spawn(gc::sweep_forever(
            sweeping,
            Duration::from_secs(config.sweep_interval_secs),
            metrics,
        ));
        let served = server.run().await;
        sweeper.abort();
        served.context("running the HTTP server")
    })
}
