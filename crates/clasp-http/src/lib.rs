//! # clasp-http
//!
//! The HTTP front of Clasp on actix-web. Each dialect module only translates its
//! wire format — paths, field names, status codes, error bodies, auth scheme —
//! into calls of the domain services; the rules live once, in `clasp-domain`.
//!
//! A request flows through one front door (`docs/architecture.md` walks it):
//!
//! 1. [`FrontDoor::app`] wraps every route in the same middleware: request ids,
//!    logs and metrics ([`ops::observe`]), `HEAD` ([`download::answer_head`]),
//!    CORS, stalled- and dripping-body cut-off ([`limits::body_timeouts`]).
//! 2. The route table ([`RouteTable`], over the registry of [`dialects`]) matched
//!    the route; each route carries its [`Dialect`], and its own admission ([`limits::admit`]) and body accounting
//!    ([`ops::count_request_body`]), so refusals and labels name the right dialect.
//! 3. Extractors ([`extract`]) authenticate the caller and read typed ids,
//!    refusing in the dialect's words; no body byte is read before they pass.
//! 4. The handler calls a domain service; every failure becomes a
//!    [`problem::Problem`] with `?`, and the dialect's table in [`wire`] says it
//!    in its own status codes and error body.
//!
//! | module | dialect | paths |
//! |---|---|---|
//! | [`dialects::tickets`] | seed 001 | `/v1/tickets/{ticket_id}/attachments…` |
//! | [`dialects::workspaces`] | seed 000 | `/v1/workspaces/{workspace_id}/…` |
//! | [`dialects::cases`] | seed 002 | `/api-public/1.0/…` |
//! | [`dialects::chat`] | seed 003 | `/api/v1/…` with the `clasp_session` cookie |
//! | [`dialects::redirect`] | seed 004 | `/api/v1/…` with `Authorization: Bearer` |
//! | [`signed`], [`signed_upload`] | Clasp's own signed URLs | `/signed/…`, `/signed-upload/…` |
//! | [`ops`], [`openapi`] | operations and documentation | `/healthz`, `/openapi.json`, `/docs` |
//!
//! The admin listener ([`FrontDoor::admin_app`]) has a table of its own: the
//! admin API ([`admin`], `/admin/v1/…`), `/healthz`, `/readyz`, `/metrics` and
//! the admin API's `/openapi.json`.

pub mod admin;
mod body;
pub mod credentials;
pub mod dialects;
pub mod download;
pub mod extract;
mod form;
mod front;
mod json;
pub mod limits;
pub mod openapi;
pub mod ops;
pub mod own;
pub mod problem;
pub mod routes;
pub mod signed;
pub mod signed_upload;
mod taking_turns;
pub mod thumbnails;
pub mod wire;

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use clasp_domain::{AttachmentService, IdentityService};

pub use dialects::Dialect;
pub use front::FrontDoor;
pub use routes::{RouteInfo, RouteTable, RouteTableError};

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
    /// Tenants' webhooks (`/admin/v1/.../webhooks`).
    pub webhooks: clasp_domain::webhooks::WebhookService,
}

/// Headers every response carries: browsers must never guess a type Clasp did not state.
pub fn default_headers() -> DefaultHeaders {
    DefaultHeaders::new().add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
}
