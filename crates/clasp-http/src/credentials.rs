//! The credentials a request presents, read in one place and the same way for
//! authentication (after which the principal is rate limited, see
//! [`crate::limits`]) and the choice between the two dialects of `/api/v1` — so
//! a request is never authenticated as one thing and limited or routed as
//! another.

use actix_web::http::header::{self, HeaderMap};

/// The cookie that names a chat session.
pub const SESSION_COOKIE: &str = "clasp_session";

/// The token of `Authorization: Bearer <token>` (the scheme in any case), or
/// `Some("")` when the scheme is Bearer but no token follows; `None` when the
/// request has no Bearer credential at all.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim_start();
    let scheme = value.get(..7)?;
    scheme
        .eq_ignore_ascii_case("bearer ")
        .then(|| value.get(7..).unwrap_or_default().trim())
}

/// The values of the request's non-empty `clasp_session` cookies.
fn session_cookies(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// The session cookies a request presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCookie<'a> {
    /// None.
    None,
    /// One, with this value.
    One(&'a str),
    /// Several: refused, never resolved by their order (a cookie another site
    /// or subdomain managed to set would otherwise decide which session acts).
    Several,
}

/// The request's `clasp_session` cookie.
pub fn session_cookie(headers: &HeaderMap) -> SessionCookie<'_> {
    let mut cookies = session_cookies(headers);
    match (cookies.next(), cookies.next()) {
        (None, _) => SessionCookie::None,
        (Some(value), None) => SessionCookie::One(value),
        (Some(_), Some(_)) => SessionCookie::Several,
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut req = TestRequest::default();
        for pair in pairs {
            req = req.append_header(*pair);
        }
        req.to_http_request().headers().clone()
    }

    #[test]
    fn bearer_is_read_in_any_case() {
        for value in ["Bearer k", "bearer k", "BEARER k", "  BeArEr   k  "] {
            assert_eq!(
                bearer(&headers(&[("Authorization", value)])),
                Some("k"),
                "{value}"
            );
        }
        assert_eq!(bearer(&headers(&[("Authorization", "Bearer ")])), Some(""));
        for value in ["Basic k", "Bearer", "Bearerk", "k"] {
            assert_eq!(
                bearer(&headers(&[("Authorization", value)])),
                None,
                "{value}"
            );
        }
        assert_eq!(bearer(&headers(&[])), None);
    }

    #[test]
    fn finds_the_session_cookie_among_others() {
        let found = headers(&[("Cookie", "a=1; clasp_session=abc; b=2")]);
        assert_eq!(session_cookie(&found), SessionCookie::One("abc"));
        let none = headers(&[("Cookie", "clasp_sessionx=1; clasp_session=")]);
        assert_eq!(session_cookie(&none), SessionCookie::None);
        let two = headers(&[("Cookie", "clasp_session=a; x=1; clasp_session=b")]);
        assert_eq!(session_cookie(&two), SessionCookie::Several);
        let two_headers = headers(&[("Cookie", "clasp_session=a"), ("Cookie", "clasp_session=b")]);
        assert_eq!(session_cookie(&two_headers), SessionCookie::Several);
    }
}
