//! The `clasp` binary: configuration, wiring of adapters to the domain, and the
//! operator commands (`serve`, `migrate`, `admin …`, `gc`, `backup`, `restore`,
//! `migrate-store`, `healthcheck`).

mod admin;
mod audit;
mod backup;
mod cli;
mod config;
mod gc;
mod healthcheck;
mod metered;
mod migrate_store;
mod serve;
mod telemetry;
mod webhooks;
mod wiring;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::config::Config;

/// jemalloc gives memory back after a burst of uploads or downloads, where
/// glibc's per-thread arenas kept it (docs/performance.md). It also serves C's
/// `malloc` (the crate's `unprefixed_malloc_on_supported_platforms`), so
/// SQLite's memory follows the same rules.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Exit code for configuration errors, as scripts and supervisors expect.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (config, service_links) = match Config::load() {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("clasp: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    // Held until the end: dropping it sends the last spans.
    let _telemetry = match serve::init_logging(&config) {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("clasp: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if !service_links.is_empty() {
        tracing::info!(
            variables = %service_links.join(" "),
            "ignored Kubernetes service-link variables: they are not configuration"
        );
    }
    // A probe touches nothing on disk (it may run in any directory).
    let probes = matches!(cli.command, Command::Healthcheck { .. });
    if !probes && let Err(e) = wiring::create_data_dir(&config) {
        eprintln!("clasp: {e}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let result = match cli.command {
        Command::Serve => serve::run(config),
        Command::Migrate => wiring::block_on(wiring::migrate(&config)),
        Command::Admin(cmd) => wiring::block_on(admin::run(&config, cmd)),
        Command::Gc => wiring::block_on(gc::run(&config)),
        Command::Backup { to } => wiring::block_on(backup::backup(&config, &to)),
        Command::Restore { from } => wiring::block_on(backup::restore(&config, &from)),
        Command::MigrateStore {
            to_database_url,
            to_storage_url,
        } => wiring::block_on(migrate_store::run(
            &config,
            &to_database_url,
            &to_storage_url,
        )),
        Command::Healthcheck { ready } => wiring::block_on(healthcheck::run(&config, ready)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("clasp: {e:#}");
            ExitCode::from(
                e.downcast_ref::<wiring::SetupError>()
                    .map_or(1, |_| EXIT_CONFIG),
            )
        }
    }
}
