//! The contract suites: one per port, run by every adapter of that port against
//! its real backend. Each suite panics (fails the calling test) on the first
//! broken promise. Suites make their own tenants and keys with fresh random ids,
//! so several may share one database or bucket.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test-support code: a panic is how a suite reports a broken promise"
)]

mod blobs;
mod identities;
mod listing;
mod quotas;
mod repository;
mod resumable;
mod signer;

pub use blobs::blob_store;
pub use identities::identity_store;
pub use quotas::{ADMITTED, CONCURRENT_UPLOADS, ROUNDS, attachment_quotas};
pub use repository::attachment_repository;
pub use resumable::resumable_store;
pub use signer::{signer_keeps_uploads_apart, upload_signer, url_signer};

use time::OffsetDateTime;
use uuid::Uuid;

use crate::tenant::{Tenant, TenantId};

/// A time with microsecond precision (what every adapter must keep).
fn instant(offset_secs: i64) -> OffsetDateTime {
    let base = OffsetDateTime::from_unix_timestamp(1_750_000_000 + offset_secs)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    base + time::Duration::microseconds(123_456)
}

fn fresh_tenant() -> Tenant {
    let id = Uuid::now_v7();
    Tenant {
        id: TenantId(id),
        slug: format!("t-{}", id.simple()),
        created_at: instant(0),
        deleting_since: None,
        policy: Default::default(),
    }
}
