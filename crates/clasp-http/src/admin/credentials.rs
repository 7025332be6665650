//! API keys and chat sessions: minted, listed and revoked.

use actix_web::HttpResponse;
use actix_web::web::Data;
use clasp_domain::{IdentityError, Reach, Scopes};
use uuid::Uuid;

use super::json::{KeyJson, KeysJson, NewKey, NewKeyJson, NewSession, NewSessionJson};
use super::{Admin, AdminCaller, Id, Posted, Slug};
use crate::Services;
use crate::own::ErrorJson;
use crate::wire::Reply;

/// How long a session lasts when the request does not say: an hour, as
/// `clasp admin session create` does.
const DEFAULT_SESSION_SECS: u64 = 3600;

#[utoipa::path(post, path = "/admin/v1/tenants/{slug}/keys", params(Slug), request_body(content = NewKey, content_type = "application/json"), responses(
    (status = 201, description = "The key, with its secret: the only time it is shown", body = NewKeyJson),
    (status = 400, description = "An unknown scope, no scope, or not the JSON expected", body = ErrorJson),
    super::TenantRefusals,
    (status = 413, description = "The body is too large", body = ErrorJson),
))]
/// Mints an API key for a tenant.
pub(super) async fn create_key(
    slug: Slug,
    body: Posted<NewKey>,
    services: Data<Services>,
) -> Reply<Admin> {
    let scopes = Scopes::parse(&body.0.scopes.join(",")).map_err(IdentityError::from)?;
    let (key, secret) = services.identities.create_api_key(&slug, scopes).await?;
    Ok(HttpResponse::Created().json(NewKeyJson::new(&key, secret)))
}

#[utoipa::path(get, path = "/admin/v1/tenants/{slug}/keys", params(Slug), responses(
    (status = 200, description = "Every key of the tenant, revoked ones too, oldest first; never a secret", body = KeysJson),
    super::TenantRefusals,
))]
/// A tenant's API keys.
pub(super) async fn list_keys(
    _: AdminCaller,
    slug: Slug,
    services: Data<Services>,
) -> Reply<Admin> {
    let (_, keys) = services.identities.api_keys(&slug).await?;
    Ok(HttpResponse::Ok().json(KeysJson {
        keys: keys.iter().map(KeyJson::from).collect(),
    }))
}

#[utoipa::path(delete, path = "/admin/v1/keys/{id}", params(Id), responses(
    (status = 204, description = "The key is revoked (also when it was already)"),
    super::TokenRefusal,
    (status = 404, description = "No key has that id", body = ErrorJson),
))]
/// Revokes an API key: from now on it gets 401.
pub(super) async fn revoke_key(_: AdminCaller, id: Id, services: Data<Services>) -> Reply<Admin> {
    let unknown = || IdentityError::UnknownKey(id.0.clone());
    let key = Uuid::parse_str(&id).map_err(|_| unknown())?;
    services.identities.revoke_api_key(&key.to_string()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/admin/v1/tenants/{slug}/sessions", params(Slug), request_body(content = NewSession, content_type = "application/json"), responses(
    (status = 201, description = "The session, with its cookie value: the only time it is shown", body = NewSessionJson),
    (status = 400, description = "No user id, a lifetime or rooms out of bounds, rooms with all_rooms, or not the JSON expected", body = ErrorJson),
    super::TenantRefusals,
    (status = 413, description = "The body is too large", body = ErrorJson),
))]
/// Mints a chat session for an end user, as a host does at every login.
pub(super) async fn create_session(
    slug: Slug,
    body: Posted<NewSession>,
    services: Data<Services>,
) -> Reply<Admin> {
    let asked = body.0;
    let secs = asked.ttl_secs.unwrap_or(DEFAULT_SESSION_SECS);
    let ttl = i64::try_from(secs)
        .map(time::Duration::seconds)
        .map_err(|_| IdentityError::InvalidSession)?;
    let rooms = asked
        .rooms
        .map(|rooms| rooms.iter().map(i64::to_string).collect::<Vec<_>>());
    let reach = Reach::chosen(rooms.as_deref(), asked.all_rooms).map_err(IdentityError::from)?;
    let (session, cookie) = services
        .identities
        .create_session(&slug, &asked.user_id, ttl, reach)
        .await?;
    Ok(HttpResponse::Created().json(NewSessionJson::new(&session, cookie)))
}

#[utoipa::path(delete, path = "/admin/v1/sessions/{id}", params(Id), responses(
    (status = 204, description = "The session is revoked (also when it was already)"),
    super::TokenRefusal,
    (status = 404, description = "No session has that id", body = ErrorJson),
))]
/// Revokes a chat session: from now on its cookie gets 401.
pub(super) async fn revoke_session(
    _: AdminCaller,
    id: Id,
    services: Data<Services>,
) -> Reply<Admin> {
    let session = Uuid::parse_str(&id).map_err(|_| IdentityError::UnknownSession)?;
    services
        .identities
        .revoke_session(&session.to_string())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
