//! Black-box tests: they start the built `clasp` binary in a scratch directory,
//! exactly as an operator would, and speak HTTP to it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is how a test fails"
)]

mod admin;
mod api_v1;
mod attacks;
mod audit;
mod backups;
mod bench;
mod browser;
mod cases;
mod cases_filters;
mod chat;
mod checksums;
mod conformance;
mod crash;
mod crash_many;
mod deploying;
mod download_names;
mod harness;
mod kubernetes;
mod load;
mod managed;
mod migrate_store;
mod openapi;
mod operations;
mod operator;
mod package;
mod policy;
mod postgres_tls;
mod quotas;
mod readme;
mod redirect;
mod relay;
mod rooms;
mod scale_out;
mod scanning;
mod schemathesis;
mod secret_files;
mod shared;
mod staging;
mod streaming;
mod sweeping;
mod tickets;
mod timestamps;
mod traces;
mod tus;
mod webhooks;
mod workspaces;
