//! The database URL in force: `database_url`, or the embedded default, with
//! what other settings add to it — the password (from a file, usually) and
//! the TLS parameters — so that each can come from where the platform keeps it.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use super::{Config, ConfigError};

/// What a password may not hold unescaped in a URL's userinfo (RFC 3986).
const USERINFO: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b':')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

impl Config {
    /// `database_url` with `database_password` in its userinfo; refuses a
    /// password for a URL that has one already, or no user to give it to.
    pub(super) fn url_with_password(&self, url: String) -> Result<String, ConfigError> {
        let Some(password) = &self.database_password else {
            return Ok(url);
        };
        let refuse = |why: &str| ConfigError::Invalid(format!("database_password: {why}"));
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(refuse("database_url is not a URL"));
        };
        if !matches!(scheme, "postgres" | "postgresql") {
            return Err(refuse("only a postgres:// database_url takes a password"));
        }
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let Some((user, host)) = rest[..authority_end].rsplit_once('@') else {
            return Err(refuse(
                "database_url names no user (postgres://USER@HOST/DB)",
            ));
        };
        if user.contains(':') {
            return Err(refuse("database_url has a password already"));
        }
        let encoded = utf8_percent_encode(password, USERINFO);
        Ok(format!(
            "{scheme}://{user}:{encoded}@{host}{}",
            &rest[authority_end..]
        ))
    }

    /// `url` with `database_sslmode` and `database_sslrootcert` added to its
    /// query; refuses one the URL sets too, or either on a non-PostgreSQL URL.
    pub(super) fn url_with_tls(&self, url: String) -> Result<String, ConfigError> {
        let mut params = Vec::new();
        for (name, value) in [
            ("sslmode", self.database_sslmode.as_deref()),
            ("sslrootcert", self.database_sslrootcert.as_deref()),
        ] {
            let Some(value) = value else { continue };
            let refuse = |why: &str| ConfigError::Invalid(format!("database_{name}: {why}"));
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(refuse("only a postgres:// database_url speaks TLS"));
            }
            let query = url.split_once('?').map_or("", |(_, q)| q);
            if query.split('&').any(|p| p.starts_with(&format!("{name}="))) {
                return Err(refuse("database_url sets it too"));
            }
            params.push(format!("{name}={}", utf8_percent_encode(value, USERINFO)));
        }
        if params.is_empty() {
            return Ok(url);
        }
        let joint = if url.contains('?') { '&' } else { '?' };
        Ok(format!("{url}{joint}{}", params.join("&")))
    }
}
