//! # clasp-http
//!
//! The HTTP front of Clasp on actix-web. Each dialect module only translates its
//! wire format — paths, field names, status codes, error bodies, auth scheme — into
//! calls of the domain services; the rules live once, in `clasp-domain`.
//!
//! | module | dialect | paths |
//! |---|---|---|
//! | [`tickets`] | seed 001 | `/v1/tickets/{ticket_id}/attachments…` |
//! | [`workspaces`] | seed 000 | `/v1/workspaces/{workspaceId}/…` |
//! | [`cases`] | seed 002 | `/api-public/1.0/…` |
//! | [`chat`] | seed 003 | `/api/v1/…` with the `clasp_session` cookie |
//! | [`redirect`] | seed 004 | `/api/v1/…` with `Authorization: Bearer` |
//! | [`signed`] | Clasp's own signed download URLs | `GET /signed/{tenant}/{attachment}` |
//! | [`signed_upload`] | Clasp's own signed upload URLs | `PUT /signed-upload/{tenant}/{attachment}` |
//! | [`download`] | byte ranges, entity tags, `HEAD` of every download | — |
//! | [`limits`] | stalled bodies, upload cap, per-credential rate | — |
//! | [`openapi`] | the OpenAPI 3.1 document of every dialect and its page | `/openapi.json`, `/docs` |
//! | [`ops`] | operations: health, readiness, metrics | `/healthz`, `/readyz`, `/metrics` |

mod bearer;
mod body;
pub mod cases;
pub mod chat;
pub mod download;
mod form;
pub mod limits;
pub mod openapi;
pub mod ops;
pub mod redirect;
mod session;
pub mod signed;
pub mod signed_upload;
pub mod tickets;
pub mod workspaces;

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::web;
use clasp_domain::{AttachmentService, IdentityService};

/// The services every dialect calls, shared by all workers.
#[derive(Clone)]
pub struct Services {
    /// Attachment use cases.
    pub attachments: AttachmentService,
    /// Authentication and identities.
    pub identities: IdentityService,
    /// How long the URL a `redirect` download points to works (the seed: 15
    /// minutes).
    pub redirect_url_ttl: time::Duration,
}

/// Registers every dialect's routes; the caller wraps them in an `App`.
pub fn configure(services: Services) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(services))
            .configure(tickets::routes)
            .configure(workspaces::routes)
            .configure(cases::routes)
            .configure(redirect::routes)
            .configure(chat::routes)
            .configure(signed::routes)
            .configure(signed_upload::routes)
            .configure(openapi::routes);
    }
}

/// A refusal made outside a dialect's handlers (by [`limits`]), in the error
/// shape of the dialect the request was meant for.
pub(crate) fn refusal(
    req: &actix_web::HttpRequest,
    refused: limits::Refusal,
) -> actix_web::HttpResponse {
    match ops::dialect_of(req.match_pattern().as_deref(), req) {
        "tickets" => tickets::refusal(refused),
        "workspaces" => workspaces::refusal(refused),
        "cases" => cases::refusal(refused),
        "chat" => chat::refusal(req, refused),
        "redirect" => redirect::refusal(refused),
        _ => {
            let (status, code, message) = refused.describe();
            actix_web::HttpResponse::build(status)
                .json(serde_json::json!({ "error": code, "message": message }))
        }
    }
}

/// Headers every response carries: browsers must never guess a type Clasp did not state.
pub fn default_headers() -> DefaultHeaders {
    DefaultHeaders::new().add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
}

#[cfg(test)]
mod auth_matrix;
#[cfg(test)]
mod faults;
#[cfg(test)]
mod tests;
