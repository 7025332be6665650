//! The operator contract of DESIGN.md: commands, outputs, exit codes, defaults.

use std::os::unix::fs::PermissionsExt;

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{PNG, Server, Workdir, client, form, free_port};

#[test]
fn admin_commands_print_what_scripts_need() {
    let work = Workdir::new();
    work.admin(&["migrate"]);
    assert!(
        work.path().join("data/clasp.db").is_file(),
        "migrate creates ./data/clasp.db"
    );
    let tenant: Value =
        serde_json::from_str(&work.admin(&["admin", "tenant", "create", "--slug", "ws-123"]))
            .unwrap();
    assert_eq!(tenant["slug"], "ws-123");
    assert!(uuid::Uuid::parse_str(tenant["id"].as_str().unwrap()).is_ok());

    let key = work.admin(&[
        "admin",
        "key",
        "create",
        "--tenant",
        "ws-123",
        "--scopes",
        "attachments:read,attachments:write,attachments:delete",
    ]);
    assert!(
        key.starts_with("ixk_") && key.len() >= 4 + 43 && !key.contains(char::is_whitespace),
        "{key}"
    );
    let cookie = work.admin(&[
        "admin", "session", "create", "--tenant", "ws-123", "--user", "u-1", "--ttl", "1h",
    ]);
    assert!(
        cookie.len() >= 43 && !cookie.contains(char::is_whitespace),
        "{cookie}"
    );

    let dup = work.run(&["admin", "tenant", "create", "--slug", "ws-123"]);
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    let unknown = work.run(&[
        "admin",
        "key",
        "create",
        "--tenant",
        "nope",
        "--scopes",
        "attachments:read",
    ]);
    assert!(!unknown.status.success());
    let bad_scope = work.run(&[
        "admin",
        "key",
        "create",
        "--tenant",
        "ws-123",
        "--scopes",
        "attachments:everything",
    ]);
    assert!(!bad_scope.status.success());
    assert!(String::from_utf8_lossy(&bad_scope.stderr).contains("unknown scope"));

    let revoked: Value =
        serde_json::from_str(&work.admin(&["admin", "key", "revoke", &key[..12]])).unwrap();
    assert!(revoked["revoked_at"].as_str().is_some());
    assert!(
        !work
            .run(&["admin", "key", "revoke", "ixk_nothing-like-it"])
            .status
            .success()
    );
}

#[test]
fn bad_configuration_exits_2_with_a_message() {
    for (key, value, says) in [
        ("CLASP_SIGNING_SECRET", "too-short", "at least 32 bytes"),
        ("CLASP_CONFIG", "/nonexistent/clasp.toml", "does not exist"),
        ("CLASP_MAX_UPLOAD_BYTES", "lots", "invalid configuration"),
        ("CLASP_LISTN", "127.0.0.1:1", "unknown field"),
        (
            "CLASP_DATABASE_URL",
            "mysql://nope",
            "unsupported database_url",
        ),
        ("CLASP_STORAGE_URL", "ftp://nope", "ftp"),
        (
            "CLASP_CORS_ALLOWED_ORIGINS",
            "app.example.com",
            "cors_allowed_origins",
        ),
        // signed URLs would point at http://0.0.0.0:…
        ("CLASP_LISTEN", "0.0.0.0:18099", "public_url"),
        ("CLASP_LISTEN", "[::]:18099", "public_url"),
    ] {
        let work = Workdir::new().with_env(key, value);
        let out = work.run(&["serve"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}={value}: {stderr}");
        assert!(stderr.contains(says), "{key}={value}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[tokio::test]
async fn data_and_signed_urls_survive_a_graceful_restart() {
    let work = Workdir::new();
    let key = work.tenant_with_key("ws-1", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let c = client();
    let base = server.url("/v1/tickets/550e8400-e29b-41d4-a716-446655440000/attachments");
    let created: Value = c
        .post(&base)
        .bearer_auth(&key)
        .multipart(form("file", "a.png", "image/png", PNG.to_vec()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let dl: Value = c
        .get(format!("{base}/{id}/download"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let signed = dl["signed_url"].as_str().unwrap().to_owned();
    let status = server.stop();
    assert!(status.success(), "graceful shutdown exits 0: {status}");

    let secret = work.path().join("data/signing.key");
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the generated signing secret is private");
    let data = std::fs::metadata(work.path().join("data")).unwrap();
    assert_eq!(
        data.permissions().mode() & 0o777,
        0o700,
        "the data directory is the owner's alone"
    );
    assert!(std::fs::metadata(&secret).unwrap().len() >= 32);

    // same port is not guaranteed; the signed URL's path and query are what count
    let again = Server::start(&work);
    let path = &signed[signed.find("/signed/").unwrap()..];
    let res = reqwest::get(again.url(path)).await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "the persisted secret still verifies old URLs"
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);
}

#[test]
fn sigterm_the_moment_the_port_opens_is_still_a_graceful_exit() {
    let work = Workdir::new();
    for round in 0..5 {
        let port = free_port();
        let child = work
            .command(&["serve"])
            .env("CLASP_LISTEN", format!("127.0.0.1:{port}"))
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let server = Server {
            child,
            base: String::new(),
            admin_base: String::new(),
        };
        // poll without pausing, so the signal lands as close to bind as it can
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {}
        let status = server.stop();
        assert!(status.success(), "round {round}: {status}");
    }
}

#[test]
fn a_signing_secret_others_may_read_is_refused_at_start() {
    let work = Workdir::new();
    work.admin(&["admin", "tenant", "create", "--slug", "ws-1"]);
    let server = Server::start(&work);
    assert!(server.stop().success());
    let secret = work.path().join("data/signing.key");
    for mode in [0o640, 0o604] {
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(mode)).unwrap();
        let out = work.run(&["serve"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{mode:o}: {stderr}");
        assert!(stderr.contains("may be read by other users"), "{stderr}");
    }
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let again = Server::start(&work);
    assert!(again.stop().success());
}

#[test]
fn a_session_is_revoked_from_standard_input_and_lives_at_most_thirty_days() {
    use std::io::Write;
    use std::process::Stdio;

    let work = Workdir::new();
    work.admin(&["admin", "tenant", "create", "--slug", "ws-1"]);
    let cookie = work.admin(&[
        "admin", "session", "create", "--tenant", "ws-1", "--user", "u-7",
    ]);
    let revoke = |args: &[&str]| {
        let mut child = work
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{cookie}").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let first = revoke(&["admin", "session", "revoke"]);
    assert_eq!(first["user_id"], "u-7");
    let again = revoke(&["admin", "session", "revoke", "-"]);
    assert_eq!(
        again["id"], first["id"],
        "the same session, by the same cookie"
    );
    assert_eq!(again["revoked_at"], first["revoked_at"]);

    let too_long = work.run(&[
        "admin", "session", "create", "--tenant", "ws-1", "--user", "u", "--ttl", "31days",
    ]);
    assert!(!too_long.status.success());
    let stderr = String::from_utf8_lossy(&too_long.stderr);
    assert!(stderr.contains("at most 30 days"), "{stderr}");
}
