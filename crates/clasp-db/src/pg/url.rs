//! Reading a PostgreSQL URL once, up front, so that a malformed one fails with
//! its own message rather than as a connection error, and showing it without its
//! password: the URL ends up in errors that operators log.

use std::fmt;
use std::str::FromStr;

use tokio_postgres::Config;
use tokio_postgres_rustls::MakeRustlsConnect;

use clasp_domain::error::with_causes as with_sources;

use super::tls;
use crate::error::DbError;

/// What a session reports as `application_name` unless the URL names one, so
/// that Clasp's sessions stand out in `pg_stat_activity`.
const APPLICATION_NAME: &str = "clasp";

/// Whether `url` names a PostgreSQL database (`postgres:` or `postgresql:`).
pub(crate) fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres:") || url.starts_with("postgresql:")
}

/// A checked PostgreSQL URL: what to connect to, and how to name it.
#[derive(Clone)]
pub(crate) struct PgUrl {
    /// The parsed connection parameters.
    pub(crate) config: Config,
    /// How to speak TLS (`sslmode`, `sslrootcert`); `None`: plain TCP.
    pub(crate) tls: Option<MakeRustlsConnect>,
    /// The URL with its password hidden.
    pub(crate) shown: String,
}

impl PgUrl {
    /// Parses a `postgres://` or `postgresql://` URL (libpq's URL syntax, e.g.
    /// `postgres://user:password@host:5432/db?connect_timeout=3`), with
    /// libpq's `sslmode` and `sslrootcert` (see [`tls`]); a root certificate
    /// file is read here, so a wrong path fails at start.
    pub(crate) fn parse(url: &str) -> Result<PgUrl, DbError> {
        let shown = redact(url);
        let invalid = |reason: String| DbError::InvalidPgUrl {
            url: shown.clone(),
            reason,
        };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(invalid(
                "expected postgres://[user[:password]@]host[:port]/database".into(),
            ));
        }
        let params = tls::split(url).map_err(invalid)?;
        let mut config = Config::from_str(&params.rest).map_err(|e| invalid(with_sources(&e)))?;
        config.ssl_mode(params.mode.wire());
        let tls = tls::connector(&params).map_err(invalid)?;
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            return Err(invalid("no host".into()));
        }
        if config.get_application_name().is_none() {
            config.application_name(APPLICATION_NAME);
        }
        Ok(PgUrl { config, tls, shown })
    }
}

impl fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// `url` with the password of its user part and any `password=` parameter
/// replaced by `***`. When unsure where the user part ends (a stray `@` in the
/// query), it hides too much rather than too little.
pub(crate) fn redact(url: &str) -> String {
    let mut shown = match url.split_once("://") {
        Some((scheme, rest)) => match rest.rfind('@') {
            Some(at) => {
                let user = rest[..at].split_once(':').map_or(&rest[..at], |(u, _)| u);
                let hidden = if user.len() < at { ":***" } else { "" };
                format!("{scheme}://{user}{hidden}{}", &rest[at..])
            }
            None => url.to_owned(),
        },
        None => url.to_owned(),
    };
    let mut from = 0;
    while let Some(found) = shown[from..].find("password=") {
        let start = from + found + "password=".len();
        let end = shown[start..]
            .find(['&', ' '])
            .map_or(shown.len(), |n| start + n);
        shown.replace_range(start..end, "***");
        from = start + "***".len();
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden() {
        for (url, shown) in [
            ("postgres://u:secret@h:5/db", "postgres://u:***@h:5/db"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("postgres://h/db", "postgres://h/db"),
            ("postgresql://u:p@ss:w@h/db", "postgresql://u:***@h/db"),
            (
                "postgres://h/db?user=u&password=secret&sslmode=disable",
                "postgres://h/db?user=u&password=***&sslmode=disable",
            ),
            ("host=h password=secret", "host=h password=***"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    #[test]
    fn only_postgres_urls_with_a_host_parse() {
        assert!(PgUrl::parse("postgres://u@127.0.0.1:5432/db").is_ok());
        assert!(PgUrl::parse("postgresql://u@localhost/db").is_ok());
        for bad in [
            "",
            "mysql://u@h/db",
            "host=h dbname=db",
            "postgres:///db",
            "postgres://u@h:port/db",
            "postgres://u@h/db?sslmode=sometimes",
        ] {
            assert!(
                matches!(PgUrl::parse(bad), Err(DbError::InvalidPgUrl { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn sessions_are_named_unless_the_url_names_them() {
        let named =
            |url| PgUrl::parse(url).map(|u| u.config.get_application_name().map(str::to_owned));
        assert_eq!(
            named("postgres://h/db").ok().flatten().as_deref(),
            Some("clasp")
        );
        assert_eq!(
            named("postgres://h/db?application_name=x")
                .ok()
                .flatten()
                .as_deref(),
            Some("x")
        );
    }
}
