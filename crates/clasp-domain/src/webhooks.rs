//! Webhooks: a tenant's endpoints that are told of its [`Event`]s, and the
//! deliveries that carry each event to each of them. Recording an event fans
//! it out into one pending [`Delivery`] per subscribed webhook, in the same
//! transaction as the change (the outbox); a deliverer then claims due
//! deliveries, sends them, and records each attempt, retrying on the
//! [`RetrySchedule`] until one succeeds or the schedule is spent.
//!
//! [`Event`]: crate::events::Event

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use rand::{Rng, RngCore};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::{Actor, AuditRecord, Change};
use crate::events::EventKind;
use crate::ports::{AuditLog, Clock, IdentityStore, RepoError, Stored};
use crate::services::Ports;
use crate::tenant::TenantId;

/// The most webhooks one tenant may register: each event costs one delivery
/// per webhook.
pub const MAX_WEBHOOKS_PER_TENANT: usize = 20;

/// The longest webhook URL accepted.
pub const MAX_URL_BYTES: usize = 2048;

/// An endpoint a tenant's events are sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Its id.
    pub id: Uuid,
    /// Whose events it receives.
    pub tenant_id: TenantId,
    /// Where they are sent (`http` or `https`).
    pub url: String,
    /// Which kinds it receives.
    pub events: Vec<EventKind>,
    /// The Standard Webhooks signing secret (`whsec_` and base64), shown once
    /// to whoever registered it.
    pub secret: String,
    /// When it was registered.
    pub created_at: OffsetDateTime,
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not delivered yet; tried again at `next_at`.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt of the schedule failed; no more are made.
    Failed,
}

impl DeliveryState {
    /// The stored (and shown) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// The state named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// One event on its way to one webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The event's id: the `webhook-id` of every attempt.
    pub event_id: Uuid,
    /// The webhook.
    pub webhook_id: Uuid,
    /// The webhook's tenant.
    pub tenant_id: TenantId,
    /// The event's kind, as named on the wire.
    pub event_type: String,
    /// The URL and secret as they were when the event happened: a tenant's
    /// deletion still reaches the endpoints it had.
    pub url: String,
    /// The signing secret.
    pub secret: String,
    /// The JSON body sent, byte for byte the same on every attempt.
    pub payload: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// Where it is.
    pub state: DeliveryState,
    /// When it is due (while pending; a claimed one's lease end).
    pub next_at: OffsetDateTime,
    /// The last answer's HTTP status, if one came.
    pub last_status: Option<u16>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    /// When the event happened.
    pub created_at: OffsetDateTime,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// A 2xx answer.
    Delivered(u16),
    /// Another answer, or none (the status when one came, and why).
    Failed(Option<u16>, String),
}

impl Delivery {
    /// The `webhook-id` of every attempt, which receivers deduplicate by:
    /// `msg_` and the event id (one event reaching several webhooks has the
    /// same id at each).
    pub fn message_id(&self) -> String {
        format!("msg_{}", self.event_id.simple())
    }

    /// The delivery after `attempt`, made at `now`: delivered; pending again
    /// at the schedule's next step; or failed for good once it is spent.
    pub fn after(
        mut self,
        attempt: Attempt,
        now: OffsetDateTime,
        schedule: &RetrySchedule,
    ) -> Self {
        self.attempts = self.attempts.saturating_add(1);
        match attempt {
            Attempt::Delivered(status) => {
                self.state = DeliveryState::Delivered;
                self.last_status = Some(status);
                self.last_error = None;
                self.next_at = now;
            }
            Attempt::Failed(status, error) => {
                self.last_status = status;
                self.last_error = Some(error);
                match schedule.delay_after(self.attempts) {
                    Some(delay) => {
                        self.state = DeliveryState::Pending;
                        self.next_at = now + delay;
                    }
                    None => {
                        self.state = DeliveryState::Failed;
                        self.next_at = now;
                    }
                }
            }
        }
        self
    }
}

/// The waits between attempts: after the first fails, the first wait, and
/// so on; once the last is spent the delivery fails. Each wait is jittered
/// by up to a fifth either way, so endpoints that came back are not hit by
/// every retry at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(pub Vec<Duration>);

impl Default for RetrySchedule {
    /// Standard Webhooks' reference schedule (Svix's): 5 s, 5 min, 30 min,
    /// 2 h, 5 h, 10 h, 10 h — eight attempts over about 27 hours.
    fn default() -> Self {
        let s = Duration::from_secs;
        Self(vec![
            s(5),
            s(5 * 60),
            s(30 * 60),
            s(2 * 3600),
            s(5 * 3600),
            s(10 * 3600),
            s(10 * 3600),
        ])
    }
}

impl RetrySchedule {
    /// The wait after the `attempts`-th failed attempt, jittered; `None`
    /// once the schedule is spent.
    pub fn delay_after(&self, attempts: u32) -> Option<Duration> {
        let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
        let base = *self.0.get(index)?;
        Some(base.mul_f64(rand::rng().random_range(0.8..1.2)))
    }
}

/// The hosts webhooks may point at (`webhook_allowed_hosts`): an exact host
/// name or address, or `*.example.com` for any host below `example.com`.
/// Empty by default, so that no tenant can make Clasp call anything until the
/// operator says where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostAllowlist(Vec<String>);

impl HostAllowlist {
    /// The allowlist of `hosts` (compared without case).
    pub fn new(hosts: impl IntoIterator<Item = String>) -> Self {
        Self(
            hosts
                .into_iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
        )
    }

    /// Whether `url` is an `http` or `https` URL, without credentials in it,
    /// to an allowed host.
    pub fn check(&self, url: &str) -> Result<(), WebhookError> {
        if url.len() > MAX_URL_BYTES {
            return Err(WebhookError::InvalidUrl(format!(
                "longer than {MAX_URL_BYTES} bytes"
            )));
        }
        let parsed = url::Url::parse(url).map_err(|e| WebhookError::InvalidUrl(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(WebhookError::InvalidUrl("not http or https".into()));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(WebhookError::InvalidUrl("credentials in the URL".into()));
        }
        let host = match parsed.host() {
            Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            None => return Err(WebhookError::InvalidUrl("no host".into())),
        };
        let allowed = self.0.iter().any(|entry| match entry.strip_prefix("*.") {
            Some(parent) => host
                .strip_suffix(parent)
                .is_some_and(|below| below.ends_with('.')),
            None => *entry == host || entry.trim_matches(['[', ']']) == host,
        });
        if allowed {
            Ok(())
        } else {
            Err(WebhookError::HostNotAllowed(host))
        }
    }
}

/// Why a webhook was refused or not found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The URL is not one Clasp calls.
    #[error("invalid webhook URL: {0}")]
    InvalidUrl(String),
    /// The URL's host is not in `webhook_allowed_hosts`.
    #[error("the host {0} is not in webhook_allowed_hosts")]
    HostNotAllowed(String),
    /// An event kind that does not exist, or none at all.
    #[error("invalid events: {0}")]
    InvalidEvents(String),
    /// The tenant has as many webhooks as it may.
    #[error("a tenant has at most {MAX_WEBHOOKS_PER_TENANT} webhooks")]
    TooMany,
    /// No such tenant, or no such webhook.
    #[error("not found")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

/// Webhooks and their deliveries, durably.
///
/// Contract: recording an event (see [`crate::ports::AttachmentRepository`])
/// adds one pending delivery, due at once, for each of the tenant's webhooks
/// subscribed to its kind, in the same transaction; a claimed delivery is
/// handed to no other claimer until its lease ends, so that with several
/// instances each delivery is attempted by one at a time.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Stores a new webhook.
    async fn create_webhook(&self, webhook: &Webhook) -> Stored<()>;
    /// The webhooks of `tenant`, oldest first.
    async fn webhooks_of(&self, tenant: TenantId) -> Stored<Vec<Webhook>>;
    /// The webhook `id`.
    async fn webhook(&self, id: Uuid) -> Stored<Option<Webhook>>;
    /// Removes the webhook `id` and its deliveries still pending; whether it
    /// existed.
    async fn delete_webhook(&self, id: Uuid) -> Stored<bool>;
    /// At most `limit` pending deliveries due at `now`, soonest first, each
    /// leased until `lease_until` (its `next_at`): a claimer that dies leaves
    /// them due again then.
    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: usize,
    ) -> Stored<Vec<Delivery>>;
    /// Stores the attempts, state, due time and last answer of `delivery`.
    async fn record_attempt(&self, delivery: &Delivery) -> Stored<()>;
    /// The latest `limit` deliveries of webhook `id`, newest first.
    async fn deliveries_of(&self, id: Uuid, limit: usize) -> Stored<Vec<Delivery>>;
    /// How many deliveries are pending: the outbox's backlog.
    async fn pending_deliveries(&self) -> Stored<u64>;
    /// Forgets deliveries that ended (delivered or failed) before `before`;
    /// how many.
    async fn prune_deliveries(&self, before: OffsetDateTime) -> Stored<u64>;
}

/// Registering, listing and removing webhooks: what the admin API calls.
#[derive(Clone)]
pub struct WebhookService {
    store: Arc<dyn WebhookStore>,
    identities: Arc<dyn IdentityStore>,
    clock: Arc<dyn Clock>,
    audit: Arc<dyn AuditLog>,
    allowed: Arc<HostAllowlist>,
}

impl WebhookService {
    /// A service over `store`, finding tenants, time and the audit trail in
    /// `ports`, admitting URLs to `allowed` hosts only.
    pub fn new(store: Arc<dyn WebhookStore>, ports: &Ports, allowed: HostAllowlist) -> Self {
        Self {
            store,
            identities: ports.identities.clone(),
            clock: ports.clock.clone(),
            audit: ports.audit.clone(),
            allowed: Arc::new(allowed),
        }
    }

    /// The hosts webhooks may point at.
    pub fn allowlist(&self) -> &HostAllowlist {
        &self.allowed
    }

    /// The store, for the deliverer.
    pub fn store(&self) -> Arc<dyn WebhookStore> {
        self.store.clone()
    }

    /// Registers `url` for the `events` of the tenant `slug`; answers the
    /// webhook with its new secret.
    pub async fn register(
        &self,
        slug: &str,
        url: &str,
        events: &[String],
    ) -> Result<Webhook, WebhookError> {
        let done = self.register_unaudited(slug, url, events).await;
        let (tenant, object) = done.as_ref().map_or((None, String::new()), |w| {
            (Some(w.tenant_id), w.id.to_string())
        });
        let record = AuditRecord::of(
            Change::CreateWebhook,
            Actor::Operator,
            tenant,
            object,
            &done,
        );
        self.audit.record(record);
        done
    }

    async fn register_unaudited(
        &self,
        slug: &str,
        url: &str,
        events: &[String],
    ) -> Result<Webhook, WebhookError> {
        self.allowed.check(url)?;
        let kinds = kinds(events)?;
        let tenant = self
            .identities
            .tenant_by_slug(slug)
            .await?
            .filter(|t| t.deleting_since.is_none())
            .ok_or(WebhookError::NotFound)?;
        if self.store.webhooks_of(tenant.id).await?.len() >= MAX_WEBHOOKS_PER_TENANT {
            return Err(WebhookError::TooMany);
        }
        let webhook = Webhook {
            id: Uuid::now_v7(),
            tenant_id: tenant.id,
            url: url.to_owned(),
            events: kinds,
            secret: new_secret(),
            created_at: self.clock.now(),
        };
        self.store.create_webhook(&webhook).await?;
        Ok(webhook)
    }

    /// The webhooks of the tenant `slug`.
    pub async fn list(&self, slug: &str) -> Result<Vec<Webhook>, WebhookError> {
        let tenant = self
            .identities
            .tenant_by_slug(slug)
            .await?
            .ok_or(WebhookError::NotFound)?;
        Ok(self.store.webhooks_of(tenant.id).await?)
    }

    /// The webhook `id` with its latest `limit` deliveries.
    pub async fn get(
        &self,
        id: Uuid,
        limit: usize,
    ) -> Result<(Webhook, Vec<Delivery>), WebhookError> {
        let webhook = self
            .store
            .webhook(id)
            .await?
            .ok_or(WebhookError::NotFound)?;
        Ok((webhook, self.store.deliveries_of(id, limit).await?))
    }

    /// Removes the webhook `id`; its pending deliveries are not sent.
    pub async fn delete(&self, id: Uuid) -> Result<(), WebhookError> {
        let tenant = match self.store.webhook(id).await {
            Ok(found) => found.map(|w| w.tenant_id),
            Err(_) => None,
        };
        let done = match self.store.delete_webhook(id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(WebhookError::NotFound),
            Err(e) => Err(e.into()),
        };
        let record = AuditRecord::of(
            Change::DeleteWebhook,
            Actor::Operator,
            tenant,
            id.to_string(),
            &done,
        );
        self.audit.record(record);
        done
    }
}

/// The kinds `names` lists: at least one, each known, without repeats.
fn kinds(names: &[String]) -> Result<Vec<EventKind>, WebhookError> {
    if names.is_empty() {
        return Err(WebhookError::InvalidEvents("list at least one".into()));
    }
    let mut kinds = Vec::with_capacity(names.len());
    for name in names {
        let kind = EventKind::parse(name).ok_or_else(|| {
            let known: Vec<_> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
            WebhookError::InvalidEvents(format!("unknown {name:?} (known: {})", known.join(", ")))
        })?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Ok(kinds)
}

/// A fresh Standard Webhooks secret: `whsec_` and 32 random bytes in base64.
fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

#[cfg(test)]
mod tests;
