//! Clasp's blob and URL-signing adapters.
//!
//! [`ObjectBlobStore`] puts the domain's [`BlobStore`](clasp_domain::ports::BlobStore)
//! port on top of any `object_store` backend (a local directory, memory, or an
//! S3-compatible bucket described by [`S3Settings`]), streaming bodies in bounded
//! chunks. [`HmacSigner`] mints and checks the signed URLs that Clasp serves
//! itself; [`S3UrlSigner`] hands out S3 presigned URLs instead, so downloads go
//! straight from the bucket. [`ImageThumbnailer`] makes the thumbnails of image
//! attachments (bytes in, bytes out, like the rest of this crate), decoding on
//! tokio's blocking pool within pixel and memory limits. [`ClamdScanner`] scans
//! uploads for viruses with ClamAV's `clamd`, streaming them over its socket.
//! [`SpareCores`] hashes large uploads on a core the receiving worker leaves
//! idle.

mod blobs;
mod clamav;
mod file_stream;
mod parts;
mod s3;
mod secret;
mod signer;
mod spare_cores;
mod thumbnails;

pub use blobs::ObjectBlobStore;
pub use clamav::{ClamdAddress, ClamdAddressError, ClamdScanner};
pub use s3::{DEFAULT_S3_REGION, MAX_PRESIGNED_SECS, S3Settings, S3UrlSigner};
pub use secret::load_or_create_secret;
pub use signer::HmacSigner;
pub use spare_cores::SpareCores;
pub use thumbnails::{ImageThumbnailer, MAX_DECODE_BYTES, MAX_IMAGE_EDGE};

/// Why a storage adapter could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The storage URL names a scheme this build does not support.
    #[error(
        "unsupported storage_url scheme {scheme:?} in {url:?}: expected file://PATH, memory:// or s3://BUCKET"
    )]
    UnsupportedScheme {
        /// The scheme found.
        scheme: String,
        /// The whole URL.
        url: String,
    },
    /// The storage URL is not a URL at all.
    #[error("storage_url {0:?} is not a URL: expected file://PATH, memory:// or s3://BUCKET")]
    NotAUrl(String),
    /// An `s3://` storage URL that does not name just a bucket.
    #[error("storage_url {url:?} is not usable: {reason}")]
    S3Url {
        /// The whole URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The S3 settings cannot work (for example half a key pair).
    #[error("S3 settings are incomplete: {0}")]
    S3Settings(String),
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
    /// The signing secret file may be read by others than its owner: whoever
    /// reads it can sign URLs to every file.
    #[error(
        "the signing secret {path:?} may be read by other users (mode {mode:o}); \
         make it owner-only: chmod 600 {path}"
    )]
    ExposedSecret {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The object store refused its configuration.
    #[error("object store setup failed: {0}")]
    Backend(#[from] object_store::Error),
}

/// Shortest signing secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;
