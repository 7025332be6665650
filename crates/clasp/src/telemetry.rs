//! OpenTelemetry traces: exported over OTLP/HTTP when the standard variables
//! say where (`OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; the protocol, headers and timeout
//! from the other `OTEL_EXPORTER_OTLP_*`), and nothing at all when they do not
//! or `OTEL_SDK_DISABLED=true`. The spans are `tracing`'s: each request, each
//! database call, store call and virus scan (docs/operations.md, "Traces").

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::registry::LookupSpan;

/// Keeps the exporter running; dropping it sends what is left.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        // Exports the spans still batched: a process stopping on SIGTERM
        // loses none of its last requests' spans.
        let _ = self.provider.shutdown();
    }
}

/// Whether the environment asks for traces.
fn wanted(var: impl Fn(&str) -> Option<String>) -> bool {
    let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let endpoint = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|name| var(name).is_some_and(|v| !v.trim().is_empty()));
    endpoint && !disabled
}

/// The layer exporting spans to OpenTelemetry, for a subscriber `S`.
pub type TracesLayer<S> = OpenTelemetryLayer<S, SdkTracer>;

/// The layer exporting spans, and its guard, when the environment asks for
/// traces; `None` when it does not. W3C trace context (`traceparent`) is the
/// propagator, so a request's span continues its caller's trace.
pub fn layer<S>() -> Result<Option<(TracesLayer<S>, Telemetry)>, String>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    if !wanted(|name| std::env::var(name).ok()) {
        return Ok(None);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| format!("OpenTelemetry: cannot export traces as OTEL_* says: {e}"))?;
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("clasp");
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("clasp"));
    Ok(Some((layer, Telemetry { provider })))
}

#[cfg(test)]
mod tests {
    use super::wanted;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn traces_only_where_an_endpoint_is_set_and_the_sdk_is_not_disabled() {
        assert!(!wanted(env(&[])));
        assert!(!wanted(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")])));
        assert!(wanted(env(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://c:4318"
        )])));
        assert!(wanted(env(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://c:4318/v1/traces"
        )])));
        assert!(!wanted(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_SDK_DISABLED", "TRUE"),
        ])));
    }
}
