//! Schemathesis (installed by `scripts/openapi-tools.sh`; `./scripts/test.sh`
//! exports where) fuzzes the built binary from its own `/openapi.json`: no
//! answer may be a server error, or break the document's status codes, content
//! types or schemas. Bounded to about 30 s per run so the suite stays fast.

use std::process::Command;

use crate::harness::{
    ADMIN_TOKEN, HELPER_TICKET, PNG, Server, Workdir, client, form, required, upload_to_ticket,
};

/// The workspace every credential of this test belongs to.
const WORKSPACE: &str = "ws-st";

/// Runs schemathesis against the document at `document` with `args` added;
/// panics with its report unless every check passed.
fn fuzz(st: &str, work: &Workdir, document: &str, args: &[&str]) {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/schemathesis.toml");
    let out = Command::new(st)
        .args(["--config-file", config, "run", document])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples",
            "20",
            "--max-time",
            "30",
            // One worker: hypothesis parses lambdas' source with `ast`, which
            // CPython 3.11 cannot do from several threads at once ("AST
            // constructor recursion depth mismatch").
            "--workers",
            "1",
        ])
        .args(args)
        .env("CLASP_ST_WORKSPACE", WORKSPACE)
        // tests/schemathesis_hooks.py: how to send a tus PATCH's body
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .env("PYTHONPATH", concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests"))
        .env("NO_COLOR", "1")
        .current_dir(work.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() {
    let st = required("CLASP_TEST_SCHEMATHESIS");
    let work = Workdir::new();
    let key = work.tenant_with_key(
        WORKSPACE,
        "attachments:read,attachments:write,attachments:delete",
    );
    let session = work.admin(&[
        "admin", "session", "create", "--tenant", WORKSPACE, "--user", "42",
    ]);
    let server = Server::start(&work);
    // One ready attachment, so listings answer records to check.
    upload_to_ticket(
        &client(),
        &server,
        &key,
        HELPER_TICKET,
        form("file", "a.png", "image/png", PNG.to_vec()),
    )
    .await;

    tokio::task::spawn_blocking(move || {
        let bearer = format!("Authorization: Bearer {key}");
        let workspace = format!("x-workspace-id: {WORKSPACE}");
        let public = server.url("/openapi.json");
        fuzz(
            &st,
            &work,
            &public,
            &["-H", &bearer, "-H", &workspace, "--exclude-tag", "chat"],
        );
        let cookie = format!("Cookie: clasp_session={session}");
        fuzz(
            &st,
            &work,
            &public,
            &["-H", &cookie, "--include-tag", "chat"],
        );
        // the admin API, from its own document on the admin listener
        let admin = format!("Authorization: Bearer {ADMIN_TOKEN}");
        fuzz(
            &st,
            &work,
            &server.admin_url("/openapi.json"),
            &["-H", &admin],
        );
    })
    .await
    .unwrap();
}
