//! The dialects: one module each, and the registry that knows them all — the
//! [`Dialect`] enum, how each says a problem, its OpenAPI tag and credentials,
//! and the order in which the route table matches their routes.
//!
//! A new dialect is one new module here, and one line in each `match` below
//! and in `groups` (`docs/architecture.md` walks through it).

use actix_web::HttpResponse;
use utoipa::openapi::security::SecurityRequirement;

use crate::problem::Problem;
use crate::routes::Group;
use crate::wire::respond;
use crate::{admin, openapi, ops, own, signed, signed_upload};

pub mod cases;
pub mod chat;
pub mod redirect;
pub mod tickets;
pub mod tus;
pub mod workspaces;

/// Which part of Clasp a route belongs to: one of the five dialects, or one of
/// Clasp's own groups of routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dialect {
    /// Seed 001: `/v1/tickets/{ticket_id}/attachments…`.
    Tickets,
    /// Seed 000: `/v1/workspaces/{workspace_id}/…`.
    Workspaces,
    /// Seed 002: `/api-public/1.0/…`.
    Cases,
    /// Seed 003: `/api/v1/…` with the session cookie.
    Chat,
    /// Seed 004: `/api/v1/…` with a Bearer key.
    Redirect,
    /// Resumable uploads by the tus protocol at `/tus/`.
    Tus,
    /// Clasp's own signed download and upload URLs.
    Signed,
    /// Health, readiness, metrics and the API's documentation.
    Ops,
    /// The admin API a host product provisions Clasp with (admin listener).
    Admin,
}

impl Dialect {
    /// Every dialect and group.
    pub const ALL: [Dialect; 9] = [
        Dialect::Tickets,
        Dialect::Workspaces,
        Dialect::Cases,
        Dialect::Chat,
        Dialect::Redirect,
        Dialect::Tus,
        Dialect::Signed,
        Dialect::Ops,
        Dialect::Admin,
    ];

    /// The name metrics and logs use.
    pub fn label(self) -> &'static str {
        match self {
            Dialect::Tickets => "tickets",
            Dialect::Workspaces => "workspaces",
            Dialect::Cases => "cases",
            Dialect::Chat => "chat",
            Dialect::Redirect => "redirect",
            Dialect::Tus => "tus",
            Dialect::Signed => "signed",
            Dialect::Ops => "ops",
            Dialect::Admin => "admin",
        }
    }

    /// Its tag in the OpenAPI document (Clasp's own routes share `clasp`).
    pub fn tag(self) -> &'static str {
        match self {
            Dialect::Signed | Dialect::Ops => "clasp",
            other => other.label(),
        }
    }

    /// The credentials its operations take, unless one says otherwise: one
    /// requirement naming every scheme it needs at once (none for Clasp's
    /// own routes, whose proof is a signature or nothing).
    pub(crate) fn security(self) -> SecurityRequirement {
        let none = Vec::<String>::new;
        match self {
            Dialect::Tickets | Dialect::Cases | Dialect::Redirect | Dialect::Tus => {
                SecurityRequirement::new("bearer", none())
            }
            Dialect::Workspaces => {
                SecurityRequirement::new("bearer", none()).add("workspace", none())
            }
            Dialect::Chat => SecurityRequirement::new("session", none()),
            Dialect::Admin => SecurityRequirement::new("admin", none()),
            Dialect::Signed | Dialect::Ops => SecurityRequirement::default(),
        }
    }

    /// What its tag in the OpenAPI document says of it.
    pub(crate) fn description(self) -> &'static str {
        match self {
            Dialect::Tickets => {
                "Seed 001: `/v1/tickets/{ticket_id}/attachments…`, Bearer API keys with scopes, \
                 snake_case objects."
            }
            Dialect::Workspaces => {
                "Seed 000: `/v1/workspaces/{workspaceId}/…`, Bearer plus `x-workspace-id`, \
                 direct uploads, camelCase objects."
            }
            Dialect::Cases => {
                "Seed 002: `/api-public/1.0/…`, Bearer API keys, multipart `save_file`, \
                 `{records, count}` listings, raw downloads."
            }
            Dialect::Chat => {
                "Seed 003: `/api/v1/…` with the `clasp_session` cookie, numeric attachment ids, \
                 errors `{errorText, httpStatusCode}`."
            }
            Dialect::Redirect => {
                "Seed 004: `/api/v1/attachments/{uuid}/download` with a Bearer key: 307 to a URL \
                 valid 15 minutes, errors `{error, message, code}`."
            }
            Dialect::Tus => {
                "Resumable uploads by the tus protocol 1.0.0 at `/tus/` (creation, \
                 creation-with-upload, termination, expiration, checksum), with a Bearer key or \
                 the session cookie; the file lands where `Upload-Metadata` says."
            }
            Dialect::Admin => {
                "The admin API on the admin listener: tenants, API keys, chat sessions, quotas \
                 and upload policies, with `Authorization: Bearer <admin token>`."
            }
            Dialect::Signed | Dialect::Ops => {
                "Clasp's own endpoints: signed download and upload URLs (no credentials but the \
                 signature), health, readiness and metrics."
            }
        }
    }

    /// The answer to `problem` in this dialect's words.
    pub(crate) fn respond(self, problem: &Problem) -> HttpResponse {
        match self {
            Dialect::Tickets => respond::<tickets::Tickets>(problem, None),
            Dialect::Workspaces => respond::<workspaces::Workspaces>(problem, None),
            Dialect::Cases => respond::<cases::Cases>(problem, None),
            Dialect::Chat => respond::<chat::Chat>(problem, None),
            Dialect::Redirect => respond::<redirect::Redirect>(problem, None),
            Dialect::Tus => respond::<tus::Tus>(problem, None),
            Dialect::Signed | Dialect::Ops => respond::<own::Own>(problem, None),
            Dialect::Admin => respond::<admin::Admin>(problem, None),
        }
    }
}

/// Every group of routes of the public listener, in matching order:
/// `redirect` claims Bearer requests under `/api/v1` before `chat` sees the
/// same paths.
pub(crate) fn public_groups() -> Vec<Group> {
    vec![
        tickets::routes(),
        workspaces::routes(),
        cases::routes(),
        redirect::routes(),
        chat::routes(),
        tus::routes(),
        signed::routes(),
        signed_upload::routes(),
        ops::public_routes(),
        openapi::routes(),
    ]
}

/// Every group of routes of the admin listener: the admin API, the probes and
/// metrics, and the admin API's own document.
pub(crate) fn admin_groups() -> Vec<Group> {
    vec![
        admin::routes(),
        ops::admin_routes(),
        openapi::admin_routes(),
    ]
}
