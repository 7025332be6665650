//! Tenants' webhooks and their deliveries.

use actix_web::HttpResponse;
use actix_web::web::Data;
use clasp_domain::webhooks::{Delivery, Webhook};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Admin, AdminCaller, Id, Posted, Slug};
use crate::Services;
use crate::own::ErrorJson;
use crate::problem::{Problem, ProblemKind};
use crate::wire::Reply;

/// How many of its latest deliveries `GET /admin/v1/webhooks/{id}` shows.
const DELIVERIES_SHOWN: usize = 100;

/// A webhook to register.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewWebhook {
    /// Where events are POSTed: `http` or `https`, to a host of
    /// `webhook_allowed_hosts`.
    url: String,
    /// The kinds it receives (`attachment.ready`, `attachment.rejected`,
    /// `attachment.deleted`, `attachment.thumbnail_ready`, `upload.abandoned`,
    /// `tenant.deleted`); at least one.
    events: Vec<String>,
}

/// A webhook as registered; `secret` only in the answer to its registration.
#[derive(Serialize, ToSchema)]
pub(super) struct WebhookJson {
    id: String,
    url: String,
    events: Vec<&'static str>,
    /// The Standard Webhooks signing secret (`whsec_…`): shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
}

impl WebhookJson {
    fn of(webhook: &Webhook, with_secret: bool) -> Self {
        Self {
            id: webhook.id.to_string(),
            url: webhook.url.clone(),
            events: webhook.events.iter().map(|k| k.as_str()).collect(),
            secret: with_secret.then(|| webhook.secret.clone()),
            created_at: webhook.created_at,
        }
    }
}

/// A tenant's webhooks.
#[derive(Serialize, ToSchema)]
pub(super) struct WebhooksJson {
    webhooks: Vec<WebhookJson>,
}

/// A webhook with its latest deliveries.
#[derive(Serialize, ToSchema)]
pub(super) struct WebhookDetailJson {
    #[serde(flatten)]
    webhook: WebhookJson,
    /// Its latest deliveries, newest first.
    deliveries: Vec<DeliveryJson>,
}

/// One event on its way to a webhook.
#[derive(Serialize, ToSchema)]
pub(super) struct DeliveryJson {
    /// The `webhook-id` of every attempt.
    id: String,
    event_type: String,
    /// `pending`, `delivered` or `failed` (every attempt of the schedule failed).
    state: &'static str,
    attempts: u32,
    /// When a pending one is attempted next.
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::serde::rfc3339")]
    next_attempt_at: time::OffsetDateTime,
    last_status: Option<u16>,
    last_error: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
}

impl From<&Delivery> for DeliveryJson {
    fn from(d: &Delivery) -> Self {
        Self {
            id: d.message_id(),
            event_type: d.event_type.clone(),
            state: d.state.as_str(),
            attempts: d.attempts,
            next_attempt_at: d.next_at,
            last_status: d.last_status,
            last_error: d.last_error.clone(),
            created_at: d.created_at,
        }
    }
}

fn webhook_id(id: &str) -> Result<uuid::Uuid, Problem> {
    id.parse().map_err(|_| {
        Problem::new(
            ProblemKind::Domain(clasp_domain::ErrorKind::NotFound),
            "no such webhook",
        )
    })
}

#[utoipa::path(post, path = "/admin/v1/tenants/{slug}/webhooks", params(Slug), request_body(content = NewWebhook, content_type = "application/json"), responses(
    (status = 201, description = "The webhook, with its signing secret (shown this once)", body = WebhookJson),
    (status = 400, description = "The URL is not http(s), or its host is not in webhook_allowed_hosts; an unknown event kind; too many webhooks", body = ErrorJson),
    super::TenantRefusals,
    (status = 413, description = "The body is too large", body = ErrorJson),
))]
/// Registers a webhook for a tenant's events.
pub(super) async fn create_webhook(
    body: Posted<NewWebhook>,
    slug: Slug,
    services: Data<Services>,
) -> Reply<Admin> {
    let NewWebhook { url, events } = body.0;
    let webhook = services.webhooks.register(&slug, &url, &events).await?;
    Ok(HttpResponse::Created().json(WebhookJson::of(&webhook, true)))
}

#[utoipa::path(get, path = "/admin/v1/tenants/{slug}/webhooks", params(Slug), responses(
    (status = 200, description = "The tenant's webhooks, oldest first (without their secrets)", body = WebhooksJson),
    super::TenantRefusals,
))]
/// Lists a tenant's webhooks.
pub(super) async fn list_webhooks(
    _: AdminCaller,
    slug: Slug,
    services: Data<Services>,
) -> Reply<Admin> {
    let webhooks = services.webhooks.list(&slug).await?;
    Ok(HttpResponse::Ok().json(WebhooksJson {
        webhooks: webhooks.iter().map(|w| WebhookJson::of(w, false)).collect(),
    }))
}

#[utoipa::path(get, path = "/admin/v1/webhooks/{id}", params(Id), responses(
    (status = 200, description = "The webhook and its latest 100 deliveries, newest first", body = WebhookDetailJson),
    super::TokenRefusal,
    (status = 404, description = "No such webhook", body = ErrorJson),
))]
/// A webhook and how its deliveries went.
pub(super) async fn get_webhook(_: AdminCaller, id: Id, services: Data<Services>) -> Reply<Admin> {
    let (webhook, deliveries) = services
        .webhooks
        .get(webhook_id(&id)?, DELIVERIES_SHOWN)
        .await?;
    Ok(HttpResponse::Ok().json(WebhookDetailJson {
        webhook: WebhookJson::of(&webhook, false),
        deliveries: deliveries.iter().map(DeliveryJson::from).collect(),
    }))
}

#[utoipa::path(delete, path = "/admin/v1/webhooks/{id}", params(Id), responses(
    (status = 204, description = "The webhook is gone; its pending deliveries are not sent"),
    super::TokenRefusal,
    (status = 404, description = "No such webhook", body = ErrorJson),
))]
/// Removes a webhook.
pub(super) async fn delete_webhook(
    _: AdminCaller,
    id: Id,
    services: Data<Services>,
) -> Reply<Admin> {
    services.webhooks.delete(webhook_id(&id)?).await?;
    Ok(HttpResponse::NoContent().finish())
}
