//! The generated signing secret of a single-machine install.

use std::io::{ErrorKind, Write};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::{MIN_SECRET_BYTES, StorageError};

/// The secret kept in `path`, created (random, owner-only) the first time, so a
/// restarted server keeps honouring the URLs it handed out.
pub fn load_or_create_secret(path: &Path) -> Result<Vec<u8>, StorageError> {
    let failed = |source| StorageError::SecretFile {
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    let fresh = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(fresh.as_bytes()).map_err(failed)?;
            file.sync_all().map_err(failed)?;
            Ok(fresh.into_bytes())
        }
        // Another instance (or an earlier run) made it first: use theirs, if
        // no one else may read it.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path)
                    .map_err(failed)?
                    .permissions()
                    .mode();
                if mode & 0o077 != 0 {
                    return Err(StorageError::ExposedSecret {
                        path: path.display().to_string(),
                        mode: mode & 0o777,
                    });
                }
            }
            let secret = std::fs::read_to_string(path).map_err(failed)?;
            let secret = secret.trim().as_bytes().to_vec();
            if secret.len() < MIN_SECRET_BYTES {
                return Err(StorageError::ShortSecret {
                    min: MIN_SECRET_BYTES,
                    got: secret.len(),
                });
            }
            Ok(secret)
        }
        Err(e) => Err(failed(e)),
    }
}
