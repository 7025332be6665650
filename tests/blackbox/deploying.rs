//! What deployments run beside `clasp serve`: the health probe of containers
//! and orchestrators.

use crate::harness::{Server, Workdir};

#[tokio::test(flavor = "multi_thread")]
async fn healthcheck_answers_for_a_serving_instance_and_fails_without_one() {
    let work = Workdir::new();
    let server = Server::start(&work);
    let port_of = |base: &str| base.rsplit(':').next().unwrap().to_owned();
    let (port, admin_port) = (port_of(&server.url("")), port_of(&server.admin_url("")));
    // As a container runs it: the server's configuration, listening everywhere.
    let probe = |args: &[&str]| {
        let mut command = work.command(args);
        command
            .env("CLASP_LISTEN", format!("0.0.0.0:{port}"))
            .env("CLASP_ADMIN_LISTEN", format!("0.0.0.0:{admin_port}"));
        command.output().unwrap()
    };
    let live = probe(&["healthcheck"]);
    assert!(live.status.success(), "{live:?}");
    assert!(String::from_utf8_lossy(&live.stdout).contains("/healthz"));
    let ready = probe(&["healthcheck", "--ready"]);
    assert!(ready.status.success(), "{ready:?}");

    assert!(server.stop().success());
    let down = probe(&["healthcheck"]);
    assert_eq!(down.status.code(), Some(1), "{down:?}");
    assert!(String::from_utf8_lossy(&down.stderr).contains("/healthz"));

    let elsewhere = tempfile::tempdir().unwrap();
    let out = work
        .command(&["healthcheck"])
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        std::fs::read_dir(elsewhere.path())
            .unwrap()
            .next()
            .is_none(),
        "a probe leaves no data directory behind"
    );
}
