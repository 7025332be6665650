//! The front door: every route of the public and the admin listener with the
//! middleware around them, built the same way by `clasp serve`, by the tests
//! and by the fuzzers, so what they exercise is what runs.

use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Condition, from_fn};
use actix_web::{App, Error, web};

use crate::admin::AdminToken;
use crate::extract::TrustedOrigins;
use crate::limits::{self, Admission, BodyDeadline, BodyIdleTimeout};
use crate::openapi::{Rendered, document_json};
use crate::ops::{self, Metrics, Readiness};
use crate::routes::{RouteTable, RouteTableError};
use crate::thumbnails::ThumbnailQueue;
use crate::{Services, default_headers, download};

/// The public and the admin listener's apps, and the settings around their
/// routes. Cheap to clone: one per worker.
#[derive(Clone)]
pub struct FrontDoor {
    services: Services,
    table: Arc<RouteTable>,
    rendered: web::Data<Rendered>,
    admin_table: Arc<RouteTable>,
    admin_rendered: web::Data<Rendered>,
    admin_token: web::Data<AdminToken>,
    metrics: Metrics,
    readiness: web::Data<Readiness>,
    admission: Option<web::Data<Admission>>,
    body_idle: Option<BodyIdleTimeout>,
    body_deadline: Option<BodyDeadline>,
    thumbnails: web::Data<ThumbnailQueue>,
    cors_origins: Vec<String>,
    public_url: Option<String>,
}

impl FrontDoor {
    /// Every route over `services`, with fresh metrics, no admission limits, no
    /// body timeouts, no CORS and no admin token (the admin API refuses all).
    pub fn new(services: Services) -> Result<Self, RouteTableError> {
        let table = RouteTable::new()?;
        let rendered = web::Data::new(Rendered(document_json(table.document())));
        let admin_table = RouteTable::admin()?;
        let admin_rendered = web::Data::new(Rendered(document_json(admin_table.document())));
        Ok(Self {
            services,
            table: Arc::new(table),
            rendered,
            admin_table: Arc::new(admin_table),
            admin_rendered,
            admin_token: web::Data::new(AdminToken::default()),
            metrics: Metrics::new(),
            readiness: web::Data::new(Readiness::default()),
            admission: None,
            body_idle: None,
            body_deadline: None,
            thumbnails: web::Data::new(ThumbnailQueue::default()),
            cors_origins: Vec::new(),
            public_url: None,
        })
    }

    /// The same, counting into `metrics` (shared with the sweeper and `/metrics`).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The same, admitting requests by `admission` (upload slots, request rates).
    #[must_use]
    pub fn with_admission(mut self, admission: Admission) -> Self {
        self.admission = Some(web::Data::new(admission));
        self
    }

    /// The same, cutting off request bodies that send nothing for `idle`.
    #[must_use]
    pub fn with_body_idle_timeout(mut self, idle: Duration) -> Self {
        self.body_idle = Some(BodyIdleTimeout(idle));
        self
    }

    /// The same, cutting off request bodies still sending `whole` after their
    /// request's head arrived.
    #[must_use]
    pub fn with_body_deadline(mut self, whole: Duration) -> Self {
        self.body_deadline = Some(BodyDeadline(whole));
        self
    }

    /// The same, making at most `turns` thumbnails at once (one per core by
    /// default).
    #[must_use]
    pub fn with_thumbnail_turns(mut self, turns: usize) -> Self {
        self.thumbnails = web::Data::new(ThumbnailQueue::new(turns));
        self
    }

    /// The same, with CORS for `origins` (`*` for any).
    #[must_use]
    pub fn with_cors(mut self, origins: Vec<String>) -> Self {
        self.cors_origins = origins;
        self
    }

    /// The same, knowing the URL clients reach Clasp at: its origin may send
    /// a session cookie with requests that change something.
    #[must_use]
    pub fn with_public_url(mut self, url: &str) -> Self {
        self.public_url = Some(url.to_owned());
        self
    }

    /// The same, admitting admin requests that present `token`.
    #[must_use]
    pub fn with_admin_token(mut self, token: Option<&str>) -> Self {
        self.admin_token = web::Data::new(AdminToken::new(token));
        self
    }

    /// The origins a browser may send a session cookie from with a request
    /// that changes something: the named CORS origins and Clasp's own.
    fn trusted_origins(&self) -> TrustedOrigins {
        let named = self.cors_origins.iter().filter(|o| *o != "*").cloned();
        let own = self.public_url.as_deref().and_then(origin_of);
        TrustedOrigins(named.chain(own).collect())
    }

    /// The route table behind the public app.
    pub fn routes(&self) -> &RouteTable {
        &self.table
    }

    /// The route table behind the admin app.
    pub fn admin_routes(&self) -> &RouteTable {
        &self.admin_table
    }

    /// The metrics the app counts into.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The public app of one worker.
    pub fn app(
        &self,
    ) -> App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody + use<>>,
            Error = Error,
            InitError = (),
        > + use<>,
    > {
        self.app_of(&self.table, &self.rendered, self.admission.clone(), true)
    }

    /// The admin app of one worker: no CORS (no page calls it) and no
    /// admission limits (a host provisions at its own pace).
    pub fn admin_app(
        &self,
    ) -> App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody + use<>>,
            Error = Error,
            InitError = (),
        > + use<>,
    > {
        self.app_of(&self.admin_table, &self.admin_rendered, None, false)
    }

    /// The app of `table`, documented by `rendered`.
    fn app_of(
        &self,
        table: &Arc<RouteTable>,
        rendered: &web::Data<Rendered>,
        admission: Option<web::Data<Admission>>,
        cors: bool,
    ) -> App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody + use<>>,
            Error = Error,
            InitError = (),
        > + use<>,
    > {
        let table = Arc::clone(table);
        let (idle, deadline) = (self.body_idle, self.body_deadline);
        App::new()
            // innermost first: refusals still get CORS headers (browsers can
            // read them) and are counted and logged by `observe`
            .wrap(default_headers())
            .wrap(from_fn(limits::body_timeouts))
            .wrap(Condition::new(
                cors && !self.cors_origins.is_empty(),
                ops::cors(&self.cors_origins),
            ))
            .wrap(from_fn(download::answer_head))
            .wrap(from_fn(ops::observe))
            .app_data(web::Data::new(self.metrics.clone()))
            .app_data(web::Data::new(self.services.clone()))
            .app_data(rendered.clone())
            .app_data(self.admin_token.clone())
            .app_data(self.readiness.clone())
            .app_data(self.thumbnails.clone())
            .app_data(web::Data::new(self.trusted_origins()))
            .configure(move |cfg| {
                if let Some(admission) = admission {
                    cfg.app_data(admission);
                }
                if let Some(idle) = idle {
                    cfg.app_data(web::Data::new(idle));
                }
                if let Some(deadline) = deadline {
                    cfg.app_data(web::Data::new(deadline));
                }
                table.register(cfg);
            })
    }
}

/// The origin (`scheme://host[:port]`) of an absolute URL, as browsers send it
/// in `Origin`. Written here rather than with a URL crate: it is the text up to
/// the path, and nothing else is needed of it.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::origin_of;

    #[test]
    fn origins_are_the_scheme_and_authority() {
        assert_eq!(
            origin_of("https://files.example:8443/base/").as_deref(),
            Some("https://files.example:8443")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(origin_of("no-scheme"), None);
    }
}
