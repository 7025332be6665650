//! Secrets read from files, as container platforms and systemd's credentials
//! mount them: each secret setting `x` may be given as `x_file` (environment
//! `CLASP_X_FILE`), the path of a file holding it, so the secret itself never
//! sits in the environment or the configuration file.

use std::io::Read;
use std::path::Path;

use super::{Config, ConfigError};

/// The longest secret file read: secrets are short, and a wrong path (a log,
/// a device) must not be read whole.
const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

impl Config {
    /// Reads each `*_file` setting into its secret; refuses one whose secret
    /// is also set (which of the two was meant cannot be known), and a file
    /// that cannot be read or holds nothing.
    pub(super) fn read_secret_files(&mut self) -> Result<(), ConfigError> {
        let mut previous = (!self.signing_secret_previous.is_empty())
            .then(|| std::mem::take(&mut self.signing_secret_previous));
        for (name, file, value) in [
            (
                "signing_secret",
                &mut self.signing_secret_file,
                &mut self.signing_secret,
            ),
            (
                "signing_secret_previous",
                &mut self.signing_secret_previous_file,
                &mut previous,
            ),
            (
                "admin_token",
                &mut self.admin_token_file,
                &mut self.admin_token,
            ),
            (
                "s3_secret_access_key",
                &mut self.s3_secret_access_key_file,
                &mut self.s3_secret_access_key,
            ),
            (
                "database_password",
                &mut self.database_password_file,
                &mut self.database_password,
            ),
        ] {
            if let Some(path) = file.take() {
                if value.is_some() {
                    return Err(ConfigError::Invalid(format!(
                        "{name} and {name}_file are both set: set one of them"
                    )));
                }
                *value = Some(read_secret(name, &path)?);
            }
        }
        self.signing_secret_previous = previous.unwrap_or_default();
        Ok(())
    }
}

/// The secret in `path`, without the line ending editors and `echo` add.
fn read_secret(name: &str, path: &Path) -> Result<String, ConfigError> {
    let failed =
        |why: String| ConfigError::Invalid(format!("{name}_file: {}: {why}", path.display()));
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_SECRET_FILE_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| failed(e.to_string()))?;
    if text.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(failed(format!(
            "longer than {MAX_SECRET_FILE_BYTES} bytes, not a secret"
        )));
    }
    let secret = text.trim_end_matches(['\r', '\n']);
    if secret.is_empty() {
        return Err(failed("empty".into()));
    }
    Ok(secret.to_owned())
}
