//! The transfer benchmark (`./scripts/bench.sh`, docs/performance.md) runs,
//! small, against the binary under test, nginx and SeaweedFS, so it cannot rot:
//! every figure is measured, the memory is read and the plot drawn. Timings are
//! not asserted; that is what the benchmark reports.

use std::path::PathBuf;
use std::time::Duration;

use clasp_bench::procs::S3Target;
use clasp_bench::workloads::growth::{self, Layout, quotas};
use clasp_bench::workloads::transfer::{self, Config, Group, Unit};

use crate::harness::BIN;

#[tokio::test(flavor = "multi_thread")]
async fn the_transfer_benchmark_measures_every_figure_beside_nginx_and_seaweedfs() {
    let nginx = std::env::var("CLASP_TEST_NGINX").expect(
        "CLASP_TEST_NGINX is not set: run the suite with ./scripts/test.sh, whose scripts/services.sh installs nginx",
    );
    let s3 = S3Target::from_env().expect(
        "CLASP_TEST_S3_* are not set: run the suite with ./scripts/test.sh, which starts SeaweedFS",
    );
    let wrk = std::env::var("CLASP_TEST_WRK").expect(
        "CLASP_TEST_WRK is not set: run the suite with ./scripts/test.sh, whose scripts/services.sh installs wrk",
    );
    let config = Config {
        groups: Group::ALL.to_vec(),
        clasp_bin: PathBuf::from(BIN),
        nginx_bin: PathBuf::from(nginx),
        wrk_bin: PathBuf::from(wrk),
        tus_script: PathBuf::from(std::env::var("CLASP_TEST_TUS").expect(
            "CLASP_TEST_TUS is not set: run the suite with ./scripts/test.sh, whose scripts/services.sh installs @tus/server",
        )),
        tmpfs: PathBuf::from("/dev/shm"),
        s3: Some(s3),
        rounds: 2,
        duration: Duration::from_millis(50),
        concurrency: vec![1, 2],
        metadata_concurrency: 2,
        s3_concurrency: vec![2],
        memory_uploads: 2,
        medium_bytes: 64 * 1024,
        large_bytes: 1024 * 1024,
        durability: "fsync".into(),
    };
    let work = tempfile::tempdir().unwrap();
    let report = transfer::run(&config, work.path()).await.unwrap();

    let figures: Vec<(&str, usize)> = report
        .measurements
        .iter()
        .map(|m| (m.workload.as_str(), m.concurrency))
        .collect();
    // The figures with wrk on a core of its own need a second core.
    let apart = std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2);
    let apart_only = |figures: Vec<(&'static str, usize)>| figures.into_iter().filter(|_| apart);
    let expected: Vec<(&str, usize)> = [
        ("download 64 KiB", 1),
        ("download 64 KiB", 2),
        ("download 1 MiB", 1),
        ("download 1 MiB", 2),
    ]
    .into_iter()
    .chain(apart_only(vec![
        ("download 64 KiB, generator on its own core", 2),
        ("download 1 MiB, generator on its own core", 2),
    ]))
    .chain([("metadata GET (tickets get)", 2)])
    .chain(apart_only(vec![(
        "metadata GET, generator on its own core",
        2,
    )]))
    .chain([
        ("upload 1 MiB (tmpfs)", 1),
        ("upload 1 MiB (tmpfs)", 2),
        ("upload 1 MiB (disk)", 1),
        ("upload 1 MiB (disk)", 2),
        ("upload 4 KiB (disk)", 1),
        ("upload 4 KiB (disk)", 2),
        ("upload 1 MiB (tmpfs)", 1),
        ("upload 1 MiB (tmpfs)", 8),
        ("upload 1 MiB via tus, 5 MiB parts (tmpfs)", 1),
        ("upload 1 MiB via tus, 5 MiB parts (tmpfs)", 1),
        ("S3 upload 1 MiB", 2),
        ("S3 download 1 MiB", 2),
    ])
    .collect();
    assert_eq!(figures, expected);
    for m in &report.measurements {
        let counts = (m.clasp.len(), m.peers.len(), m.ceiling.len());
        assert_eq!(counts, (2, 2, 2), "{m:?}");
        if m.workload.contains("generator on its own core") {
            let busy = m.clasp_busy.iter().chain(&m.peer_busy);
            assert_eq!(busy.clone().count(), 4, "{m:?}");
            assert!(busy.copied().all(|b| (0.0..=1.0).contains(&b)), "{m:?}");
        } else {
            assert!(m.clasp_busy.is_empty() && m.peer_busy.is_empty(), "{m:?}");
        }
        let all = m.clasp.iter().chain(&m.peers).chain(&m.ceiling);
        assert!(all.copied().all(|v| v > 0.0), "{m:?}");
        assert!(m.ratio() > 0.0);
    }
    let metadata = report
        .measurements
        .iter()
        .filter(|m| m.workload.starts_with("metadata"));
    for m in metadata {
        assert_eq!(m.unit, Unit::PerSec);
        assert!(
            m.clasp_p99.iter().chain(&m.peer_p99).all(|d| !d.is_zero()),
            "{m:?}"
        );
    }
    let memory = report.memory.unwrap();
    assert!(memory.peak > 0 && memory.tus_peak > 0 && memory.uploads == 2);
    assert!(report.measurements.iter().any(|m| m.peer == "@tus/server"));
    let chunked: Vec<_> = report
        .measurements
        .iter()
        .filter(|m| m.workload.contains("via tus"))
        .map(|m| m.peer.as_str())
        .collect();
    assert_eq!(
        chunked,
        ["@tus/server, same parts", "Clasp one-shot upload"]
    );

    let table = report.render();
    assert!(table.contains("| upload 1 MiB (tmpfs) | 1 |"), "{table}");
    assert!(table.contains("generator ceiling"), "{table}");
    assert!(table.contains("Peak RSS"), "{table}");
    assert!(table.contains("a second after them"), "{table}");
    let plot = work.path().join("plot.svg");
    clasp_bench::plot::draw(&report, &plot).unwrap();
    let svg = std::fs::read_to_string(plot).unwrap();
    assert!(svg.contains("<svg") && svg.contains("nginx PUT") && svg.contains("SeaweedFS direct"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_growth_benchmark_measures_each_step_of_both_layouts_and_both_quota_settings() {
    let postgres_url = std::env::var("CLASP_TEST_POSTGRES_URL").expect(
        "CLASP_TEST_POSTGRES_URL is not set: run the suite with ./scripts/test.sh, which starts PostgreSQL",
    );
    let work = tempfile::tempdir().unwrap();
    let config = growth::Config {
        postgres_url: postgres_url.clone(),
        clasp_bin: PathBuf::from(BIN),
        sizes: vec![40, 400],
        tenants: 4,
        lookups: 5,
        abandoned: 3,
        limit: 7,
    };
    let mut report = growth::Report::default();
    growth::run(&config, work.path(), &mut report)
        .await
        .unwrap();
    let steps: Vec<(Layout, u64)> = report
        .steps
        .iter()
        .map(|s| (s.layout, s.attachments))
        .collect();
    assert_eq!(
        steps,
        [
            (Layout::OneTenant, 40),
            (Layout::OneTenant, 400),
            (Layout::Spread(4), 40),
            (Layout::Spread(4), 400),
        ]
    );
    assert!(
        report
            .steps
            .iter()
            .all(|s| s.table_bytes > 0 && s.by_id.p50 <= s.by_id.p99 && !s.sweep_gc.is_zero())
    );

    let config = quotas::Config {
        clasp_bin: PathBuf::from(BIN),
        postgres_url: Some(postgres_url),
        rounds: 2,
        duration: Duration::from_millis(50),
        concurrency: 2,
        bytes: 1024,
    };
    report.quotas = quotas::run(&config, work.path()).await.unwrap();
    let stores: Vec<&str> = report.quotas.iter().map(|q| q.store).collect();
    assert_eq!(stores, ["sqlite", "postgres"]);
    assert!(report.quotas.iter().all(|q| q.off.len() == 2
        && q.on.len() == 2
        && q.off.iter().chain(&q.on).all(|v| *v > 0.0)));
    let table = report.render();
    assert!(table.contains("| 4 tenants | 400 |"), "{table}");
    assert!(
        table.contains("| postgres | 1024 B × 2 in flight |"),
        "{table}"
    );
}

/// Runs `bench/SCRIPT` on the binary under test (twice, as two "builds")
/// with `envs`, and `wrk` of the suite; the MiB/s figures it printed.
fn ab_script(script: &str, envs: &[(&str, String)]) -> (Vec<f64>, String) {
    let wrk = std::env::var("CLASP_TEST_WRK").expect(
        "CLASP_TEST_WRK is not set: run the suite with ./scripts/test.sh, whose scripts/services.sh installs wrk",
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../bench")
        .join(script);
    let out = std::process::Command::new(script)
        .args([BIN, BIN])
        .env("ROUNDS", "1")
        .env("BODY_MIB", "1")
        .env("SECONDS_PER_FIGURE", "1")
        .env("WRK", wrk)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rates: Vec<f64> = stdout
        .lines()
        .filter_map(|line| {
            let (before, _) = line.split_once(" MiB/s")?;
            before.rsplit(' ').next()?.parse().ok()
        })
        .collect();
    assert!(rates.iter().all(|r| *r > 0.0), "{stdout}");
    (rates, stdout)
}

/// `bench/upload-ab.sh`, the command behind performance.md's side-by-side
/// builds and its CPU budget of an upload, runs small: nginx and each build,
/// every figure a rate with the server's CPU per MiB, none an error.
#[test]
fn the_ab_upload_script_measures_nginx_and_each_build_at_1_and_8_in_flight() {
    let nginx = std::env::var("CLASP_TEST_NGINX").expect(
        "CLASP_TEST_NGINX is not set: run the suite with ./scripts/test.sh, whose scripts/services.sh installs nginx",
    );
    let (rates, stdout) = ab_script(
        "upload-ab.sh",
        &[("WARM_MB", "8".into()), ("NGINX_BIN", nginx)],
    );
    assert_eq!(
        rates.len(),
        6,
        "nginx and two builds at 1 and 8 in flight: {stdout}"
    );
    assert_eq!(stdout.matches("nginx PUT").count(), 2, "{stdout}");
    let cpu: Vec<f64> = stdout
        .lines()
        .filter_map(|line| line.strip_suffix(" ms of CPU per MiB")?.rsplit(' ').next())
        .map(|ms| ms.parse().unwrap())
        .collect();
    assert_eq!(cpu.len(), 6, "{stdout}");
    assert!(cpu.iter().all(|ms| *ms > 0.0), "{stdout}");
}

/// `bench/download-ab.sh`, the command behind performance.md's download
/// A/B figures, runs small: nginx and each build, every figure a rate with
/// the server's context switches a download beside it.
#[test]
fn the_ab_download_script_measures_nginx_and_each_build() {
    let nginx = std::env::var("CLASP_TEST_NGINX").expect(
        "CLASP_TEST_NGINX is not set: run the suite with ./scripts/test.sh, whose scripts/services.sh installs nginx",
    );
    let (rates, stdout) = ab_script(
        "download-ab.sh",
        &[("NGINX_BIN", nginx), ("CONNECTIONS", "4".into())],
    );
    assert_eq!(rates.len(), 3, "nginx and two builds: {stdout}");
    assert!(stdout.contains("nginx sendfile"), "{stdout}");
    let switches: Vec<f64> = stdout
        .lines()
        .filter_map(|line| line.split_once("context switches a download: "))
        .map(|(_, n)| n.parse().unwrap())
        .collect();
    assert_eq!(switches.len(), 3, "{stdout}");
}

/// `bench/cpu-share.py`, the command behind performance.md's S3 download
/// profile, tells a program that burns a core from one that sleeps.
#[test]
fn the_cpu_share_script_shows_which_program_used_the_cores() {
    let mut busy = std::process::Command::new("yes")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench/cpu-share.py");
    let out = std::process::Command::new(script)
        .args(["yes,clasp-never-run", "2"])
        .output();
    // stopped before anything can fail, so a failing run leaves no busy core
    busy.kill().unwrap();
    busy.wait().unwrap();
    let out = out.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let share = |line: &str, name: &str| -> f64 {
        let field = line
            .split(' ')
            .find_map(|f| f.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {line:?}"));
        field.trim_end_matches('%').parse().unwrap()
    };
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "one line a second: {stdout}");
    for line in lines {
        // `yes` shares two cores with the rest of the suite, so only "busy"
        assert!(share(line, "yes") >= 20.0, "{line}");
        assert!(share(line, "clasp-never-run") < 0.5, "{line}");
        assert!(share(line, "machine") >= share(line, "yes") - 5.0, "{line}");
    }
}
