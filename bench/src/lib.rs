//! # clasp-bench
//!
//! Benchmarks of Clasp on its real backends and beside the fastest peers on
//! the same machine, run by `./scripts/bench.sh` (or `just bench`) and reported
//! in `docs/performance.md` and `docs/benchmarks.md`. A benchmark measures, it
//! does not assert timings: the figures depend on the machine, so tests only
//! run each workload small (`tests/smoke.rs`) to keep the code working.
//!
//! - [`backend`]: a fresh SQLite file or PostgreSQL database, migrated by
//!   `clasp-db`, and bulk seeding of synthetic attachments;
//! - [`procs`]: `clasp serve` and nginx as processes on loopback, and memory;
//! - [`load`]: a closed-loop HTTP load generator (uploads); [`wrk`]: GETs
//!   through `wrk`, which keeps up with nginx where a reqwest loop does not;
//! - [`workloads`]: one module per workload ([`workloads::listing`],
//!   [`workloads::transfer`]);
//! - [`stats`]: medians and the printed table; [`plot`]: the SVG plot.

pub mod backend;
pub mod load;
pub mod plot;
pub mod procs;
pub mod stats;
pub mod workloads;
pub mod wrk;
