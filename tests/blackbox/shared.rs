//! Workdirs wired to the shared servers that `scripts/test.sh` starts: a real
//! PostgreSQL and a real SeaweedFS S3. A missing server fails the test with a
//! message saying how to get one; it never skips it.

use std::process::Command;

use clasp_storage::{ObjectBlobStore, S3Settings};

use crate::harness::{Workdir, required, stdout_of};

/// One signing secret for every instance of a test, as operators must configure.
pub const SECRET: &str = "test-secret-shared-by-all-instances-0123456789";

/// A fresh, empty database on the test PostgreSQL server; returns its URL.
pub fn fresh_postgres_database() -> String {
    let server = required("CLASP_TEST_POSTGRES_URL");
    let name = format!("bb_{}", uuid::Uuid::now_v7().simple());
    let out = Command::new("psql")
        .args([server.as_str(), "-qc", &format!("CREATE DATABASE {name}")])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "creating a test database failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
    format!("{base}/{name}")
}

/// The environment of an instance on PostgreSQL `database_url` and the test S3 bucket.
pub fn on_postgres_and_s3(database_url: &str) -> Workdir {
    Workdir::new()
        .with_env("CLASP_DATABASE_URL", database_url)
        .with_env(
            "CLASP_STORAGE_URL",
            &format!("s3://{}", required("CLASP_TEST_S3_BUCKET")),
        )
        .with_env("CLASP_S3_ENDPOINT", &s3_endpoint())
        .with_env("CLASP_S3_REGION", &required("CLASP_TEST_S3_REGION"))
        .with_env(
            "CLASP_S3_ACCESS_KEY_ID",
            &required("CLASP_TEST_S3_ACCESS_KEY_ID"),
        )
        .with_env(
            "CLASP_S3_SECRET_ACCESS_KEY",
            &required("CLASP_TEST_S3_SECRET_ACCESS_KEY"),
        )
        .with_env("CLASP_SIGNING_SECRET", SECRET)
}

/// The test S3 endpoint, where presigned URLs point.
pub fn s3_endpoint() -> String {
    required("CLASP_TEST_S3_ENDPOINT")
}

/// The test bucket, to look behind Clasp.
pub fn test_bucket() -> ObjectBlobStore {
    let endpoint = s3_endpoint();
    let mut settings =
        S3Settings::from_url(&format!("s3://{}", required("CLASP_TEST_S3_BUCKET"))).unwrap();
    settings.allow_http = endpoint.starts_with("http://");
    settings.endpoint = Some(endpoint);
    settings.region = required("CLASP_TEST_S3_REGION");
    settings.access_key_id = Some(required("CLASP_TEST_S3_ACCESS_KEY_ID"));
    settings.secret_access_key = Some(required("CLASP_TEST_S3_SECRET_ACCESS_KEY"));
    ObjectBlobStore::s3(&settings).unwrap()
}

/// `psql DATABASE -Atc SQL`, its output trimmed.
pub fn psql(database: &str, sql: &str) -> String {
    let out = stdout_of(Command::new("psql").args([database, "-Atc", sql]));
    String::from_utf8(out).unwrap().trim().to_owned()
}
