//! What of the `CLASP_*` environment is configuration. Kubernetes gives every
//! pod service-link variables for each Service of its namespace, named after
//! the Service: one named `clasp` (or `clasp-admin`, …) yields `CLASP_PORT`,
//! `CLASP_SERVICE_HOST` (`CLASP_ADMIN_PORT`, …) whether or not Clasp runs
//! there. Those are the platform's, not the operator's, so they are ignored
//! (and named in one log line); any other unknown variable is still refused,
//! with the closest real setting as a hint, since it is most likely a typo.

use std::net::IpAddr;

use figment::error::Kind;

use super::ConfigError;

/// The protocols Kubernetes names in service links.
const PROTOCOLS: [&str; 3] = ["tcp", "udp", "sctp"];

/// How alike (Jaro-Winkler, 0 to 1) an unknown key and a setting must be for
/// the setting to be offered as the one meant: close enough for a swapped or
/// missing letter, not for an unrelated word.
const HINT_SIMILARITY: f64 = 0.8;

/// Whether `CLASP_<key>=value` has the shape of a Kubernetes service link of
/// a Service named `clasp` or `clasp-<anything>`, on any port: the name
/// alone is not enough, the value must be what Kubernetes puts there too, so
/// that a mistaken setting (`CLASP_ADMIN_PORT=9090`) is still refused. `key`
/// is the variable's name without `CLASP_`, in any case.
pub(super) fn is_service_link(key: &str, value: &str) -> bool {
    let key = key.to_ascii_lowercase();
    let words: Vec<&str> = key.split('_').collect();
    // The words before the shape are the rest of the Service's name (none
    // for a Service named `clasp`).
    (0..words.len()).any(|start| {
        words[..start].iter().all(|w| !w.is_empty()) && link_shape(&words[start..], value)
    })
}

/// The shapes of kubelet's variables for one Service, after its name:
/// `PORT`, `PORT_<n>_<proto>` with `_ADDR`, `_PORT`, `_PROTO`,
/// `SERVICE_HOST`, `SERVICE_PORT` and `SERVICE_PORT_<port name>`.
fn link_shape(words: &[&str], value: &str) -> bool {
    match words {
        ["port"] => service_address(value).is_some(),
        ["port", port, proto] => {
            service_address(value).is_some_and(|(p, n)| p == *proto && n == *port)
        }
        ["port", port, proto, "addr"] => is_port_of(port, proto) && is_ip(value),
        ["port", port, proto, "port"] => is_port_of(port, proto) && value == *port,
        ["port", port, proto, "proto"] => {
            is_port_of(port, proto) && value.eq_ignore_ascii_case(proto)
        }
        ["service", "host"] => is_ip(value),
        ["service", "port", name @ ..] => {
            name.iter().all(|w| !w.is_empty()) && value.parse::<u16>().is_ok()
        }
        _ => false,
    }
}

/// `port` is a port number and `proto` a protocol, as in `PORT_8080_TCP`.
fn is_port_of(port: &str, proto: &str) -> bool {
    port.parse::<u16>().is_ok() && PROTOCOLS.contains(&proto)
}

/// An IP address as Kubernetes writes a ClusterIP (v4, or v6 unbracketed).
fn is_ip(value: &str) -> bool {
    value.parse::<IpAddr>().is_ok()
}

/// The protocol (lower-cased) and port of `tcp://10.0.0.1:8080` or
/// `tcp://[fd00::1]:8080`.
fn service_address(value: &str) -> Option<(String, &str)> {
    let (proto, rest) = value.split_once("://")?;
    let proto = proto.to_ascii_lowercase();
    let (host, port) = rest.rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    (PROTOCOLS.contains(&proto.as_str()) && is_ip(host) && port.parse::<u16>().is_ok())
        .then_some((proto, port))
}

/// The configuration error for a failed extraction: an unknown key named as
/// it was given (the variable, or the file's key) with the closest setting
/// of figment's own list as a hint; anything else as figment says it.
/// `env_keys` are the keys (lower-case, without `CLASP_`) the environment
/// gave, to tell a variable from a file's key.
pub(super) fn extraction_error(error: figment::Error, env_keys: &[String]) -> ConfigError {
    let message = error.to_string();
    let unknown = error.into_iter().find_map(|e| match e.kind {
        Kind::UnknownField(found, expected) => Some((found, expected)),
        _ => None,
    });
    let Some((found, expected)) = unknown else {
        return ConfigError::Invalid(message);
    };
    let closest = closest(&found, expected);
    ConfigError::Invalid(if env_keys.iter().any(|k| k.eq_ignore_ascii_case(&found)) {
        let hint = closest.map_or_else(
            || " (README, \"Configuration\", lists them)".to_owned(),
            |k| format!("; did you mean CLASP_{}?", k.to_ascii_uppercase()),
        );
        format!(
            "unknown field CLASP_{}: no such setting{hint}",
            found.to_ascii_uppercase()
        )
    } else {
        let hint = closest.map_or_else(String::new, |k| format!("; did you mean `{k}`?"));
        format!("unknown field `{found}` in the configuration file: no such setting{hint}")
    })
}

/// The setting most like `found`, if one is alike enough to be the one meant.
fn closest(found: &str, settings: &[&'static str]) -> Option<&'static str> {
    let found = found.to_ascii_lowercase();
    settings
        .iter()
        .map(|s| (strsim::jaro_winkler(&found, s), *s))
        .filter(|(similarity, _)| *similarity >= HINT_SIMILARITY)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, s)| s)
}

#[cfg(test)]
mod tests {
    use super::{closest, is_service_link};

    /// What kubelet sets for a Service `clasp` (ports `http` 80 → 8080 and
    /// `admin` 9090) and one named `clasp-admin`, IPv4 and IPv6.
    #[test]
    fn kubelets_variables_are_service_links() {
        for (key, value) in [
            ("PORT", "tcp://10.0.0.1:80"),
            ("PORT_80_TCP", "tcp://10.0.0.1:80"),
            ("PORT_80_TCP_ADDR", "10.0.0.1"),
            ("PORT_80_TCP_PORT", "80"),
            ("PORT_80_TCP_PROTO", "tcp"),
            ("PORT_9090_UDP_PROTO", "udp"),
            ("PORT_5000_SCTP", "sctp://10.0.0.1:5000"),
            ("SERVICE_HOST", "10.0.0.1"),
            ("SERVICE_PORT", "80"),
            ("SERVICE_PORT_HTTP", "80"),
            ("SERVICE_PORT_ADMIN_API", "9090"),
            ("ADMIN_PORT", "tcp://10.0.0.2:9090"),
            ("ADMIN_PORT_9090_TCP", "tcp://10.0.0.2:9090"),
            ("ADMIN_PORT_9090_TCP_ADDR", "10.0.0.2"),
            ("ADMIN_PORT_9090_TCP_PORT", "9090"),
            ("ADMIN_PORT_9090_TCP_PROTO", "tcp"),
            ("ADMIN_SERVICE_HOST", "10.0.0.2"),
            ("ADMIN_SERVICE_PORT", "9090"),
            ("ADMIN_SERVICE_PORT_ADMIN", "9090"),
            ("DB_PROXY_PORT", "tcp://[fd00::7]:5432"),
            ("DB_PROXY_PORT_5432_TCP_ADDR", "fd00::7"),
            ("DB_PROXY_SERVICE_HOST", "fd00::7"),
            ("port", "tcp://10.0.0.1:80"),
        ] {
            assert!(is_service_link(key, value), "CLASP_{key}={value}");
        }
    }

    /// Real settings, typos and look-alikes with the wrong value stay
    /// configuration, to be used or refused.
    #[test]
    fn settings_and_mistakes_are_not_service_links() {
        for (key, value) in [
            ("LISTEN", "0.0.0.0:8080"),
            ("ADMIN_LISTEN", "0.0.0.0:9090"),
            ("ADMIN_TOKEN", "tcp://10.0.0.1:80"),
            ("LISTNE", "127.0.0.1:8080"),
            ("ADMIN_PORT", "9090"),
            ("PORT", "8080"),
            ("PORT", "http://10.0.0.1:80"),
            ("PORT", "tcp://clasp:80"),
            ("PORT_80_TCP", "tcp://10.0.0.1:81"),
            ("PORT_80_HTTP_PORT", "80"),
            ("PORT_80_TCP_PORT", "81"),
            ("PORT_HTTP_TCP_PORT", "80"),
            ("PORT_80_TCP_ADDR", "clasp.default.svc"),
            ("SERVICE_HOST", "clasp.default.svc"),
            ("SERVICE_PORT", "http"),
            ("SERVICE_PORT_", "80"),
            ("SERVICE_PORTS", "80"),
            ("S3_ENDPOINT", "tcp://10.0.0.1:80"),
            ("_PORT", "tcp://10.0.0.1:80"),
        ] {
            assert!(!is_service_link(key, value), "CLASP_{key}={value}");
        }
    }

    #[test]
    fn the_hint_is_the_closest_setting_when_one_is_close() {
        let settings = ["listen", "admin_listen", "admin_token", "data_dir"];
        assert_eq!(closest("listne", &settings), Some("listen"));
        assert_eq!(closest("LISTN", &settings), Some("listen"));
        assert_eq!(closest("admin_lisen", &settings), Some("admin_listen"));
        assert_eq!(closest("datadir", &settings), Some("data_dir"));
        assert_eq!(closest("frobnicate", &settings), None);
    }
}
