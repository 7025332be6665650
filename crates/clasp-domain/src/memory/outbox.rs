//! The events the in-memory stores recorded with their changes, and the
//! webhooks they are fanned out to: the in-memory [`WebhookStore`].

use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::events::Event;
use crate::ports::{RepoError, Stored};
use crate::tenant::TenantId;
use crate::webhooks::{Delivery, DeliveryState, Webhook, WebhookStore};

use super::lock;

#[derive(Debug, Default)]
struct State {
    events: Vec<Event>,
    webhooks: Vec<Webhook>,
    deliveries: Vec<Delivery>,
}

/// Every event recorded, in order, each fanned out to the subscribed webhooks
/// of its tenant as the stores of a database do: what a test reads to see
/// what the services announced, and the webhooks of in-memory services.
#[derive(Debug, Default)]
pub struct MemoryOutbox(Mutex<State>);

impl MemoryOutbox {
    /// Records `event` when the change it announces was made.
    pub(super) fn record(&self, made: bool, event: Option<&Event>) {
        let (true, Some(event)) = (made, event) else {
            return;
        };
        let mut state = lock(&self.0);
        let payload = serde_payload(event);
        let fanned: Vec<Delivery> = state
            .webhooks
            .iter()
            .filter(|w| w.tenant_id == event.tenant() && w.events.contains(&event.kind))
            .map(|w| Delivery {
                event_id: event.id,
                webhook_id: w.id,
                tenant_id: w.tenant_id,
                event_type: event.kind.as_str().to_owned(),
                url: w.url.clone(),
                secret: w.secret.clone(),
                payload: payload.clone(),
                attempts: 0,
                state: DeliveryState::Pending,
                next_at: event.timestamp,
                last_status: None,
                last_error: None,
                created_at: event.timestamp,
            })
            .collect();
        state.deliveries.extend(fanned);
        state.events.push(event.clone());
    }

    /// The events recorded so far.
    pub fn events(&self) -> Vec<Event> {
        lock(&self.0).events.clone()
    }
}

/// A stand-in for the payload a database stores (this crate serializes no
/// JSON): the kind and the event's id, enough for tests to tell them apart.
fn serde_payload(event: &Event) -> String {
    format!("{} {}", event.kind.as_str(), event.id)
}

#[async_trait]
impl WebhookStore for MemoryOutbox {
    async fn create_webhook(&self, webhook: &Webhook) -> Stored<()> {
        let mut state = lock(&self.0);
        if state.webhooks.iter().any(|w| w.id == webhook.id) {
            return Err(RepoError::Conflict(webhook.id.to_string()));
        }
        state.webhooks.push(webhook.clone());
        Ok(())
    }

    async fn webhooks_of(&self, tenant: TenantId) -> Stored<Vec<Webhook>> {
        let state = lock(&self.0);
        Ok(state
            .webhooks
            .iter()
            .filter(|w| w.tenant_id == tenant)
            .cloned()
            .collect())
    }

    async fn webhook(&self, id: Uuid) -> Stored<Option<Webhook>> {
        Ok(lock(&self.0).webhooks.iter().find(|w| w.id == id).cloned())
    }

    async fn delete_webhook(&self, id: Uuid) -> Stored<bool> {
        let mut state = lock(&self.0);
        state
            .deliveries
            .retain(|d| d.webhook_id != id || d.state != DeliveryState::Pending);
        let before = state.webhooks.len();
        state.webhooks.retain(|w| w.id != id);
        Ok(state.webhooks.len() < before)
    }

    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: usize,
    ) -> Stored<Vec<Delivery>> {
        let mut state = lock(&self.0);
        let mut claimed = Vec::new();
        for d in state.deliveries.iter_mut() {
            if claimed.len() < limit && d.state == DeliveryState::Pending && d.next_at <= now {
                claimed.push(d.clone());
                d.next_at = lease_until;
            }
        }
        Ok(claimed)
    }

    async fn record_attempt(&self, delivery: &Delivery) -> Stored<()> {
        let mut state = lock(&self.0);
        if let Some(d) = state
            .deliveries
            .iter_mut()
            .find(|d| d.event_id == delivery.event_id && d.webhook_id == delivery.webhook_id)
        {
            *d = delivery.clone();
        }
        Ok(())
    }

    async fn deliveries_of(&self, id: Uuid, limit: usize) -> Stored<Vec<Delivery>> {
        let state = lock(&self.0);
        Ok(state
            .deliveries
            .iter()
            .rev()
            .filter(|d| d.webhook_id == id)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn pending_deliveries(&self) -> Stored<u64> {
        let state = lock(&self.0);
        let pending = state
            .deliveries
            .iter()
            .filter(|d| d.state == DeliveryState::Pending)
            .count();
        Ok(u64::try_from(pending).unwrap_or(u64::MAX))
    }

    async fn prune_deliveries(&self, before: OffsetDateTime) -> Stored<u64> {
        let mut state = lock(&self.0);
        let count = state.deliveries.len();
        state
            .deliveries
            .retain(|d| d.state == DeliveryState::Pending || d.next_at >= before);
        Ok(u64::try_from(count - state.deliveries.len()).unwrap_or(0))
    }
}
