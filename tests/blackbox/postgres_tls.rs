//! PostgreSQL over TLS, as managed servers require it: the test server offers
//! TLS with a certificate for `localhost` from a CA made for the run
//! (`CLASP_TEST_POSTGRES_CA`, by scripts/services.sh), and each `sslmode`
//! connects, or refuses, as libpq's does.

use std::process::Command;

use crate::harness::{PNG, Server, Workdir, required, upload_and_sign};
use crate::shared::{SECRET, fresh_postgres_database, psql};

/// An embedded-storage instance on `database_url`.
fn on(database_url: &str) -> Workdir {
    Workdir::new()
        .with_env("CLASP_DATABASE_URL", database_url)
        .with_env("CLASP_SIGNING_SECRET", SECRET)
}

/// `clasp gc` on `database_url`, which connects and migrates: whether it
/// succeeded, and what it printed on standard error.
fn connects(database_url: &str) -> (bool, String) {
    let out = on(database_url).run(&["gc"]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A CA of the test's own, which signed nothing the server shows.
fn stranger_ca(dir: &std::path::Path) -> String {
    let ca = dir.join("stranger.pem");
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=Stranger CA"])
        .arg("-keyout")
        .arg(dir.join("stranger.key"))
        .arg("-out")
        .arg(&ca)
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .output()
        .unwrap()
        .status;
    assert!(status.success());
    ca.display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn require_encrypts_every_connection_of_a_serving_instance() {
    let database = fresh_postgres_database();
    let work = on(&format!("{database}?sslmode=require"));
    let key = work.tenant_with_key("tls", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let signed = upload_and_sign(&server, &key, "a.png", "image/png", PNG).await;
    assert!(reqwest::get(&signed).await.unwrap().status().is_success());
    let name = database.rsplit_once('/').unwrap().1;
    let sessions = format!(
        "SELECT count(*), bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
         WHERE a.datname = '{name}' AND a.application_name = 'clasp'"
    );
    let (count, all_tls) = {
        let row = psql(&database, &sessions);
        let (n, tls) = row.split_once('|').unwrap();
        (n.parse::<u32>().unwrap(), tls.to_owned())
    };
    assert!(count > 0, "the server holds connections");
    assert_eq!(all_tls, "t", "every one of them over TLS");
    drop(server);

    let plain = Server::start(&on(&format!("{database}?sslmode=disable")));
    let plain_sessions = psql(&database, &sessions);
    assert!(plain_sessions.ends_with("|f"), "{plain_sessions}");
    drop(plain);
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_full_checks_the_ca_and_the_host_name_and_verify_ca_only_the_ca() {
    let ca = required("CLASP_TEST_POSTGRES_CA");
    let database = fresh_postgres_database();
    let by_name = database.replace("127.0.0.1", "localhost");
    let with = |url: &str, mode: &str, ca: &str| format!("{url}?sslmode={mode}&sslrootcert={ca}");

    let (ok, stderr) = connects(&with(&by_name, "verify-full", &ca));
    assert!(ok, "the CA signed a certificate for localhost: {stderr}");
    let (ok, stderr) = connects(&with(&database, "verify-full", &ca));
    assert!(!ok, "the certificate does not name 127.0.0.1");
    assert!(stderr.contains("certificate"), "{stderr}");
    let (ok, stderr) = connects(&with(&database, "verify-ca", &ca));
    assert!(ok, "verify-ca takes any name: {stderr}");

    let dir = tempfile::tempdir().unwrap();
    let stranger = stranger_ca(dir.path());
    for mode in ["verify-full", "verify-ca", "require"] {
        let (ok, stderr) = connects(&with(&by_name, mode, &stranger));
        assert!(!ok, "{mode} with a CA that signed nothing of the server's");
        assert!(stderr.contains("certificate"), "{mode}: {stderr}");
    }
    // The same through the settings, for a URL a platform hands over whole.
    for (root, works) in [(&ca, true), (&stranger, false)] {
        let out = on(&by_name)
            .with_env("CLASP_DATABASE_SSLMODE", "verify-full")
            .with_env("CLASP_DATABASE_SSLROOTCERT", root)
            .run(&["gc"]);
        assert_eq!(out.status.success(), works, "{root}");
    }
    let (ok, stderr) = connects(&format!(
        "{by_name}?sslmode=verify-full&sslrootcert=/nonexistent.pem"
    ));
    assert!(!ok && stderr.contains("/nonexistent.pem"), "{stderr}");
}
