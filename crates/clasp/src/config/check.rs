//! The checks a loaded configuration must pass before anything starts: a
//! setting that cannot work fails at start (exit 2) with its name, not later.

use super::{
    Config, ConfigError, MAX_CREDENTIAL_CACHE_SECS, MAX_UPLOAD_URL_TTL_SECS, MIN_SECRET_BYTES,
};
use clasp_domain::policy::MAX_TENANT_UPLOAD_BYTES;

impl Config {
    /// Refuses a configuration that cannot be used.
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        self.composed_database_url()?;
        for (name, secret) in [
            ("signing_secret", &self.signing_secret),
            ("admin_token", &self.admin_token),
        ] {
            if let Some(secret) = secret
                && secret.len() < MIN_SECRET_BYTES
            {
                return Err(ConfigError::ShortSecret(name, secret.len()));
            }
        }
        if let Some(short) = self
            .previous_signing_secrets()
            .iter()
            .find(|s| s.len() < MIN_SECRET_BYTES)
        {
            return Err(ConfigError::ShortSecret(
                "each secret of signing_secret_previous",
                short.len(),
            ));
        }
        if self.database_pool_size == 0 || self.database_connect_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "database_pool_size and database_connect_timeout_secs must be positive".into(),
            ));
        }
        if self.s3_access_key_id.is_some() != self.s3_secret_access_key.is_some() {
            return Err(ConfigError::Invalid(
                "s3_access_key_id and s3_secret_access_key must be set together".into(),
            ));
        }
        for (name, value) in [
            ("max_upload_bytes", self.max_upload_bytes),
            ("body_idle_timeout_secs", self.body_idle_timeout_secs),
            ("upload_deadline_secs", self.upload_deadline_secs),
            ("sweep_interval_secs", self.sweep_interval_secs),
            ("scan_timeout_secs", self.scan_timeout_secs),
            ("webhook_timeout_secs", self.webhook_timeout_secs),
            ("webhook_concurrency", self.webhook_concurrency as u64),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid(format!("{name} must be positive")));
            }
        }
        if self.credential_cache_secs > MAX_CREDENTIAL_CACHE_SECS {
            return Err(ConfigError::Invalid(format!(
                "credential_cache_secs must be at most {MAX_CREDENTIAL_CACHE_SECS}"
            )));
        }
        for (name, secs) in [
            ("upload_url_ttl_secs", self.upload_url_ttl_secs),
            ("redirect_url_ttl_secs", self.redirect_url_ttl_secs),
        ] {
            if !(1..=MAX_UPLOAD_URL_TTL_SECS).contains(&secs) {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be between 1 and {MAX_UPLOAD_URL_TTL_SECS} (7 days)"
                )));
            }
        }
        if let Err(e) = self.webhook_retries() {
            return Err(ConfigError::Invalid(format!("webhook_retry_schedule: {e}")));
        }
        if let Err(e) = self.allowlist() {
            return Err(ConfigError::Invalid(format!("allowed_types: {e}")));
        }
        if self.max_upload_bytes > MAX_TENANT_UPLOAD_BYTES {
            return Err(ConfigError::Invalid(format!(
                "max_upload_bytes may be at most {MAX_TENANT_UPLOAD_BYTES} (5 GiB)"
            )));
        }
        if let Some(address) = self.clamav()
            && let Err(e) = address
        {
            return Err(ConfigError::Invalid(e.to_string()));
        }
        let origins = self.cors_origins();
        if let Some(bad) = origins.iter().find(|o| !is_origin(o)) {
            return Err(ConfigError::Invalid(format!(
                "cors_allowed_origins: {bad:?} is not an origin like https://app.example.com"
            )));
        }
        if origins.len() > 1 && origins.iter().any(|o| o == "*") {
            return Err(ConfigError::Invalid(
                "cors_allowed_origins: \"*\" cannot be combined with named origins".into(),
            ));
        }
        Ok(())
    }
}

/// `*`, or `http(s)://host[:port]` with nothing after: what browsers send as
/// `Origin`, so a typo fails at start instead of silently blocking a web app.
fn is_origin(origin: &str) -> bool {
    if origin == "*" {
        return true;
    }
    let Some((scheme, host)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
}
