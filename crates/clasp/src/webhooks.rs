//! The webhook deliverer of `clasp serve`: claims due deliveries from the
//! outbox, signs each as Standard Webhooks says (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`), sends
//! it off the request path with a bounded concurrency and time per attempt,
//! and records how it went, so that a failed one is retried on the schedule
//! by whichever instance claims it next (after a restart too).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clasp_domain::ports::Clock;
use clasp_domain::webhooks::{
    Attempt, Delivery, DeliveryState, HostAllowlist, RetrySchedule, WebhookStore,
};
use clasp_http::ops::Metrics;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// How often the outbox is polled for due deliveries.
const POLL: Duration = Duration::from_millis(250);

/// How often delivered and failed deliveries older than [`KEPT_FOR`] are
/// forgotten, and the backlog counted.
const HOUSEKEEPING: Duration = Duration::from_secs(5);

/// How long an ended delivery stays visible in the admin API.
const KEPT_FOR: time::Duration = time::Duration::days(7);

/// What the deliverer needs.
pub struct Deliverer {
    /// The outbox.
    pub store: Arc<dyn WebhookStore>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// The hosts a delivery may still go to (checked again before each attempt).
    pub allowed: HostAllowlist,
    /// The waits between attempts.
    pub schedule: RetrySchedule,
    /// Longest one attempt may take.
    pub timeout: Duration,
    /// Attempts at once.
    pub concurrency: usize,
    /// Where attempts and the backlog are counted.
    pub metrics: Metrics,
}

impl Deliverer {
    /// Delivers until the task is dropped.
    pub async fn run(self) {
        let client = match reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            // A redirect could lead anywhere, the allowlist's hosts aside.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("clasp-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(client) => client,
            Err(e) => {
                tracing::error!(error = %e, "webhooks: no HTTP client, nothing will be delivered");
                return;
            }
        };
        let mut last_housekeeping: Option<tokio::time::Instant> = None;
        loop {
            if last_housekeeping.is_none_or(|at| at.elapsed() >= HOUSEKEEPING) {
                self.housekeeping().await;
                last_housekeeping = Some(tokio::time::Instant::now());
            }
            match self.round(&client).await {
                // A full round: there may be more due at once.
                Ok(claimed) if claimed >= self.concurrency => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "webhooks: claiming deliveries failed"),
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Claims what is due and attempts it all at once; how many it claimed.
    async fn round(
        &self,
        client: &reqwest::Client,
    ) -> Result<usize, clasp_domain::ports::RepoError> {
        let now = self.clock.now();
        // An instance that dies mid-attempt leaves its claims due again then.
        let lease = now + self.timeout + Duration::from_secs(5);
        let claimed = self
            .store
            .claim_deliveries(now, lease, self.concurrency)
            .await?;
        let count = claimed.len();
        futures::future::join_all(claimed.into_iter().map(|d| self.attempt(client, d))).await;
        Ok(count)
    }

    /// One attempt of `delivery`, recorded.
    async fn attempt(&self, client: &reqwest::Client, delivery: Delivery) {
        let span = tracing::info_span!(
            "webhook",
            otel.name = "webhook deliver",
            otel.kind = "client",
            webhook.id = %delivery.webhook_id,
            event.id = %delivery.event_id,
            event.type = %delivery.event_type,
            attempt = delivery.attempts + 1,
            http.response.status_code = tracing::field::Empty,
        );
        let (attempt, refused) = match self.allowed.check(&delivery.url) {
            Err(e) => (Attempt::Failed(None, e.to_string()), true),
            Ok(()) => (
                send(client, &delivery, &self.clock)
                    .instrument(span.clone())
                    .await,
                false,
            ),
        };
        if let Attempt::Delivered(status) | Attempt::Failed(Some(status), _) = &attempt {
            span.record("http.response.status_code", status);
        }
        let after = delivery.after(attempt, self.clock.now(), &self.schedule);
        let result = match after.state {
            _ if refused => "refused",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Pending => "retrying",
            DeliveryState::Failed => "failed",
        };
        self.metrics.count_webhook(result);
        async {
            if let Err(e) = self.store.record_attempt(&after).await {
                // The lease ends and the delivery is attempted again: at least once.
                tracing::warn!(error = %e, "webhooks: recording an attempt failed");
            } else if after.state == DeliveryState::Failed {
                tracing::warn!(url = %after.url, error = ?after.last_error, "webhooks: delivery failed for good");
            }
        }
        .instrument(span)
        .await;
    }

    /// Forgets old ended deliveries and counts the backlog.
    async fn housekeeping(&self) {
        let before = self.clock.now() - KEPT_FOR;
        if let Err(e) = self.store.prune_deliveries(before).await {
            tracing::warn!(error = %e, "webhooks: pruning old deliveries failed");
        }
        match self.store.pending_deliveries().await {
            Ok(pending) => self.metrics.set_outbox_backlog(pending),
            Err(e) => tracing::warn!(error = %e, "webhooks: counting the backlog failed"),
        }
    }
}

/// Sends `delivery` once, signed now.
async fn send(client: &reqwest::Client, delivery: &Delivery, clock: &Arc<dyn Clock>) -> Attempt {
    let timestamp = clock.now().unix_timestamp();
    let id = delivery.message_id();
    let Some(signature) = sign(&delivery.secret, &id, timestamp, &delivery.payload) else {
        return Attempt::Failed(None, "the webhook's secret is not a whsec_ secret".into());
    };
    let mut request = client
        .post(&delivery.url)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", format!("v1,{signature}"))
        .body(delivery.payload.clone());
    for (name, value) in trace_headers() {
        request = request.header(name, value);
    }
    match request.send().await {
        Ok(answer) if answer.status().is_success() => Attempt::Delivered(answer.status().as_u16()),
        Ok(answer) => Attempt::Failed(
            Some(answer.status().as_u16()),
            format!("the endpoint answered {}", answer.status()),
        ),
        Err(e) => Attempt::Failed(None, e.to_string()),
    }
}

/// The Standard Webhooks signature of `payload` sent as message `id` at
/// `timestamp`: base64 of HMAC-SHA256, keyed with the secret's bytes, over
/// `id.timestamp.payload`. `None` when the secret is not `whsec_` base64.
pub fn sign(secret: &str, id: &str, timestamp: i64, payload: &str) -> Option<String> {
    let key = STANDARD.decode(secret.strip_prefix("whsec_")?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(payload.as_bytes());
    Some(STANDARD.encode(mac.finalize().into_bytes()))
}

/// The W3C trace context of the current span, as headers (none without an
/// exporter).
fn trace_headers() -> Vec<(String, String)> {
    struct Headers(Vec<(String, String)>);
    impl opentelemetry::propagation::Injector for Headers {
        fn set(&mut self, key: &str, value: String) {
            self.0.push((key.to_owned(), value));
        }
    }
    let context = tracing::Span::current().context();
    let mut headers = Headers(Vec::new());
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&context, &mut headers));
    headers.0
}

#[cfg(test)]
mod tests {
    use super::sign;

    #[test]
    fn signs_as_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification (spec/standard-webhooks.md).
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let payload = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, id, 1614265330, payload).as_deref(),
            Some("g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        assert_eq!(sign("not-a-secret", id, 1, payload), None);
    }
}
