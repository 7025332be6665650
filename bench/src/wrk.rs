//! GETs measured with `wrk` (Debian's package, installed by
//! `scripts/services.sh`): a C load generator that keeps up with nginx serving
//! a static file, where a reqwest loop tops out far below it. Its `done` hook
//! (a Lua script written beside the run) prints the run's totals in one line,
//! so nothing depends on the layout of wrk's human report.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use reqwest::header::HeaderMap;

use crate::load::Sample;
use crate::procs::{self, Cpus};

/// The `done` hook: requests, bytes read, duration (µs), p99 latency (µs) and
/// every kind of error, on one line behind a marker.
const REPORT_SCRIPT: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("clasp-bench-wrk %d %d %d %d %d\n",
    summary.requests, summary.bytes, summary.duration,
    latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"#;

/// A `wrk` binary and the directory its script lives in.
#[derive(Debug, Clone)]
pub struct Wrk {
    bin: PathBuf,
    script: PathBuf,
    /// The CPUs it is confined to, if any.
    cpus: Option<Cpus>,
}

impl Wrk {
    /// Uses `bin`, writing its script under `work`.
    pub fn new(bin: &Path, work: &Path) -> Result<Wrk> {
        let script = work.join("wrk-report.lua");
        std::fs::write(&script, REPORT_SCRIPT)?;
        Ok(Wrk {
            bin: bin.to_owned(),
            script,
            cpus: None,
        })
    }

    /// The same generator confined to `cpus`, with one thread per CPU: kept
    /// off the servers' cores, its own work cannot preempt a server, so the
    /// latency it records is the server's.
    pub fn on_cpus(&self, cpus: &Cpus) -> Wrk {
        Wrk {
            cpus: Some(cpus.clone()),
            ..self.clone()
        }
    }

    /// GETs `url` with `headers` over `concurrency` keep-alive connections
    /// for `duration` (whole seconds, at least one). Fails when any request
    /// failed or answered other than 2xx/3xx: a benchmark that counts failures
    /// as work measures nothing.
    pub async fn get(
        &self,
        url: &str,
        headers: &HeaderMap,
        concurrency: usize,
        duration: Duration,
    ) -> Result<Sample> {
        let connections = concurrency.max(1);
        let threads = connections.min(Cpus::count_of(self.cpus.as_ref()));
        let secs = duration.as_secs_f64().ceil().max(1.0) as u64;
        let mut command = procs::command(&self.bin, self.cpus.as_ref());
        command
            .arg(format!("-t{threads}"))
            .arg(format!("-c{connections}"))
            .arg(format!("-d{secs}s"))
            // wrk counts a response slower than 2 s (its default) as an
            // error, though it came: on this VM a stall of the host does that
            // now and then (a 1 s run that took 5.75 s, on 2026-12-06). A slow
            // answer is latency, and shows in the p99; only a lost one fails.
            .arg("--timeout")
            .arg("30s")
            .arg("-s")
            .arg(&self.script);
        for (name, value) in headers {
            command
                .arg("-H")
                .arg(format!("{name}: {}", value.to_str().unwrap_or_default()));
        }
        command.arg(url);
        let before = self.cpus.as_ref().map(Cpus::times).transpose()?;
        let out = tokio::task::spawn_blocking(move || command.output())
            .await?
            .with_context(|| format!("running {}", self.bin.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!("wrk {url}: {}: {stdout}", out.status);
        }
        let mut sample = parse(&stdout).with_context(|| format!("wrk {url}: {stdout}"))?;
        if let (Some(cpus), Some((busy, total))) = (&self.cpus, before) {
            let (busy_after, total_after) = cpus.times()?;
            let ticks = total_after.saturating_sub(total).max(1);
            sample.generator_busy = Some(busy_after.saturating_sub(busy) as f64 / ticks as f64);
        }
        Ok(sample)
    }
}

/// The sample in the hook's line of `stdout`.
fn parse(stdout: &str) -> Result<Sample> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("clasp-bench-wrk "))
        .context("no report line")?;
    let numbers: Vec<u64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let [requests, bytes, micros, p99, errors] = numbers[..] else {
        bail!("a report line of {} numbers", numbers.len());
    };
    if errors > 0 {
        bail!("{errors} of {requests} requests failed");
    }
    Ok(Sample {
        elapsed: Duration::from_micros(micros),
        requests,
        bytes,
        p99: Duration::from_micros(p99),
        generator_busy: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_line_is_read_and_errors_fail_the_run() {
        let ok = parse("Running 1s test\nclasp-bench-wrk 100 409600 1000000 250 0\n");
        let sample = ok.unwrap_or_default();
        assert_eq!(sample.requests, 100);
        assert_eq!(sample.elapsed, Duration::from_secs(1));
        assert_eq!(sample.p99, Duration::from_micros(250));
        assert!(parse("clasp-bench-wrk 100 409600 1000000 250 3\n").is_err());
        assert!(parse("nothing\n").is_err());
    }
}
