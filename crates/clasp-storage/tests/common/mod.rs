//! The SeaweedFS (S3) server the S3 tests run against, named by the environment.

use clasp_storage::S3Settings;

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
    S3Settings {
        bucket: required("CLASP_TEST_S3_BUCKET"),
        allow_http: endpoint.starts_with("http://"),
        endpoint: Some(endpoint),
        region: std::env::var("CLASP_TEST_S3_REGION")
            .ok()
            .filter(|r| !r.trim().is_empty())
            .unwrap_or_else(|| "us-east-1".into()),
        access_key_id: Some(required("CLASP_TEST_S3_ACCESS_KEY_ID")),
        secret_access_key: Some(required("CLASP_TEST_S3_SECRET_ACCESS_KEY")),
        virtual_hosted_style: false,
    }
}
