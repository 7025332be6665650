//! Reading an `Authorization: Bearer` credential.

use actix_web::HttpRequest;
use actix_web::http::header;
use clasp_domain::{AuthError, IdentityService, Principal};

/// The principal behind the request's bearer API key.
pub async fn authenticate(
    req: &HttpRequest,
    identities: &IdentityService,
) -> Result<Principal, AuthError> {
    let token = bearer_token(req).ok_or(AuthError::Missing)?;
    identities.authenticate_api_key(token).await
}

/// The token of `Authorization: Bearer <token>`, if present (scheme case-insensitive).
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}
