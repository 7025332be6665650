//! The admin API under `/admin/v1`, served on the admin listener only: how a
//! host product provisions Clasp over HTTP (tenants, API keys, chat sessions,
//! quotas) instead of running `clasp admin …` against the database. Every
//! route calls the same [`IdentityService`](clasp_domain::IdentityService)
//! methods the CLI calls, so the two never disagree.
//!
//! Every request presents `Authorization: Bearer <admin token>`, compared in
//! constant time; without a configured token every request is refused. Errors
//! are `{"error": "<code>", "message": "<text>"}`.

mod credentials;
mod json;
mod tenants;
mod webhooks;

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use clasp_domain::ErrorKind;
use clasp_domain::credentials::hash_secret;
use futures::future::LocalBoxFuture;
use serde::Serialize;
use subtle::ConstantTimeEq;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};

use crate::body;
use crate::dialects::Dialect;
use crate::extract::{ParamName, PathParam};
use crate::own::ErrorJson;
use crate::problem::{Problem, ProblemKind};
use crate::routes::{Group, handlers};
use crate::wire::{ApiError, INTERNAL_MESSAGE, Wire, WireDialect, standard};

/// The admin API's way of saying problems.
pub struct Admin;

impl WireDialect for Admin {
    const DIALECT: Dialect = Dialect::Admin;
    type Caller = AdminCaller;

    fn wire(problem: &Problem) -> Wire {
        use ProblemKind as P;
        use StatusCode as S;
        match problem.kind {
            P::Unauthenticated | P::BadCredential => Wire::new(S::UNAUTHORIZED, "unauthorized")
                .saying("the admin API needs Authorization: Bearer <admin token>"),
            P::Domain(ErrorKind::NotFound) => Wire::new(S::NOT_FOUND, "not_found"),
            P::Domain(ErrorKind::Internal) => {
                Wire::new(S::INTERNAL_SERVER_ERROR, "internal_error").saying(INTERNAL_MESSAGE)
            }
            _ => standard(problem),
        }
    }

    fn body<'a>(_: &'a Problem, wire: &'a Wire, message: &'a str) -> impl Serialize + 'a {
        ErrorJson::new(&wire.code, message)
    }
}

/// The admin token in force, kept as its hash: `None` when none is
/// configured, and then the admin API refuses every request.
#[derive(Clone, Default)]
pub struct AdminToken(Option<String>);

impl AdminToken {
    /// The token `token` (checked for length by the configuration).
    pub fn new(token: Option<&str>) -> Self {
        Self(token.map(hash_secret))
    }

    /// Whether `presented` is the token. Both are hashed first, so the
    /// comparison takes as long whatever the presented value's length, and
    /// compared in constant time.
    fn admits(&self, presented: &str) -> bool {
        self.0.as_ref().is_some_and(|hash| {
            bool::from(hash.as_bytes().ct_eq(hash_secret(presented).as_bytes()))
        })
    }
}

/// A request that presented the admin token; every admin route takes one, so
/// no body byte is read before the token is checked.
pub struct AdminCaller;

impl FromRequest for AdminCaller {
    type Error = ApiError<Admin>;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = req.app_data::<web::Data<AdminToken>>();
        let presented = crate::credentials::bearer(req.headers()).filter(|t| !t.is_empty());
        ready(match (token, presented) {
            (_, None) => Err(Problem::new(ProblemKind::Unauthenticated, "no admin token").into()),
            (Some(token), Some(presented)) if token.admits(presented) => Ok(AdminCaller),
            _ => Err(Problem::new(ProblemKind::BadCredential, "wrong admin token").into()),
        })
    }
}

/// The refusal every admin endpoint shares, written once for the document.
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "only describes refusals in the OpenAPI document")]
pub(crate) enum TokenRefusal {
    /// No or a wrong admin token
    #[response(status = 401)]
    Unauthorized(ErrorJson<'static>),
}

/// The refusals of an admin endpoint that names a tenant: the token's, and
/// 404 for a slug no tenant has (a tenant being deleted has none).
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "only describes refusals in the OpenAPI document")]
pub(crate) enum TenantRefusals {
    /// No or a wrong admin token
    #[response(status = 401)]
    Unauthorized(ErrorJson<'static>),
    /// No such tenant
    #[response(status = 404)]
    NoTenant(ErrorJson<'static>),
}

/// The largest JSON body an admin request may send.
const MAX_JSON_BYTES: usize = 64 * 1024;

/// An admin request's JSON body, read (at most 64 KiB) once the
/// token is checked.
pub struct Posted<T>(T);

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for Posted<T> {
    type Error = ApiError<Admin>;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            AdminCaller::extract(&req).await?;
            Ok(Posted(
                body::read_json(payload, MAX_JSON_BYTES, None).await?,
            ))
        })
    }
}

/// `{slug}`: a tenant's slug.
pub struct SlugName;

impl ParamName for SlugName {
    const NAME: &'static str = "slug";
    const DESCRIPTION: &'static str = "The tenant's slug";

    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).into()
    }
}

/// `{id}`: a key's or a session's id (a UUID; anything else names nothing).
pub struct IdName;

impl ParamName for IdName {
    const NAME: &'static str = "id";
    const DESCRIPTION: &'static str = "The id";

    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).into()
    }
}

/// The tenant a route names.
type Slug = PathParam<String, SlugName, Admin>;

/// The key or session a route names, as written in the path.
type Id = PathParam<String, IdName, Admin>;

/// Every route of the admin API.
pub(crate) fn routes() -> Group {
    Group::new(
        Dialect::Admin,
        handlers![
            create_tenant in tenants,
            list_tenants in tenants,
            get_tenant in tenants,
            delete_tenant in tenants,
            get_quota in tenants,
            put_quota in tenants,
            get_policy in tenants,
            put_policy in tenants,
            create_key in credentials,
            list_keys in credentials,
            revoke_key in credentials,
            create_session in credentials,
            revoke_session in credentials,
            create_webhook in webhooks,
            list_webhooks in webhooks,
            get_webhook in webhooks,
            delete_webhook in webhooks,
        ],
    )
}
