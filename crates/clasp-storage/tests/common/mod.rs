//! The SeaweedFS (S3) server the S3 tests run against, named by the environment,
//! and the clients the S3 tests reach it with.

#![allow(dead_code, reason = "each test binary uses its part of the helpers")]

use std::time::Duration;

use clasp_storage::{HmacSigner, ObjectBlobStore, S3Settings, S3UrlSigner};

/// A required test variable; missing means the suite was not started by the
/// script that starts SeaweedFS, and the test fails saying so (never skips).
fn required(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => panic!(
            "{name} is not set: the S3 tests need a running SeaweedFS. Run the suite with \
             ./scripts/test.sh, which starts one and exports CLASP_TEST_S3_ENDPOINT, \
             CLASP_TEST_S3_BUCKET, CLASP_TEST_S3_ACCESS_KEY_ID and CLASP_TEST_S3_SECRET_ACCESS_KEY"
        ),
    }
}

/// Settings for the test bucket: path style, region `CLASP_TEST_S3_REGION`
/// (optional, us-east-1 by default).
pub fn s3_settings() -> S3Settings {
    let endpoint = required("CLASP_TEST_S3_ENDPOINT");
    let mut settings =
        S3Settings::from_url(&format!("s3://{}", required("CLASP_TEST_S3_BUCKET"))).unwrap();
    settings.allow_http = endpoint.starts_with("http://");
    settings.endpoint = Some(endpoint);
    if let Some(region) = std::env::var("CLASP_TEST_S3_REGION")
        .ok()
        .filter(|r| !r.trim().is_empty())
    {
        settings.region = region;
    }
    settings.access_key_id = Some(required("CLASP_TEST_S3_ACCESS_KEY_ID"));
    settings.secret_access_key = Some(required("CLASP_TEST_S3_SECRET_ACCESS_KEY"));
    settings
}

/// The signer of Clasp's own URLs beside the presigner.
pub fn hmac() -> HmacSigner {
    HmacSigner::new(&[7u8; 32], "http://clasp.example").unwrap()
}

/// The test bucket through the adapter, and its presigner.
pub fn bucket() -> (ObjectBlobStore, S3UrlSigner) {
    let settings = s3_settings();
    let store = ObjectBlobStore::s3(&settings).unwrap();
    let signer = S3UrlSigner::new(&settings, hmac()).unwrap();
    (store, signer)
}

/// An HTTP client such as a browser following a presigned URL.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}
