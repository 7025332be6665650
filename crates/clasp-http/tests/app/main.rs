//! The HTTP layer over in-memory adapters: every dialect, the authentication
//! matrix, fault injection, admission, forms and operations, each through the
//! same app `clasp serve` runs ([`clasp_http::FrontDoor`]).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "test code: a panic is how a test fails"
)]

/// The app of `$services` (a `clasp_http::Services`), as `actix_web::test`
/// serves it, with every route and middleware of the public listener.
macro_rules! app {
    ($services:expr) => {
        actix_web::test::init_service(
            clasp_http::FrontDoor::new($services.clone())
                .expect("route table")
                .app(),
        )
        .await
    };
}

mod admin;
mod auth_matrix;
mod common;
mod faults;
mod form;
mod limits;
mod ops;
mod routes;
mod sessions;
mod thumbnails;
mod tickets;
mod tus_finishing;
mod workspaces;
