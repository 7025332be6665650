//! Reading the `clasp_session` cookie of the `chat` dialect, and telling a
//! browser to drop one that no longer works.
//!
//! Clasp never hands the cookie out itself: `clasp admin session create` prints
//! its value and the host product sets it (docs/dialects/chat.md gives the
//! attributes: `HttpOnly; Secure; SameSite=Lax; Path=/api/v1`). When a request
//! presents a session that is unknown, expired or revoked, the 401 carries a
//! `Set-Cookie` that expires it with the same attributes, `Secure` when the
//! request came over TLS.

use actix_web::HttpRequest;
use actix_web::http::header;
use clasp_domain::{AuthError, IdentityService, Principal};

/// The cookie that names a chat session.
pub const COOKIE_NAME: &str = "clasp_session";

/// The principal behind the request's session cookie.
pub async fn authenticate(
    req: &HttpRequest,
    identities: &IdentityService,
) -> Result<Principal, AuthError> {
    let value = cookie(req).ok_or(AuthError::Missing)?;
    identities.authenticate_session(value).await
}

/// The value of the first `clasp_session` cookie of the request, if any.
pub fn cookie(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim().trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// A `Set-Cookie` value that makes a browser forget the session cookie.
pub fn expire_cookie(req: &HttpRequest) -> String {
    let secure = if req.connection_info().scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    format!("{COOKIE_NAME}=; Path=/api/v1; Max-Age=0; HttpOnly; SameSite=Lax{secure}")
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn finds_the_session_cookie_among_others() {
        let req = TestRequest::default()
            .insert_header((header::COOKIE, "a=1; clasp_session=abc; b=2"))
            .to_http_request();
        assert_eq!(cookie(&req), Some("abc"));
        let none = TestRequest::default()
            .insert_header((header::COOKIE, "clasp_sessionx=1; clasp_session="))
            .to_http_request();
        assert_eq!(cookie(&none), None);
    }

    #[test]
    fn expiring_cookies_are_secure_over_tls() {
        let plain = TestRequest::default().to_http_request();
        assert_eq!(
            expire_cookie(&plain),
            "clasp_session=; Path=/api/v1; Max-Age=0; HttpOnly; SameSite=Lax"
        );
        let tls = TestRequest::default()
            .uri("https://clasp.example/api/v1/attachments/1")
            .to_http_request();
        assert!(expire_cookie(&tls).ends_with("; Secure"));
    }
}
