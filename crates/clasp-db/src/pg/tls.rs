//! TLS to PostgreSQL, as libpq's `sslmode` and `sslrootcert` ask for it, over
//! rustls: managed servers (RDS, Cloud SQL, Azure, Neon) require it.
//!
//! tokio-postgres knows `disable`, `prefer` and `require`, and neither
//! `verify-*` nor `sslrootcert`, so both parameters are taken out of the URL
//! here and the certificate checks are rustls's:
//!
//! | `sslmode` | TLS | the server's certificate |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (the default) | when the server offers it | not checked |
//! | `require` | always | not checked; checked as `verify-ca` when `sslrootcert` is given (as libpq does) |
//! | `verify-ca` | always | signed by a trusted CA |
//! | `verify-full` | always | signed by a trusted CA, and names the host connected to |
//!
//! The trusted CAs are those of `sslrootcert` (a PEM file), else the system's.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::SslMode as WireMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, unchecked.
    Prefer,
    /// TLS, unchecked (or checked as `VerifyCa` with a root certificate).
    Require,
    /// TLS, the chain checked.
    VerifyCa,
    /// TLS, the chain and the host name checked.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode, String> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode={other}: expected disable, prefer, require, verify-ca or verify-full"
                ));
            }
        })
    }

    /// What tokio-postgres is told: whether TLS may be skipped.
    pub(crate) fn wire(self) -> WireMode {
        match self {
            SslMode::Disable => WireMode::Disable,
            SslMode::Prefer => WireMode::Prefer,
            _ => WireMode::Require,
        }
    }
}

/// The TLS parameters of a URL, and the URL without them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsParams {
    /// `sslmode`, `prefer` when absent (libpq's default).
    pub(crate) mode: SslMode,
    /// `sslrootcert`, a PEM file of trusted CAs.
    pub(crate) root_cert: Option<PathBuf>,
    /// The URL with both taken out, for tokio-postgres.
    pub(crate) rest: String,
}

/// Takes `sslmode` and `sslrootcert` out of `url`'s query.
pub(crate) fn split(url: &str) -> Result<TlsParams, String> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut mode = SslMode::Prefer;
    let mut root_cert = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", value)) => mode = SslMode::parse(value)?,
            Some(("sslrootcert", value)) => {
                root_cert = Some(PathBuf::from(decode(value)?));
            }
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok(TlsParams {
        mode,
        root_cert,
        rest,
    })
}

/// A percent-encoded query value (a path may hold `%2F` or spaces).
fn decode(value: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .map(|v| v.into_owned())
        .map_err(|_| "sslrootcert is not UTF-8".to_owned())
}

/// The rustls connector for `params`, or `None` for `disable`.
pub(crate) fn connector(params: &TlsParams) -> Result<Option<MakeRustlsConnect>, String> {
    let provider = Arc::new(aws_lc_rs::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match (params.mode, &params.root_cert) {
        (SslMode::Disable, _) => return Ok(None),
        (SslMode::Prefer, _) | (SslMode::Require, None) => Arc::new(Lenient {
            provider: provider.clone(),
            chain: None,
        }),
        (SslMode::Require | SslMode::VerifyCa, root) => Arc::new(Lenient {
            provider: provider.clone(),
            chain: Some(webpki(roots(root.as_deref())?, &provider)?),
        }),
        (SslMode::VerifyFull, root) => webpki(roots(root.as_deref())?, &provider)?,
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Some(MakeRustlsConnect::new(config)))
}

/// The CAs of the PEM file `path`, else the system's.
fn roots(path: Option<&Path>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match path {
        Some(path) => {
            let shown = path.display();
            for cert in CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("sslrootcert {shown}: {e}"))?
            {
                let cert = cert.map_err(|e| format!("sslrootcert {shown}: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("sslrootcert {shown}: {e}"))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    if roots.is_empty() {
        return Err(
            "no trusted certificate authority: sslrootcert holds none, and the system has none"
                .into(),
        );
    }
    Ok(roots)
}

fn webpki(
    roots: RootCertStore,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| e.to_string())
}

/// The checks libpq makes below `verify-full`: `prefer` and `require`
/// without a root certificate take any certificate (encrypted, but whoever
/// answers), `verify-ca` (and `require` with one) wants a chain to a trusted
/// CA and ignores the name it is for. Either way the handshake's signatures
/// are checked, so the peer holds the certificate's key.
#[derive(Debug)]
struct Lenient {
    provider: Arc<CryptoProvider>,
    /// The chain's check, `None` for none.
    chain: Option<Arc<WebPkiServerVerifier>>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssl_parameters_leave_the_url_and_the_rest_stays() {
        let p = split(
            "postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(p.mode, SslMode::VerifyFull);
        assert_eq!(p.root_cert.as_deref(), Some(Path::new("/etc/ca.pem")));
        assert_eq!(p.rest, "postgres://u@h/db?connect_timeout=3");
        let plain = split("postgres://u@h/db").unwrap();
        assert_eq!(
            (plain.mode, plain.rest.as_str()),
            (SslMode::Prefer, "postgres://u@h/db")
        );
        assert!(split("postgres://u@h/db?sslmode=allow-anything").is_err());
        assert!(connector(&plain).unwrap().is_some());
        let off = split("postgres://u@h/db?sslmode=disable").unwrap();
        assert!(connector(&off).unwrap().is_none());
        let missing =
            split("postgres://u@h/db?sslmode=verify-ca&sslrootcert=/nonexistent.pem").unwrap();
        assert!(matches!(connector(&missing), Err(e) if e.contains("/nonexistent.pem")));
    }
}
