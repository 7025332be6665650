//! The README's curl walk-through, run exactly as written against a live server.

use std::process::Command;

use crate::harness::{BIN, Server, Workdir};

const README: &str = include_str!("../../README.md");

fn walkthrough() -> &'static str {
    let start = README
        .find("<!-- walkthrough:start -->")
        .expect("README has a walk-through");
    let end = README
        .find("<!-- walkthrough:end -->")
        .expect("README walk-through ends");
    let block = &README[start..end];
    let code_start = block.find("```sh\n").expect("a sh code block") + "```sh\n".len();
    let code_end = block[code_start..]
        .find("```")
        .expect("the code block closes")
        + code_start;
    &block[code_start..code_end]
}

#[test]
fn the_readme_walkthrough_round_trips_a_png() {
    let work = Workdir::new();
    let server = Server::start(&work);
    let script = format!("set -euo pipefail\n{}", walkthrough());
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(work.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(work.env.iter().map(|(k, v)| (k, v)))
        .env("BASE", &server.base)
        .env("CLASP", BIN)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "walk-through failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("round trip OK"), "{stdout}");
    assert!(
        stdout.contains("HTTP/1.1 204"),
        "the delete answers 204: {stdout}"
    );
}
