//! `clasp-bench`: runs a benchmark workload and prints its report (Markdown).
//! `./scripts/bench.sh` runs it in release mode against SQLite and a throwaway
//! PostgreSQL server.

use anyhow::Result;
use clap::{Parser, Subcommand};
use clasp_bench::backend::Backend;
use clasp_bench::workloads::listing;

/// Benchmarks of Clasp's adapters on real databases.
#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    workload: Workload,
}

#[derive(Subcommand)]
enum Workload {
    /// First and deep (after 90 %) listing pages for tenants of each size.
    Listing {
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
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().workload {
        Workload::Listing {
            sizes,
            runs,
            limit,
            postgres_url,
            max_ratio,
        } => {
            let config = listing::Config { sizes, runs, limit };
            let mut report = listing::Report::default();
            let sqlite = Backend::sqlite().await?;
            listing::run(&sqlite, &config, &mut report).await?;
            sqlite.close().await?;
            if let Some(url) = postgres_url {
                let pg = Backend::postgres(&url).await?;
                let outcome = listing::run(&pg, &config, &mut report).await;
                pg.close().await?;
                outcome?;
            }
            println!("{}", report.render());
            let worst = report.worst_ratio();
            println!("worst ratio: {worst:.2} (limit {max_ratio:.2})");
            if worst > max_ratio {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
