//! Clasp's blob and URL-signing adapters.
//!
//! [`ObjectBlobStore`] puts the domain's [`BlobStore`](clasp_domain::ports::BlobStore)
//! port on top of any `object_store` backend (a local directory or memory today),
//! streaming bodies in bounded chunks. [`HmacSigner`] mints and checks the signed
//! URLs that Clasp serves itself.

mod blobs;
mod secret;
mod signer;

pub use blobs::ObjectBlobStore;
pub use secret::load_or_create_secret;
pub use signer::HmacSigner;

/// Why a storage adapter could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The storage URL names a scheme this build does not support.
    #[error(
        "unsupported storage_url scheme {scheme:?} in {url:?}: expected file://PATH or memory://"
    )]
    UnsupportedScheme {
        /// The scheme found.
        scheme: String,
        /// The whole URL.
        url: String,
    },
    /// The storage URL is not a URL at all.
    #[error("storage_url {0:?} is not a URL: expected file://PATH or memory://")]
    NotAUrl(String),
    /// The blob directory could not be created or opened.
    #[error("cannot use the blob directory {path:?}: {source}")]
    Directory {
        /// The directory.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The signing secret is too short to be safe.
    #[error("the signing secret must be at least {min} bytes (got {got})")]
    ShortSecret {
        /// The shortest accepted length.
        min: usize,
        /// The length given.
        got: usize,
    },
    /// The signing secret file could not be read or written.
    #[error("cannot read or create the signing secret {path:?}: {source}")]
    SecretFile {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The object store refused its configuration.
    #[error("object store setup failed: {0}")]
    Backend(#[from] object_store::Error),
}

/// Shortest signing secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;
