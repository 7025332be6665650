//! `clasp-bench`: runs benchmark workloads and prints their report (Markdown).
//! `./scripts/bench.sh` runs `all` in release mode, with nginx, SeaweedFS and a
//! throwaway PostgreSQL server beside Clasp.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use clasp_bench::backend::Backend;
use clasp_bench::plot;
use clasp_bench::procs::S3Target;
use clasp_bench::workloads::growth::{self, quotas};
use clasp_bench::workloads::{listing, transfer};

/// Benchmarks of Clasp against the fastest peers on the same machine.
#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    workload: Workload,
}

#[derive(Subcommand)]
enum Workload {
    /// First and deep (after 90 %) listing pages for tenants of each size.
    Listing(ListingArgs),
    /// Uploads, downloads and metadata GETs through `clasp serve`, beside nginx
    /// and the S3 server.
    Transfer(TransferArgs),
    /// Cost as work grows: lookups, listing pages and `clasp gc` on
    /// PostgreSQL grown to each size, in one tenant and spread over many;
    /// uploads with the quota on and off.
    Growth {
        #[command(flatten)]
        growth: GrowthArgs,
        /// A PostgreSQL server (any database of a user who may create
        /// databases).
        #[arg(long, env = "CLASP_BENCH_POSTGRES_URL")]
        postgres_url: String,
        /// The `clasp` binary to measure (build it with `--release`).
        #[arg(long, default_value = "target/release/clasp")]
        clasp_bin: PathBuf,
    },
    /// `transfer`, `listing`, then `growth`: the whole suite.
    All {
        #[command(flatten)]
        transfer: TransferArgs,
        #[command(flatten)]
        listing: ListingArgs,
        #[command(flatten)]
        growth: GrowthArgs,
    },
}

#[derive(Args)]
struct GrowthArgs {
    /// Attachments in the database at each step, ascending. 10⁷ is left out
    /// by default: on PostgreSQL, with every listing index, it takes about
    /// 40 GiB of disk per layout and adds an hour and a half of seeding
    /// (docs/performance.md, "Ten million attachments").
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    growth_sizes: Vec<u64>,
    /// Tenants of the spread layout.
    #[arg(long, default_value_t = 10_000)]
    tenants: u32,
    /// Timed lookups per figure.
    #[arg(long, default_value_t = 500)]
    lookups: usize,
    /// Abandoned uploads the timed `clasp gc` removes.
    #[arg(long, default_value_t = 1000)]
    abandoned: u64,
    /// Measurements of uploads with the quota on and off, each.
    #[arg(long, default_value_t = 5)]
    quota_rounds: usize,
    /// Seconds each of them uploads.
    #[arg(long, default_value_t = 2.0)]
    quota_seconds: f64,
    /// Uploads in flight with the quota on and off.
    #[arg(long, default_value_t = 16)]
    quota_concurrency: usize,
}

#[derive(Args)]
struct ListingArgs {
    /// Tenant sizes in rows, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,1000000")]
    sizes: Vec<u64>,
    /// Timed runs per measurement.
    #[arg(long, default_value_t = 50)]
    runs: usize,
    /// Records per page.
    #[arg(long, default_value_t = clasp_domain::listing::DEFAULT_LIMIT)]
    limit: usize,
    /// A PostgreSQL server (any database of a user who may create
    /// databases); without it only SQLite is measured.
    #[arg(long, env = "CLASP_BENCH_POSTGRES_URL")]
    postgres_url: Option<String>,
    /// Exit with 1 when a deep page at the largest size costs more than this
    /// many times one at the smallest.
    #[arg(long, default_value_t = 2.0)]
    max_ratio: f64,
}

#[derive(Args)]
struct TransferArgs {
    /// The `clasp` binary to measure (build it with `--release`).
    #[arg(long, default_value = "target/release/clasp")]
    clasp_bin: PathBuf,
    /// The nginx binary (Debian's package).
    #[arg(long, env = "CLASP_BENCH_NGINX", default_value = "/usr/sbin/nginx")]
    nginx_bin: PathBuf,
    /// The wrk binary (Debian's package), which sends the GETs.
    #[arg(long, env = "CLASP_BENCH_WRK", default_value = "/usr/bin/wrk")]
    wrk_bin: PathBuf,
    /// The tus peer's start script, installed with its packages by
    /// `scripts/services.sh`.
    #[arg(long, env = "CLASP_BENCH_TUS", default_value = ".tools/tus/server.mjs")]
    tus_script: PathBuf,
    /// A directory on tmpfs, for the servers of the tmpfs upload figures.
    #[arg(long, default_value = "/dev/shm")]
    tmpfs: PathBuf,
    /// Measurements per figure; medians are compared.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Seconds each measurement sends requests.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Requests in flight in the download and upload sweeps.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16")]
    concurrency: Vec<usize>,
    /// Requests in flight for the metadata GETs.
    #[arg(long, default_value_t = 16)]
    metadata_concurrency: usize,
    /// Requests in flight for the S3 transfers.
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    s3_concurrency: Vec<usize>,
    /// Concurrent 30 MiB uploads during which Clasp's peak memory is read.
    #[arg(long, default_value_t = 16)]
    memory_uploads: usize,
    /// The workload groups to run (all by default).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<transfer::Group>,
    /// Skip the S3 figures even when `CLASP_TEST_S3_*` name a server.
    #[arg(long)]
    no_s3: bool,
    /// Clasp's `durability`: `fast` (the default here) promises what the
    /// peers promise; `fsync` measures the cost of syncing every upload.
    #[arg(long, default_value = "fast")]
    durability: String,
    /// Where to draw the throughput plot (SVG), when the downloads and
    /// uploads groups both run.
    #[arg(long, default_value = "docs/performance.svg")]
    plot: PathBuf,
}

async fn run_listing(args: ListingArgs) -> Result<bool> {
    let config = listing::Config {
        sizes: args.sizes,
        runs: args.runs,
        limit: args.limit,
    };
    let mut report = listing::Report::default();
    let sqlite = Backend::sqlite().await?;
    listing::run(&sqlite, &config, &mut report).await?;
    sqlite.close().await?;
    if let Some(url) = args.postgres_url {
        let pg = Backend::postgres(&url).await?;
        let outcome = listing::run(&pg, &config, &mut report).await;
        pg.close().await?;
        outcome?;
    }
    println!("## Listing\n\n{}", report.render());
    let worst = report.worst_ratio();
    println!("worst ratio: {worst:.2} (limit {:.2})", args.max_ratio);
    Ok(worst <= args.max_ratio)
}

async fn run_transfer(args: TransferArgs) -> Result<()> {
    let config = transfer::Config {
        groups: if args.only.is_empty() {
            transfer::Group::ALL.to_vec()
        } else {
            args.only
        },
        clasp_bin: std::path::absolute(&args.clasp_bin)?,
        nginx_bin: args.nginx_bin,
        wrk_bin: args.wrk_bin,
        tus_script: std::path::absolute(&args.tus_script)?,
        tmpfs: args.tmpfs,
        s3: if args.no_s3 {
            None
        } else {
            S3Target::from_env()
        },
        rounds: args.rounds,
        duration: Duration::from_secs_f64(args.seconds),
        concurrency: args.concurrency,
        metadata_concurrency: args.metadata_concurrency,
        s3_concurrency: args.s3_concurrency,
        memory_uploads: args.memory_uploads,
        medium_bytes: transfer::MEDIUM,
        large_bytes: transfer::LARGE,
        durability: args.durability,
    };
    let work = tempfile::tempdir()?;
    let report = transfer::run(&config, work.path()).await?;
    println!("## Transfers\n\n{}", report.render());
    // The plot is of the download and upload sweeps: a run without them
    // would replace the last full run's plot with empty axes.
    let plotted = [transfer::Group::Downloads, transfer::Group::Uploads];
    if plotted.iter().all(|g| config.groups.contains(g)) {
        plot::draw(&report, &args.plot)?;
        println!("plot: {}", args.plot.display());
    } else {
        println!("plot: not drawn (it needs the downloads and uploads groups)");
    }
    let missed = report.missed();
    if missed.is_empty() {
        println!("every transfer goal holds");
    } else {
        println!("goals missed:\n- {}", missed.join("\n- "));
    }
    Ok(())
}

async fn run_growth(
    args: GrowthArgs,
    postgres_url: Option<String>,
    clasp_bin: PathBuf,
) -> Result<()> {
    let clasp_bin = std::path::absolute(clasp_bin)?;
    let work = tempfile::tempdir()?;
    let mut report = growth::Report::default();
    match &postgres_url {
        Some(url) => {
            let config = growth::Config {
                postgres_url: url.clone(),
                clasp_bin: clasp_bin.clone(),
                sizes: args.growth_sizes,
                tenants: args.tenants,
                lookups: args.lookups,
                abandoned: args.abandoned,
                limit: clasp_domain::listing::DEFAULT_LIMIT,
            };
            growth::run(&config, work.path(), &mut report).await?;
        }
        None => eprintln!("growth: no PostgreSQL server given, only the quota figures on SQLite"),
    }
    let config = quotas::Config {
        clasp_bin,
        postgres_url,
        rounds: args.quota_rounds,
        duration: Duration::from_secs_f64(args.quota_seconds),
        concurrency: args.quota_concurrency,
        bytes: 4 * 1024,
    };
    report.quotas = quotas::run(&config, work.path()).await?;
    println!("## Cost as work grows\n\n{}", report.render());
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let within = match Cli::parse().workload {
        Workload::Listing(args) => run_listing(args).await?,
        Workload::Transfer(args) => {
            run_transfer(args).await?;
            true
        }
        Workload::Growth {
            growth,
            postgres_url,
            clasp_bin,
        } => {
            run_growth(growth, Some(postgres_url), clasp_bin).await?;
            true
        }
        Workload::All {
            transfer,
            listing,
            growth,
        } => {
            let clasp_bin = transfer.clasp_bin.clone();
            let postgres_url = listing.postgres_url.clone();
            run_transfer(transfer).await?;
            let within = run_listing(listing).await?;
            run_growth(growth, postgres_url, clasp_bin).await?;
            within
        }
    };
    if !within {
        std::process::exit(1);
    }
    Ok(())
}
