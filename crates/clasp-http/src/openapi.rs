//! The OpenAPI 3.1 document of every dialect, served at `GET /openapi.json`, and
//! a documentation page for it at `GET /docs`.
//!
//! The document is built from the handlers' `#[utoipa::path]` attributes and the
//! `ToSchema` types the handlers serialise, one part per dialect merged into
//! one document with a tag per dialect, so it cannot drift from the code. The
//! page is Swagger UI (npm `swagger-ui-dist`, Apache-2.0, vendored under
//! `crates/clasp-http/assets/swagger-ui/`) embedded in the binary: the service
//! may run offline, and the page loads nothing from anywhere but Clasp.
//!
//! Where two dialects answer the same path (`/api/v1/attachments/…`: `chat` by
//! session cookie, `redirect` by Bearer key), one operation documents both: its
//! security lists both schemes and its responses both bodies.

use actix_web::http::{Method, header};
use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{InfoBuilder, OpenApi as Document, OpenApiBuilder};

use crate::dialects::Dialect;
use crate::routes::{Group, Handler};

/// Version of the vendored Swagger UI, for whoever updates it.
pub const SWAGGER_UI_VERSION: &str = "5.35.0";

const PAGE: &str = include_str!("../assets/docs.html");
const INIT: &str = include_str!("../assets/docs.js");
const CSS: &str = include_str!("../assets/swagger-ui/swagger-ui.css");
const BUNDLE: &str = include_str!("../assets/swagger-ui/swagger-ui-bundle.js");

/// `GET /openapi.json` of a listener: its document, not an API operation.
fn document_route() -> Handler {
    Handler::undocumented(Method::GET, "/openapi.json", "the document itself", || {
        web::to(openapi_json)
    })
}

/// The admin listener's `GET /openapi.json`: the admin API's document.
pub(crate) fn admin_routes() -> Group {
    Group::new(
        Dialect::Ops,
        (OpenApiBuilder::new().build(), vec![document_route()]),
    )
}

/// `GET /openapi.json`, `GET /docs` and the page's assets: not API
/// operations, so not in the document.
pub(crate) fn routes() -> Group {
    let page = |path, why, route| Handler::undocumented(Method::GET, path, why, route);
    Group::new(
        Dialect::Ops,
        (
            OpenApiBuilder::new().build(),
            vec![
                document_route(),
                page("/docs", "the page showing the document", || {
                    web::to(|| asset("text/html; charset=utf-8", PAGE))
                }),
                page("/docs/docs.js", "an asset of that page", || {
                    web::to(|| asset("text/javascript; charset=utf-8", INIT))
                }),
                page("/docs/swagger-ui.css", "an asset of that page", || {
                    web::to(|| asset("text/css; charset=utf-8", CSS))
                }),
                page(
                    "/docs/swagger-ui-bundle.js",
                    "an asset of that page",
                    || web::to(|| asset("text/javascript; charset=utf-8", BUNDLE)),
                ),
            ],
        ),
    )
}

/// The refusals every endpoint of a Bearer dialect may answer, in that
/// dialect's error body `E` (for the OpenAPI document).
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "only describes refusals in the OpenAPI document")]
pub(crate) enum BearerRefusals<E: utoipa::ToSchema> {
    /// No, unknown or revoked API key.
    #[response(status = 401)]
    Unauthorized(E),
    /// The key lacks the endpoint's scope, or (workspaces) names another workspace.
    #[response(status = 403)]
    Forbidden(E),
    /// Too many requests with this key; see `Retry-After`.
    #[response(status = 429)]
    RateLimited(E),
}

/// The refusals of an endpoint of a Bearer dialect that names an attachment
/// (or ticket, or message): those of [`BearerRefusals`], and 404 when nothing
/// of that id is in the key's tenant, also for ids of the wrong form.
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "only describes refusals in the OpenAPI document")]
pub(crate) enum Refusals<E: utoipa::ToSchema> {
    /// No, unknown or revoked API key.
    #[response(status = 401)]
    Unauthorized(E),
    /// The key lacks the endpoint's scope, or (workspaces) names another workspace.
    #[response(status = 403)]
    Forbidden(E),
    /// No such attachment (or ticket, or message) in the key's tenant; also
    /// the answer for ids of the wrong form.
    #[response(status = 404)]
    NotFound(E),
    /// Too many requests with this key; see `Retry-After`.
    #[response(status = 429)]
    RateLimited(E),
}

/// The document, serialised once at start-up: it never changes while running.
pub(crate) struct Rendered(pub(crate) String);

/// The public listener's document without its paths: its description, a tag
/// per dialect and the security schemes; the route table adds every route's
/// operation.
pub(crate) fn skeleton() -> Document {
    let public: Vec<Dialect> = Dialect::ALL
        .into_iter()
        .filter(|d| *d != Dialect::Admin)
        .collect();
    let mut doc = described(
        "Clasp",
        "One attachments service speaking five attachment APIs (dialects) over one \
         domain model. Each tag is one dialect; `docs/dialects/*.md` in the \
         repository explains every choice.",
        &public,
    );
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("ixk_…")
                .description(Some("An API key made by `clasp admin key create`"))
                .build(),
        ),
    );
    components.add_security_scheme(
        "workspace",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "x-workspace-id",
            "The workspace slug, equal to the path's `{workspace_id}` (workspaces dialect)",
        ))),
    );
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            "clasp_session",
            "A session made by `clasp admin session create` (chat dialect)",
        ))),
    );
    doc
}

/// The admin listener's document without its paths.
pub(crate) fn admin_skeleton() -> Document {
    let mut doc = described(
        "Clasp admin API",
        "How a host product provisions Clasp: tenants, API keys, chat sessions, quotas \
         and upload policies. Served on the admin listener only (`admin_listen`), with \
         its probes and metrics; README's \"Provisioning from your product\" walks through it.",
        &[Dialect::Admin, Dialect::Ops],
    );
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "admin",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("The admin token (`admin_token`, at least 32 bytes)"))
                .build(),
        ),
    );
    doc
}

/// A document titled `title` saying `description`, with a tag for each of
/// `dialects`.
fn described(title: &str, description: &str, dialects: &[Dialect]) -> Document {
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title(title)
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(description))
                .build(),
        )
        .tags(Some(tags(dialects)))
        .build()
}

/// A tag per dialect of `dialects`, and one for Clasp's own routes.
fn tags(dialects: &[Dialect]) -> Vec<utoipa::openapi::tag::Tag> {
    let mut tags: Vec<utoipa::openapi::tag::Tag> = Vec::new();
    for d in dialects {
        if tags.iter().all(|t| t.name != d.tag()) {
            tags.push(
                TagBuilder::new()
                    .name(d.tag())
                    .description(Some(d.description()))
                    .build(),
            );
        }
    }
    tags
}

/// The document as JSON; a document that cannot be serialised is a bug the
/// tests catch, answered as an empty object rather than a crash.
pub(crate) fn document_json(document: &Document) -> String {
    document.to_json().unwrap_or_else(|e| {
        tracing::error!(error = %e, "the OpenAPI document cannot be serialised");
        "{}".to_owned()
    })
}

async fn openapi_json(rendered: web::Data<Rendered>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(rendered.0.clone())
}

async fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}
