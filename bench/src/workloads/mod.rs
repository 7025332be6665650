//! The workloads, one module each; each seeds what it needs through
//! [`crate::backend::Backend`], measures, and returns rows for the report.

pub mod listing;
