//! The route table: every route of every dialect, registered and documented
//! in one place.
//!
//! Each dialect module lists its handlers once with `handlers!`; each
//! handler's `#[utoipa::path]` gives its method and path, so the same list
//! documents the route (the dialect's part of `/openapi.json`) and registers it
//! (an actix resource at that path). The few routes that are not API
//! operations say why. Every route is registered with its [`Dialect`] as app
//! data, so refusals, metrics and logs name the dialect of the route that
//! matched, never one guessed from the path. Which dialects there are, and
//! in what order their routes are matched, is [`crate::dialects`].

use std::collections::BTreeMap;

use actix_web::guard::{self, GuardContext};
use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::web;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::path::{HttpMethod, Operation, PathItem};

use crate::dialects::{Dialect, admin_groups, public_groups};
use crate::{limits, openapi, ops};

/// How a handler is documented.
pub(crate) enum Doc {
    /// By its own `#[utoipa::path]`, whose operation id is this name.
    Own(&'static str),
    /// By another dialect's operation on the same method and path, which
    /// documents both (the two dialects of `/api/v1`).
    SameAs(Dialect, &'static str),
    /// Not at all, at this method and path, for this reason.
    Not(Method, &'static str, &'static str),
}

/// One handler of a dialect.
pub(crate) struct Handler {
    doc: Doc,
    route: fn() -> actix_web::Route,
}

impl Handler {
    /// A handler documented by its own `#[utoipa::path]` (see [`handlers!`]).
    pub(crate) fn new(operation: &'static str, route: fn() -> actix_web::Route) -> Self {
        Self {
            doc: Doc::Own(operation),
            route,
        }
    }

    /// A handler documented by `dialect`'s `operation`.
    pub(crate) fn same_as(
        dialect: Dialect,
        operation: &'static str,
        route: fn() -> actix_web::Route,
    ) -> Self {
        Self {
            doc: Doc::SameAs(dialect, operation),
            route,
        }
    }

    /// A route that is no API operation, with the reason.
    pub(crate) fn undocumented(
        method: Method,
        path: &'static str,
        why: &'static str,
        route: fn() -> actix_web::Route,
    ) -> Self {
        Self {
            doc: Doc::Not(method, path, why),
            route,
        }
    }
}

/// Lists a module's handlers once: documents them (an OpenAPI part built from
/// their `#[utoipa::path]`) and yields them for the table, each named by its
/// operation id (the function's name). `handler in module` names one of a
/// child module.
macro_rules! handlers {
    ($($handler:ident $(in $module:ident)?),* $(,)?) => {{
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($($module::)? $handler),*))]
        struct Part;
        (
            <Part as utoipa::OpenApi>::openapi(),
            vec![$($crate::routes::Handler::new(
                stringify!($handler),
                || actix_web::web::to($($module::)? $handler),
            )),*],
        )
    }};
}
pub(crate) use handlers;

/// Requests a dialect takes whatever their path under a prefix, when a guard
/// says they are its own (the `redirect` dialect's requests under `/api/v1`).
pub(crate) struct Claim {
    /// The prefix of every path of the dialect.
    pub prefix: &'static str,
    /// Which requests are the dialect's.
    pub guard: fn(&GuardContext<'_>) -> bool,
    /// The answer to its requests that no handler takes (any path, any method).
    pub fallback: fn() -> actix_web::Route,
}

/// A dialect's (or Clasp's own group's) routes.
pub(crate) struct Group {
    dialect: Dialect,
    document: Document,
    handlers: Vec<Handler>,
    claim: Option<Claim>,
}

impl Group {
    /// `handlers` of `dialect`, documented by `document` (from [`handlers!`]).
    pub(crate) fn new(dialect: Dialect, (document, handlers): (Document, Vec<Handler>)) -> Self {
        Self {
            dialect,
            document,
            handlers,
            claim: None,
        }
    }

    /// The same, with `more` handlers.
    pub(crate) fn with(mut self, more: impl IntoIterator<Item = Handler>) -> Self {
        self.handlers.extend(more);
        self
    }

    /// The same, claiming the requests `claim` says are the dialect's.
    pub(crate) fn claiming(mut self, claim: Claim) -> Self {
        self.claim = Some(claim);
        self
    }
}

/// Why the route table cannot be built: a handler names an operation no
/// document holds (a bug the table's tests catch).
#[derive(Debug, thiserror::Error)]
#[error("the route table names {dialect:?}'s operation {operation:?}, which no document holds")]
pub struct RouteTableError {
    dialect: Dialect,
    operation: &'static str,
}

/// One route of the table, as tests and documentation list them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// Its dialect.
    pub dialect: Dialect,
    /// Its method, lower case as OpenAPI writes it (`get`).
    pub method: String,
    /// Its path template.
    pub path: String,
    /// `None` when `/openapi.json` documents it, else why not.
    pub undocumented: Option<&'static str>,
}

struct Resolved {
    info: RouteInfo,
    method: Method,
    route: fn() -> actix_web::Route,
}

struct ResolvedGroup {
    dialect: Dialect,
    claim: Option<Claim>,
    routes: Vec<Resolved>,
}

/// Every route of one of Clasp's listeners, in the order they are matched,
/// and the OpenAPI document describing them. Built once per process.
pub struct RouteTable {
    groups: Vec<ResolvedGroup>,
    document: Document,
}

impl RouteTable {
    /// The public listener's table: the dialects, signed URLs, `/healthz` and
    /// the documentation.
    pub fn new() -> Result<Self, RouteTableError> {
        Self::of(public_groups(), openapi::skeleton())
    }

    /// The admin listener's table: the admin API, probes and metrics.
    pub fn admin() -> Result<Self, RouteTableError> {
        Self::of(admin_groups(), openapi::admin_skeleton())
    }

    /// Resolves every handler's method and path of `groups` from its
    /// documentation, and builds the whole document from `document`, each
    /// operation id prefixed with its dialect.
    fn of(mut groups: Vec<Group>, mut document: Document) -> Result<Self, RouteTableError> {
        for g in &mut groups {
            complete_operations(&mut g.document, g.dialect);
        }
        let lookup: BTreeMap<(Dialect, String), (String, HttpMethod)> = groups
            .iter()
            .flat_map(|g| {
                operations(&g.document).map(move |(path, m, op)| (g.dialect, path, m, op))
            })
            .filter_map(|(d, path, method, op)| {
                let id = op.operation_id.clone()?;
                Some(((d, id), (path.clone(), method)))
            })
            .collect();
        let mut resolved = Vec::new();
        for g in groups {
            let mut routes = Vec::new();
            for h in g.handlers {
                let (path, method, undocumented) = match h.doc {
                    Doc::Own(op) => resolve(&lookup, g.dialect, op)?,
                    Doc::SameAs(d, op) => resolve(&lookup, d, op)?,
                    Doc::Not(method, path, why) => (path.to_owned(), method, Some(why)),
                };
                routes.push(Resolved {
                    info: RouteInfo {
                        dialect: g.dialect,
                        method: method.as_str().to_ascii_lowercase(),
                        path,
                        undocumented,
                    },
                    method,
                    route: h.route,
                });
            }
            document.merge(g.document);
            resolved.push(ResolvedGroup {
                dialect: g.dialect,
                claim: g.claim,
                routes,
            });
        }
        Ok(Self {
            groups: resolved,
            document,
        })
    }

    /// The OpenAPI document of every documented route.
    pub fn document(&self) -> &Document {
        &self.document
    }

    /// Every route, in matching order.
    pub fn routes(&self) -> impl Iterator<Item = &RouteInfo> {
        self.groups
            .iter()
            .flat_map(|g| g.routes.iter().map(|r| &r.info))
    }

    /// Registers every route: one resource per path, carrying its dialect and
    /// the dialect-aware middleware (admission, body accounting).
    pub(crate) fn register(&self, cfg: &mut web::ServiceConfig) {
        for group in &self.groups {
            let dialect = group.dialect;
            let mut paths: Vec<(&str, Vec<&Resolved>)> = Vec::new();
            for r in &group.routes {
                match paths.iter_mut().find(|(p, _)| *p == r.info.path) {
                    Some((_, same)) => same.push(r),
                    None => paths.push((&r.info.path, vec![r])),
                }
            }
            // `download::answer_head` routes every HEAD request as a GET (so
            // each GET answers HEAD), so a documented HEAD operation is
            // registered as the GET of its path.
            let resource = |path: &str, routes: &[&Resolved]| {
                routes.iter().fold(web::resource(path), |res, r| {
                    let method = match r.method {
                        Method::HEAD => Method::GET,
                        ref other => other.clone(),
                    };
                    res.route((r.route)().method(method))
                })
            };
            match &group.claim {
                None => {
                    for (path, routes) in &paths {
                        cfg.service(
                            resource(path, routes)
                                .app_data(dialect)
                                .wrap(from_fn(limits::admit))
                                .wrap(from_fn(ops::count_request_body)),
                        );
                    }
                }
                Some(claim) => {
                    let guard = claim.guard;
                    let scope = paths.iter().fold(
                        web::scope(claim.prefix)
                            .guard(guard::fn_guard(guard))
                            .default_service((claim.fallback)()),
                        |scope, (path, routes)| {
                            let inner = path.strip_prefix(claim.prefix).unwrap_or(path);
                            scope.service(
                                resource(inner, routes).default_service((claim.fallback)()),
                            )
                        },
                    );
                    cfg.service(
                        scope
                            .app_data(dialect)
                            .wrap(from_fn(limits::admit))
                            .wrap(from_fn(ops::count_request_body)),
                    );
                }
            }
        }
    }
}

fn resolve(
    lookup: &BTreeMap<(Dialect, String), (String, HttpMethod)>,
    dialect: Dialect,
    operation: &'static str,
) -> Result<(String, Method, Option<&'static str>), RouteTableError> {
    let missing = RouteTableError { dialect, operation };
    let (path, method) = lookup
        .get(&(dialect, operation_id(dialect, operation)))
        .ok_or(missing)?;
    let method = Method::from_bytes(http_method(method).as_bytes()).unwrap_or(Method::GET);
    Ok((path.clone(), method, None))
}

/// The operation id of `operation` of `dialect` in the whole document: unique
/// across dialects, as client generators need.
pub fn operation_id(dialect: Dialect, operation: &str) -> String {
    format!("{}_{operation}", dialect.label())
}

/// Gives every operation of a dialect's document its unique id, and its
/// dialect's tag and credentials unless it names its own.
fn complete_operations(document: &mut Document, dialect: Dialect) {
    for item in document.paths.paths.values_mut() {
        for op in operations_mut(item) {
            if let Some(id) = op.operation_id.take() {
                op.operation_id = Some(operation_id(dialect, &id));
            }
            // utoipa tags an operation without a tag of its own with its
            // module's name, or with nothing
            let own_tags = op.tags.as_ref().is_some_and(|tags| {
                !tags.is_empty()
                    && tags
                        .iter()
                        .all(|t| Dialect::ALL.iter().any(|d| d.tag() == t))
            });
            if !own_tags {
                op.tags = Some(vec![dialect.tag().to_owned()]);
            }
            op.security.get_or_insert_with(|| vec![dialect.security()]);
        }
    }
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

fn operations(document: &Document) -> impl Iterator<Item = (&String, HttpMethod, &Operation)> {
    document.paths.paths.iter().flat_map(|(path, item)| {
        [
            (HttpMethod::Get, &item.get),
            (HttpMethod::Put, &item.put),
            (HttpMethod::Post, &item.post),
            (HttpMethod::Delete, &item.delete),
            (HttpMethod::Options, &item.options),
            (HttpMethod::Head, &item.head),
            (HttpMethod::Patch, &item.patch),
            (HttpMethod::Trace, &item.trace),
        ]
        .into_iter()
        .filter_map(move |(m, op)| op.as_ref().map(|op| (path, m, op)))
    })
}

fn http_method(method: &HttpMethod) -> &'static str {
    match method {
        HttpMethod::Get => "GET",
        HttpMethod::Put => "PUT",
        HttpMethod::Post => "POST",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Options => "OPTIONS",
        HttpMethod::Head => "HEAD",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Trace => "TRACE",
    }
}
