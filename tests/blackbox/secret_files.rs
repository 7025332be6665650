//! Secrets read from files (`CLASP_*_FILE`), as container platforms mount
//! them: each one is checked by whoever verifies it — the admin API its
//! token, SeaweedFS the S3 secret key, a restarted instance given the secret
//! itself the URLs signed with the one from the file.

use reqwest::StatusCode;

use crate::harness::{ADMIN_TOKEN, PNG, Server, Workdir, client, required, upload_and_sign};
use crate::shared::{SECRET, fresh_postgres_database, on_postgres_and_s3, psql};

/// Moves `key` of `work`'s environment into a file (ending in a newline, as
/// `echo` writes it) named by `key_FILE`.
fn into_file(work: &mut Workdir, dir: &std::path::Path, key: &str) {
    let value = work
        .env
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap();
    let path = dir.join(key);
    std::fs::write(&path, format!("{value}\n")).unwrap();
    work.env.retain(|(k, _)| k != key);
    work.env
        .push((format!("{key}_FILE"), path.display().to_string()));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_token_and_the_s3_secret_key_may_come_from_files() {
    let mut work = on_postgres_and_s3(&fresh_postgres_database());
    let files = tempfile::tempdir().unwrap();
    into_file(&mut work, files.path(), "CLASP_ADMIN_TOKEN");
    into_file(&mut work, files.path(), "CLASP_S3_SECRET_ACCESS_KEY");
    let key = work.tenant_with_key("files", "attachments:read,attachments:write");
    let server = Server::start(&work);

    let c = client();
    let tenants = c
        .get(server.admin_url("/admin/v1/tenants"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(tenants.status(), StatusCode::OK, "the token from its file");
    // The bytes reached the bucket, and the presigned URL reads them back:
    // both signed with the secret key from its file.
    let presigned = upload_and_sign(&server, &key, "a.png", "image/png", PNG).await;
    let res = reqwest::get(&presigned).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);
}

#[tokio::test(flavor = "multi_thread")]
async fn urls_signed_with_a_secret_from_a_file_verify_with_the_same_secret_given_plainly() {
    let files = tempfile::tempdir().unwrap();
    let mut work = Workdir::new().with_env("CLASP_SIGNING_SECRET", SECRET);
    into_file(&mut work, files.path(), "CLASP_SIGNING_SECRET");
    let key = work.tenant_with_key("files", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let signed = upload_and_sign(&server, &key, "a.png", "image/png", PNG).await;
    assert!(server.stop().success());
    assert!(
        !work.path().join("data/signing.key").exists(),
        "no secret generated beside the one given"
    );

    let plain = Workdir {
        dir: work.dir,
        env: vec![("CLASP_SIGNING_SECRET".into(), SECRET.into())],
    };
    let again = Server::start(&plain);
    let path = &signed[signed.find("/signed/").unwrap()..];
    let res = reqwest::get(again.url(path)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);

    let both = plain.with_env(
        "CLASP_SIGNING_SECRET_FILE",
        &files
            .path()
            .join("CLASP_SIGNING_SECRET")
            .display()
            .to_string(),
    );
    let out = both.run(&["gc"]);
    assert_eq!(out.status.code(), Some(2), "a secret set both ways");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("signing_secret_file"), "{stderr}");
}

#[test]
fn the_database_password_may_come_from_a_file_and_a_wrong_one_is_refused() {
    // The test server's role `clasp_password` must give its password (SCRAM).
    let name = format!("bb_pw_{}", uuid::Uuid::now_v7().simple());
    psql(
        &required("CLASP_TEST_POSTGRES_URL"),
        &format!("CREATE DATABASE {name} OWNER clasp_password"),
    );
    let role = required("CLASP_TEST_POSTGRES_PASSWORD_URL");
    let url = format!("{}/{name}", role.rsplit_once('/').unwrap().0);
    let files = tempfile::tempdir().unwrap();
    let (good, wrong) = (files.path().join("good"), files.path().join("wrong"));
    std::fs::write(
        &good,
        format!("{}\n", required("CLASP_TEST_POSTGRES_PASSWORD")),
    )
    .unwrap();
    std::fs::write(&wrong, "not-the-password\n").unwrap();
    let gc = |password_file: Option<&std::path::Path>| {
        let mut work = Workdir::new()
            .with_env("CLASP_DATABASE_URL", &url)
            .with_env("CLASP_SIGNING_SECRET", SECRET);
        if let Some(file) = password_file {
            work = work.with_env("CLASP_DATABASE_PASSWORD_FILE", file.to_str().unwrap());
        }
        work.run(&["gc"])
    };
    let out = gc(Some(&good));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for refused in [gc(Some(&wrong)), gc(None)] {
        assert!(!refused.status.success());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            !stderr.contains("not-the-password"),
            "no password in the message: {stderr}"
        );
    }
}
