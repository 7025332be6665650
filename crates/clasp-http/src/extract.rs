//! Extractors that authenticate a request and read its ids, refusing in the
//! dialect's words, so a handler reads like
//! `async fn get(p: Bearer<Tickets>, id: PathParam<AttachmentId, Id, Tickets>, s: Data<Services>) -> Reply<Tickets>`.
//!
//! None of them reads the body: a handler reads its form or JSON after every
//! extractor has passed, so credentials are checked before any body byte is read.

use std::marker::PhantomData;
use std::ops::Deref;
use std::str::FromStr;

use std::future::Future;

use actix_web::dev::Payload;
use actix_web::http::header::HeaderMap;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use clasp_domain::{AuthError, IdentityService, Principal};
use futures::future::LocalBoxFuture;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Required, Schema};

use crate::Services;
use crate::credentials::{self, SessionCookie as Cookies};
use crate::limits::{self, Admission, Share};
use crate::problem::{Problem, ProblemKind};
use crate::wire::{ApiError, WireDialect};

/// The services of the app, or the failure a missing registration is.
pub(crate) fn services<D>(req: &HttpRequest) -> Result<web::Data<Services>, ApiError<D>> {
    req.app_data::<web::Data<Services>>()
        .cloned()
        .ok_or_else(|| {
            Problem::new(
                ProblemKind::AuthUnavailable,
                "the services are not registered with the app",
            )
            .into()
        })
}

/// A way of presenting a credential: where the request carries it, and how
/// the identity service checks it.
pub trait Scheme: 'static {
    /// Whether the credential is a cookie a browser sends by itself: then a
    /// refused one is expired in the browser, and a request from another site
    /// may not change anything with it.
    const COOKIE: bool;

    /// The credential the request presents, if any, or why what it presents
    /// is refused before it is checked.
    fn credential(headers: &HeaderMap) -> Result<Option<&str>, Problem>;

    /// The principal behind `credential`.
    fn check<'a>(
        identities: &'a IdentityService,
        credential: &'a str,
    ) -> impl Future<Output = Result<Principal, AuthError>> + 'a;
}

/// `Authorization: Bearer <API key>`.
pub struct BearerKey;

impl Scheme for BearerKey {
    const COOKIE: bool = false;

    fn credential(headers: &HeaderMap) -> Result<Option<&str>, Problem> {
        Ok(credentials::bearer(headers).filter(|t| !t.is_empty()))
    }

    fn check<'a>(
        identities: &'a IdentityService,
        credential: &'a str,
    ) -> impl Future<Output = Result<Principal, AuthError>> + 'a {
        identities.authenticate_api_key(credential)
    }
}

/// The `clasp_session` cookie of the `chat` dialect.
pub struct SessionCookie;

impl Scheme for SessionCookie {
    const COOKIE: bool = true;

    fn credential(headers: &HeaderMap) -> Result<Option<&str>, Problem> {
        match credentials::session_cookie(headers) {
            Cookies::None => Ok(None),
            Cookies::One(value) => Ok(Some(value)),
            Cookies::Several => Err(Problem::bad_request(format!(
                "the request carries several {} cookies",
                credentials::SESSION_COOKIE
            ))),
        }
    }

    fn check<'a>(
        identities: &'a IdentityService,
        credential: &'a str,
    ) -> impl Future<Output = Result<Principal, AuthError>> + 'a {
        identities.authenticate_session(credential)
    }
}

/// The principal behind the request's credential of scheme `S`; refusals in
/// `D`'s words. A cookie that no longer works is expired in the browser by the
/// refusal's `Set-Cookie`, with the attributes a host sets it with
/// (`docs/dialects/chat.md`), `Secure` when the request came over TLS.
pub struct Authenticated<D, S>(pub Principal, PhantomData<fn() -> (D, S)>);

/// The principal behind the request's Bearer API key.
pub type Bearer<D> = Authenticated<D, BearerKey>;

/// The principal behind the request's session cookie.
pub type Session<D> = Authenticated<D, SessionCookie>;

impl<D, S> Deref for Authenticated<D, S> {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl<D: WireDialect, S: Scheme> FromRequest for Authenticated<D, S> {
    type Error = ApiError<D>;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let services = services::<D>(&req)?;
            let credential = S::credential(req.headers())?.ok_or(AuthError::Missing)?;
            if S::COOKIE {
                refuse_cross_site(&req)?;
            }
            match S::check(&services.identities, credential).await {
                Ok(mut principal) => {
                    admit(&req, &principal)?;
                    principal.dialect = Some(D::DIALECT.label());
                    Ok(Authenticated(principal, PhantomData))
                }
                Err(e @ (AuthError::Invalid | AuthError::Revoked | AuthError::Expired))
                    if S::COOKIE =>
                {
                    Err(ApiError::from(e).setting_cookie(expire_cookie(&req)))
                }
                Err(e) => Err(e.into()),
            }
        })
    }
}

/// A request's admission, once its principal is known: kept with the request
/// (so an upload's [`Share`] is held until the request is done), and taken
/// once however many extractors authenticate it.
struct Admitted {
    /// Held, never read: dropping it gives the share back.
    _share: Option<Share>,
}

/// Counts the request against `principal`'s rate and, for an upload, takes its
/// share of the upload slots ([`Admission`]), or refuses it before its body is
/// read.
fn admit(req: &HttpRequest, principal: &Principal) -> Result<(), Problem> {
    let Some(admission) = req.app_data::<web::Data<Admission>>() else {
        return Ok(());
    };
    if req.extensions().contains::<Admitted>() {
        return Ok(());
    }
    let share = admission.admit(principal, limits::sends_body(req.headers()))?;
    req.extensions_mut().insert(Admitted { _share: share });
    Ok(())
}

/// The origins trusted to send a browser's session cookie along with a request
/// that changes something: the configured CORS origins (but `*`, which lets
/// any page call Clasp only without cookies) and Clasp's own public origin.
#[derive(Debug, Clone, Default)]
pub struct TrustedOrigins(pub Vec<String>);

/// Refuses a cookie-authenticated request that would change something and
/// comes from another site: its `Origin` is not a trusted one, or its
/// `Sec-Fetch-Site` says `cross-site`. A request with neither header (a server,
/// a mobile app) is not a browser's, and passes.
fn refuse_cross_site(req: &HttpRequest) -> Result<(), Problem> {
    if req.method().is_safe() {
        return Ok(());
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let trusted = req.app_data::<web::Data<TrustedOrigins>>();
    let foreign_origin = header("origin").is_some_and(|origin| {
        !trusted.is_some_and(|t| t.0.iter().any(|o| o.eq_ignore_ascii_case(origin)))
    });
    let cross_site = header("sec-fetch-site").is_some_and(|s| s.eq_ignore_ascii_case("cross-site"));
    if foreign_origin || cross_site {
        return Err(Problem::new(
            ProblemKind::CrossSite,
            "a page of another site may not change anything with this session",
        ));
    }
    Ok(())
}

/// A `Set-Cookie` value that makes a browser forget the session cookie.
pub fn expire_cookie(req: &HttpRequest) -> String {
    let secure = if req.connection_info().scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{}=; Path=/api/v1; Max-Age=0; HttpOnly; SameSite=Lax{secure}",
        credentials::SESSION_COOKIE
    )
}

/// A path parameter: its name as the route table's path names it, and how the
/// document describes it.
pub trait ParamName {
    /// The name between the braces of the path.
    const NAME: &'static str;
    /// What the document says of it.
    const DESCRIPTION: &'static str;
    /// Its schema in the document.
    fn schema() -> RefOr<Schema>;
}

/// Declares a [`ParamName`] marker type per path parameter.
macro_rules! param_names {
    ($($(#[$doc:meta])* $ty:ident = $name:literal: $format:ident, $description:literal;)*) => {
        $(
            $(#[$doc])*
            pub struct $ty;

            impl ParamName for $ty {
                const NAME: &'static str = $name;
                const DESCRIPTION: &'static str = $description;

                fn schema() -> RefOr<Schema> {
                    schema_of(KnownFormat::$format)
                }
            }
        )*
    };
}

param_names! {
    /// `{id}`: an attachment's UUID (`tickets`, `cases`).
    Id = "id": Uuid, "The attachment";
    /// `{ticket_id}`: a ticket's UUID (`tickets`, `workspaces`).
    TicketId = "ticket_id": Uuid, "The ticket";
    /// `{attachment_id}`: an attachment's UUID (`workspaces`).
    AttachmentIdParam = "attachment_id": Uuid, "The attachment";
    /// `{message_id}`: a message's UUID (`workspaces`).
    MessageId = "message_id": Uuid, "The message";
    /// `{attachmentId}`: an attachment's number (`chat`).
    ChatNumber = "attachmentId": Int64, "The attachment's number";
    /// `{attachmentId}`: an attachment's UUID (`redirect`).
    RedirectId = "attachmentId": Uuid, "The attachment's UUID";
}

/// The schema of a path parameter in `format` (a UUID string, or a 64-bit integer).
fn schema_of(format: KnownFormat) -> RefOr<Schema> {
    let kind = if format == KnownFormat::Int64 {
        Type::Integer
    } else {
        Type::String
    };
    ObjectBuilder::new()
        .schema_type(kind)
        .format(Some(SchemaFormat::KnownFormat(format)))
        .into()
}

/// The path parameter `N` read as a `T`; a value that is not a `T` names
/// nothing, so it is `D`'s "not found" — once the caller is authenticated, so
/// that a bad credential is refused as such whatever the path says.
pub struct PathParam<T, N, D>(pub T, PhantomData<fn() -> (N, D)>);

impl<T, N, D> Deref for PathParam<T, N, D> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T, N, D> FromRequest for PathParam<T, N, D>
where
    T: FromStr + 'static,
    N: ParamName,
    D: WireDialect,
{
    type Error = ApiError<D>;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = req
            .match_info()
            .get(N::NAME)
            .and_then(|raw| raw.parse::<T>().ok());
        match parsed {
            Some(value) => Box::pin(async move { Ok(PathParam(value, PhantomData)) }),
            None => {
                let req = req.clone();
                Box::pin(async move {
                    D::Caller::extract(&req).await?;
                    Err(Problem::not_found().into())
                })
            }
        }
    }
}

impl<T, N: ParamName, D> IntoParams for PathParam<T, N, D> {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![path_param(N::NAME, N::DESCRIPTION, N::schema())]
    }
}

/// A required path parameter as the document describes it.
pub(crate) fn path_param(name: &str, description: &str, schema: RefOr<Schema>) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

/// The caller of a route that needs no credential (its proof is elsewhere, e.g.
/// a signed URL's signature).
pub struct Anyone;

impl FromRequest for Anyone {
    type Error = ApiError<crate::own::Own>;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(_: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Anyone))
    }
}
