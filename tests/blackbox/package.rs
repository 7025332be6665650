//! The Debian package, installed for real: `scripts/package.sh --dev` builds
//! it around the binary under test, `dpkg -i` installs it, and the unit's
//! `ExecStart` runs as the unit's user with the unit's environment (these
//! machines have no running systemd), then the package is removed.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::harness::{HELPER_TICKET, PNG, client, fetch, form, free_port};

const UNIT: &str = "/lib/systemd/system/clasp.service";

fn run(command: &mut Command) -> Output {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The values of `key=` lines of the unit, in order.
fn unit_values(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_owned)
        .collect()
}

/// `clasp ARGS` as the unit runs it: its user, its working directory, its
/// environment and nothing else, plus the ports of this test.
fn as_the_unit(unit: &str, ports: (u16, u16), args: &[&str]) -> Command {
    let user = unit_values(unit, "User").pop().unwrap();
    let dir = unit_values(unit, "WorkingDirectory").pop().unwrap();
    let mut c = Command::new("runuser");
    c.args(["-u", &user, "--", "env", "-i", "PATH=/usr/bin:/bin"]);
    c.args(unit_values(unit, "Environment"));
    c.arg(format!("CLASP_LISTEN=127.0.0.1:{}", ports.0))
        .arg(format!("CLASP_ADMIN_LISTEN=127.0.0.1:{}", ports.1))
        .args(args)
        .current_dir(dir);
    c
}

#[tokio::test(flavor = "multi_thread")]
async fn the_debian_package_installs_serves_as_its_unit_and_removes() {
    let is_root = String::from_utf8(run(Command::new("id").arg("-u")).stdout).unwrap();
    assert_eq!(
        is_root.trim(),
        "0",
        "installing a package needs root, as CI runs"
    );
    let dir = tempfile::tempdir().unwrap();
    let deb = dir.path().join("clasp.deb");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    run(Command::new(root.join("scripts/package.sh"))
        .arg("--dev")
        .arg(&deb));
    run(Command::new("dpkg").arg("-i").arg(&deb));

    let unit = std::fs::read_to_string(UNIT).unwrap();
    for hardening in [
        "User=clasp",
        "StateDirectory=clasp",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
    ] {
        assert!(unit.lines().any(|l| l == hardening), "{hardening}");
    }
    let conffiles = std::fs::read_to_string("/var/lib/dpkg/info/clasp.conffiles").unwrap();
    assert_eq!(conffiles.trim(), "/etc/clasp/clasp.toml");
    let state = run(Command::new("stat").args(["-c", "%U %a", "/var/lib/clasp"])).stdout;
    assert_eq!(String::from_utf8(state).unwrap().trim(), "clasp 700");

    let ports = (free_port(), free_port());
    let slug = format!("pkg-{}", uuid::Uuid::now_v7().simple());
    run(&mut as_the_unit(
        &unit,
        ports,
        &[
            "/usr/bin/clasp",
            "admin",
            "tenant",
            "create",
            "--slug",
            &slug,
        ],
    ));
    let key = run(&mut as_the_unit(
        &unit,
        ports,
        &[
            "/usr/bin/clasp",
            "admin",
            "key",
            "create",
            "--tenant",
            &slug,
            "--scopes",
            "attachments:read,attachments:write",
        ],
    ))
    .stdout;
    let key = String::from_utf8(key).unwrap().trim().to_owned();
    let exec: Vec<String> = unit_values(&unit, "ExecStart")
        .pop()
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let exec: Vec<&str> = exec.iter().map(String::as_str).collect();
    // Its own process group: runuser forks, and the server must stop with it.
    let mut server = as_the_unit(&unit, ports, &exec)
        .stdout(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", ports.0)).is_err() {
        assert!(
            server.try_wait().unwrap().is_none(),
            "the unit's command exited"
        );
        assert!(Instant::now() < deadline, "it did not listen within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }

    let c = client();
    let base = format!("http://127.0.0.1:{}", ports.0);
    let res = c
        .post(format!("{base}/v1/tickets/{HELPER_TICKET}/attachments"))
        .bearer_auth(&key)
        .multipart(form("file", "a.png", "image/png", PNG.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer: serde_json::Value = c
        .get(format!(
            "{base}/v1/tickets/{HELPER_TICKET}/attachments/{id}/download"
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        fetch(&c, answer["signed_url"].as_str().unwrap()).await,
        (StatusCode::OK, PNG.to_vec())
    );
    run(&mut as_the_unit(
        &unit,
        ports,
        &["/usr/bin/clasp", "healthcheck", "--ready"],
    ));
    let group = format!("-{}", server.id());
    run(Command::new("kill").args(["-TERM", "--", &group]));
    server.wait().unwrap();
    let stopped = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", ports.0)).is_ok() {
        assert!(
            Instant::now() < stopped,
            "the server outlived its unit's stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    run(Command::new("dpkg").args(["-r", "clasp"]));
    assert!(
        !Path::new("/usr/bin/clasp").exists(),
        "the binary went with it"
    );
    run(Command::new("dpkg").args(["-P", "clasp"]));
    assert!(
        !Path::new("/etc/clasp/clasp.toml").exists(),
        "purged with its conffile"
    );
}
