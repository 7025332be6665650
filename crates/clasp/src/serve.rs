//! `clasp serve`: the public listener with every dialect and the admin
//! listener, both graceful on SIGTERM/SIGINT.

use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpServer;
use anyhow::Context;
use clasp_domain::ports::SystemClock;
use clasp_http::FrontDoor;
use clasp_http::limits::Admission;
use clasp_http::ops::Metrics;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, fmt};

use crate::config::{Config, LogFormat};
use crate::telemetry::{self, Telemetry};
use crate::{gc, webhooks, wiring};

/// Installs the tracing subscriber (text or JSON; RUST_LOG overrides the
/// level), and the OpenTelemetry exporter when `OTEL_*` asks for one
/// ([`telemetry`]); the guard it answers must live until the process ends.
/// The log level filters the log only: the exporter takes every span and
/// event at `info` and above however quiet the log is; without an exporter,
/// no filter asks for them, so a quiet log creates no span at all.
pub fn init_logging(config: &Config) -> Result<Option<Telemetry>, String> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log_level));
    let log: Box<dyn Layer<Registry> + Send + Sync> = match config.log_format {
        LogFormat::Json => Box::new(fmt::layer().json().with_writer(std::io::stderr)),
        LogFormat::Text => Box::new(fmt::layer().with_writer(std::io::stderr)),
    };
    let (traces, telemetry) = telemetry::layer()?.unzip();
    let _ = tracing_subscriber::registry()
        .with(log.with_filter(filter))
        .with(traces.map(|t| t.with_filter(LevelFilter::INFO)))
        .try_init();
    Ok(telemetry)
}

/// Whether `listen` is an unspecified address (`0.0.0.0`, `[::]`): the
/// machine's every interface, which is no address a client can be sent to.
fn listens_everywhere(listen: &str) -> bool {
    listen
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|addr| addr.ip().is_unspecified())
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
    if config.public_url.is_none() && listens_everywhere(&config.listen) {
        // Signed URLs would point at http://0.0.0.0:…, which no client reaches.
        return Err(wiring::SetupError(format!(
            "listen is {}, an address no client can reach, so the signed URLs handed \
             out would not work: set public_url (CLASP_PUBLIC_URL) to the URL clients \
             use, such as https://files.example.com",
            config.listen
        ))
        .into());
    }
    actix_web::rt::System::new().block_on(async move {
        // Listen for the signals before the port opens: a SIGTERM that arrives
        // between bind and run would otherwise kill the process ungracefully.
        let stop = shutdown_signal().context("listening for SIGTERM and SIGINT")?;
        let metrics = Metrics::new();
        let services = wiring::build(&config, &metrics).await?;
        let sweeping = services.attachments.clone();
        let deliverer = webhooks::Deliverer {
            store: services.webhooks.store(),
            clock: Arc::new(SystemClock),
            allowed: config.webhook_hosts(),
            schedule: config.webhook_retries().unwrap_or_default(),
            timeout: Duration::from_secs(config.webhook_timeout_secs),
            concurrency: config.webhook_concurrency,
            metrics: metrics.clone(),
        };
        let front = FrontDoor::new(services)
            .map_err(|e| wiring::SetupError(e.to_string()))?
            .with_metrics(metrics.clone())
            .with_admission(
                Admission::new(
                    config.max_concurrent_uploads,
                    config.rate_limit_per_second,
                    config.rate_limit_burst,
                )
                .with_upload_shares(
                    config.max_uploads_per_tenant,
                    config.max_uploads_per_credential,
                ),
            )
            .with_body_idle_timeout(Duration::from_secs(config.body_idle_timeout_secs))
            .with_body_deadline(Duration::from_secs(config.upload_deadline_secs))
            .with_cors(config.cors_origins())
            .with_public_url(&config.public_url())
            .with_admin_token(config.admin_token.as_deref());
        let workers = match config.workers {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        };
        let admin_front = front.clone();
        let admin = HttpServer::new(move || admin_front.admin_app())
            .workers(1)
            .shutdown_timeout(config.shutdown_timeout_secs)
            .client_request_timeout(Duration::from_secs(30))
            .bind(&config.admin_listen)
            .map_err(|e| {
                wiring::SetupError(format!(
                    "cannot listen on {} (admin_listen): {e}",
                    config.admin_listen
                ))
            })?;
        let server = HttpServer::new(move || front.app())
            .workers(workers)
            .shutdown_timeout(config.shutdown_timeout_secs)
            .client_request_timeout(Duration::from_secs(30))
            // nginx's default: clients pool connections for longer than actix's 5 s,
            // and a connection closed just as a client reuses it fails that request
            .keep_alive(Duration::from_secs(75))
            .bind(&config.listen)
            .map_err(|e| wiring::SetupError(format!("cannot listen on {}: {e}", config.listen)))?;
        tracing::info!(
            listen = %config.listen,
            admin_listen = %config.admin_listen,
            public_url = %config.public_url(),
            "clasp serving"
        );
        let delivering = actix_web::rt::spawn(deliverer.run());
        let sweeper = actix_web::rt::spawn(gc::sweep_forever(
            sweeping,
            Duration::from_secs(config.sweep_interval_secs),
            metrics,
        ));
        let server = server.disable_signals().run();
        let admin = admin.disable_signals().run();
        let (handle, admin_handle) = (server.handle(), admin.handle());
        actix_web::rt::spawn(async move {
            stop.await;
            tokio::join!(handle.stop(true), admin_handle.stop(true));
        });
        let (served, admin_served) = tokio::join!(server, admin);
        sweeper.abort();
        delivering.abort();
        served.context("running the HTTP server")?;
        admin_served.context("running the admin HTTP server")
    })
}

/// Resolves on the first SIGTERM or SIGINT; both drain in-flight requests.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::listens_everywhere;

    #[test]
    fn only_unspecified_addresses_listen_everywhere() {
        assert!(listens_everywhere("0.0.0.0:8080"));
        assert!(listens_everywhere("[::]:8080"));
        for reachable in [
            "127.0.0.1:8080",
            "10.0.0.5:80",
            "[::1]:8080",
            "localhost:8080",
        ] {
            assert!(!listens_everywhere(reachable), "{reachable}");
        }
    }
}
