//! # clasp-bench
//!
//! Benchmarks of Clasp's adapters on their real backends, run by
//! `./scripts/bench.sh` (or `just bench`) and reported in `docs/benchmarks.md`.
//! A benchmark measures, it does not assert timings: the figures depend on the
//! machine, so tests only run each workload small (`tests/smoke.rs`) to keep the
//! code working.
//!
//! - [`backend`]: a fresh SQLite file or PostgreSQL database, migrated by
//!   `clasp-db`, and bulk seeding of synthetic attachments;
//! - [`workloads`]: one module per workload (today: [`workloads::listing`]);
//! - [`stats`]: medians and the printed table.

pub mod backend;
pub mod stats;
pub mod workloads;
