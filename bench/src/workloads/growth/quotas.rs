//! Upload throughput with the tenant's quota on and off, through `clasp serve`
//! on each metadata store. Usage is accounted either way (it is what a quota
//! is checked against, in the insert's transaction); a quota adds the check.
//! Small uploads, many in flight, so that each upload's database work shows.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;

use crate::backend::Backend;
use crate::load;
use crate::procs::{Clasp, Storage};
use crate::workloads::transfer::target::{Target, pdf_bytes};
use crate::workloads::transfer::{median, min_max};

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The `clasp` binary (release build).
    pub clasp_bin: std::path::PathBuf,
    /// A PostgreSQL server; without it only the embedded SQLite is measured.
    pub postgres_url: Option<String>,
    /// Measurements of each setting, alternating.
    pub rounds: usize,
    /// How long each measurement uploads.
    pub duration: Duration,
    /// Uploads in flight.
    pub concurrency: usize,
    /// Bytes of each upload.
    pub bytes: usize,
}

/// One store's figures, in uploads per second.
#[derive(Debug, Clone)]
pub struct QuotaCost {
    /// `sqlite` or `postgres`.
    pub store: &'static str,
    /// Uploads in flight.
    pub concurrency: usize,
    /// Bytes of each upload.
    pub bytes: usize,
    /// Each round's figure without limits.
    pub off: Vec<f64>,
    /// Each round's figure with both limits set (far above what is used).
    pub on: Vec<f64>,
}

/// Limits far above what the measurement stores: every upload is checked,
/// none refused.
const ON: [&str; 4] = [
    "--max-bytes",
    "1000000000000",
    "--max-attachments",
    "1000000000",
];
const OFF: [&str; 4] = ["--max-bytes", "none", "--max-attachments", "none"];

/// Measures each store in turn; `work` holds the instances' files.
pub async fn run(config: &Config, work: &Path) -> Result<Vec<QuotaCost>> {
    let mut out = vec![measure(config, &work.join("quota-sqlite"), "sqlite", None).await?];
    if let Some(server) = &config.postgres_url {
        let database = Backend::postgres(server).await?;
        let url = database.url();
        let outcome = measure(config, &work.join("quota-postgres"), "postgres", Some(&url)).await;
        database.close().await?;
        out.push(outcome?);
    }
    Ok(out)
}

async fn measure(
    config: &Config,
    dir: &Path,
    store: &'static str,
    database_url: Option<&str>,
) -> Result<QuotaCost> {
    eprintln!("uploads with the quota on and off ({store})");
    let clasp = Clasp::start_on(
        &config.clasp_bin,
        dir,
        &Storage::Local,
        "fast",
        database_url,
    )?;
    let client = load::client()?;
    let target = Arc::new(Target::new(clasp, &client)?);
    let ids = Arc::new(Mutex::new(Vec::new()));
    let op = target.upload_op(&pdf_bytes(config.bytes), &ids);
    let mut cost = QuotaCost {
        store,
        concurrency: config.concurrency,
        bytes: config.bytes,
        off: Vec::new(),
        on: Vec::new(),
    };
    for round in 0..config.rounds.max(1) {
        let order = if round % 2 == 0 { [OFF, ON] } else { [ON, OFF] };
        for limits in order {
            let mut args = vec!["admin", "quota", "set", "--tenant", "bench"];
            args.extend(limits);
            target.clasp.run(&args)?;
            let sample = load::run(config.concurrency, config.duration, op.clone()).await?;
            if limits == ON {
                &mut cost.on
            } else {
                &mut cost.off
            }
            .push(sample.per_sec());
            target.delete_all(&ids).await?;
        }
    }
    eprintln!(
        "  off {:.0}/s, on {:.0}/s",
        median(&cost.off),
        median(&cost.on)
    );
    Ok(cost)
}

/// The table of `costs`.
pub fn render(costs: &[QuotaCost]) -> String {
    let mut out = String::from(
        "| store | uploads | quota off (uploads/s) | quota on (uploads/s) | on / off |\n|---|---|---:|---:|---:|\n",
    );
    for c in costs {
        let (off, on) = (median(&c.off), median(&c.on));
        out.push_str(&format!(
            "| {} | {} B × {} in flight | {off:.0} ({}) | {on:.0} ({}) | {:.2} |\n",
            c.store,
            c.bytes,
            c.concurrency,
            range(&c.off),
            range(&c.on),
            on / off.max(1e-9)
        ));
    }
    out
}

/// `min–max` of `values`.
fn range(values: &[f64]) -> String {
    let (lo, hi) = min_max(values);
    format!("{lo:.0}–{hi:.0}")
}
