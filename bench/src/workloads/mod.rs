//! The workloads, one module each: each sets up what it needs, measures, and
//! returns rows for the report.

pub mod growth;
pub mod listing;
pub mod transfer;
