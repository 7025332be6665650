//! Extractors that authenticate a request and read its ids, refusing in the
//! dialect's words, so a handler reads like
//! `async fn get(p: Bearer<Tickets>, id: PathParam<AttachmentId, Id, Tickets>, s: Data<Services>) -> Reply<Tickets>`.
//!
//! None of them reads the body: a handler reads its form or JSON after every
//! extractor has passed, so credentials are checked before any body byte is read.

use std::marker::PhantomData;
use std::ops::Deref;
use std::str::FromStr;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use clasp_domain::{AuthError, Principal};
use futures::future::LocalBoxFuture;

use crate::Services;
use crate::credentials;
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

/// The principal behind the request's Bearer API key; refusals in `D`'s words.
pub struct Bearer<D>(pub Principal, PhantomData<fn() -> D>);

impl<D> Deref for Bearer<D> {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl<D: WireDialect> FromRequest for Bearer<D> {
    type Error = ApiError<D>;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let services = services::<D>(&req)?;
            let token = credentials::bearer(req.headers())
                .filter(|t| !t.is_empty())
                .ok_or(AuthError::Missing)?;
            let principal = services.identities.authenticate_api_key(token).await?;
            Ok(Bearer(principal, PhantomData))
        })
    }
}

/// The principal behind the request's `clasp_session` cookie; refusals in
/// `D`'s words. A cookie that no longer works is expired in the browser by the
/// refusal's `Set-Cookie`, with the attributes a host sets it with
/// (`docs/dialects/chat.md`), `Secure` when the request came over TLS.
pub struct Session<D>(pub Principal, PhantomData<fn() -> D>);

impl<D> Deref for Session<D> {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl<D: WireDialect> FromRequest for Session<D> {
    type Error = ApiError<D>;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let services = services::<D>(&req)?;
            let cookie = credentials::session_cookie(req.headers()).ok_or(AuthError::Missing)?;
            match services.identities.authenticate_session(cookie).await {
                Ok(principal) => Ok(Session(principal, PhantomData)),
                Err(e @ (AuthError::Missing | AuthError::Backend(_))) => Err(e.into()),
                Err(e) => Err(ApiError::from(e).setting_cookie(expire_cookie(&req))),
            }
        })
    }
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

/// The name of a path parameter, as the route table's path names it.
pub trait ParamName {
    /// The name between the braces of the path.
    const NAME: &'static str;
}

/// Declares a [`ParamName`] marker type per path parameter.
macro_rules! param_names {
    ($($(#[$doc:meta])* $ty:ident = $name:literal;)*) => {
        $($(#[$doc])* pub struct $ty; impl ParamName for $ty { const NAME: &'static str = $name; })*
    };
}

param_names! {
    /// `{id}`: an attachment's UUID (`tickets`, `cases`).
    Id = "id";
    /// `{ticket_id}`: a ticket's UUID (`tickets`, `workspaces`).
    TicketId = "ticket_id";
    /// `{attachment_id}`: an attachment's UUID (`workspaces`).
    AttachmentIdParam = "attachment_id";
    /// `{message_id}`: a message's UUID (`workspaces`).
    MessageId = "message_id";
    /// `{attachmentId}`: an attachment's UUID (`redirect`) or number (`chat`).
    AttachmentIdCamel = "attachmentId";
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
