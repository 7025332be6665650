//! # clasp-domain
//!
//! The pure core of Clasp, an attachments service. It knows what an attachment is,
//! which states it may pass through, what an acceptable upload looks like, and who
//! may do what — and nothing about HTTP, databases or object stores.
//!
//! Everything outside is reached through **ports**, traits defined in [`ports`]:
//!
//! | port | what an adapter provides |
//! |---|---|
//! | [`ports::AttachmentRepository`] | durable attachment metadata (and messages linking attachments), scoped by tenant, with each tenant's quota usage |
//! | [`ports::IdentityStore`] | tenants, API keys (hashes only) and sessions |
//! | [`ports::BlobStore`] | the bytes: streaming put, streaming get, delete, entity tag |
//! | [`ports::UrlSigner`] | URLs a client may fetch without other credentials |
//! | [`ports::UploadSigner`] | URLs a client may upload one file to without other credentials |
//! | [`ports::Thumbnailer`] | small previews of images (codec work kept out of the domain) |
//! | [`ports::Scanner`] | a virus verdict on a stored file before it becomes `Ready` ([`ports::NoScanner`] by default) |
//! | [`ports::Clock`] | the current time (swap it in tests) |
//! | [`ports::AuditLog`] | the audit trail: one [`audit::AuditRecord`] per change ([`ports::NoAudit`] keeps none) |
//! | [`resumable::ResumableStore`] | how far each resumable (tus) upload has got |
//! | [`offload::Offload`] | a spare core for an upload's hashing ([`offload::NoOffload`] keeps it on the receiving thread) |
//!
//! The application services in [`services`] are what every front end calls: the
//! HTTP dialects of `clasp-http`, the `clasp` binary's admin commands, and any Rust
//! service that embeds this crate. The use cases are named after what they do:
//! streamed uploads, downloads and listings (`AttachmentService`), multi-file
//! message uploads, direct uploads through an upload URL, quotas, identities.
//! [`signed_url`] is the wire format of the URLs Clasp signs and serves itself,
//! [`safety`] what is never served as it came (programs, names that lie).
//!
//! ## Features
//!
//! - `test-util`: the `memory` module, in-memory adapters of every port and test
//!   controls (`ManualClock`, `MemoryScanner::set_failing`), so the services run
//!   without any infrastructure (see `examples/embed.rs`,
//!   `cargo run -p clasp-domain --features test-util --example embed`). It is off in
//!   the default build an embedder gets.
//! - `contract-tests`: the shared suite every adapter of a port must pass (below).
//!
//! ## Implementing a port
//!
//! Each port documents its contract on the trait. With the `contract-tests` feature,
//! the `contract` module exposes the shared suite every adapter of a port must pass; an adapter
//! crate calls it from its own tests against the real backend.

pub mod attachment;
pub mod audit;
pub mod credential_cache;
pub mod credentials;
pub mod error;
pub mod events;
pub mod inspect;
pub mod listing;
pub mod magic;
#[cfg(any(test, feature = "test-util"))]
pub mod memory;
pub mod message;
pub mod offload;
pub mod policy;
pub mod ports;
pub mod quota;
pub mod reach;
pub mod resumable;
pub mod safety;
pub mod services;
pub mod signed_url;
pub mod state;
pub mod tenant;
pub mod validation;
pub mod webhooks;

#[cfg(any(test, feature = "contract-tests"))]
pub mod contract;

pub use attachment::{Attachment, AttachmentId, Subject, SubjectRef};
pub use credentials::{ApiKey, Principal, PrincipalKind, Scope, Scopes, Session};
pub use error::{AttachmentError, AuthError, ErrorKind, IdentityError, LinkRefusal, Outcome};
pub use listing::{ListQuery, ListRequest, ListingError};
pub use message::{Message, MessageId};
pub use policy::{PolicyError, TenantPolicy};
pub use quota::{Quota, QuotaExceeded, QuotaKind, QuotaLimits, QuotaUsage};
pub use reach::Reach;
pub use services::{AttachmentService, IdentityService, Ports};
pub use state::{AttachmentState, InvalidTransition};
pub use tenant::{Tenant, TenantId};
pub use validation::{UploadPolicy, ValidationError};

#[cfg(test)]
mod contract_tests {
    use futures::executor::block_on;

    use crate::contract;
    use crate::memory::{MemoryAttachments, MemoryBlobs, MemoryIdentities, MemorySigner};

    #[test]
    fn memory_attachments_pass_the_contract() {
        block_on(contract::attachment_repository(
            &MemoryAttachments::default(),
        ));
    }

    #[test]
    fn memory_attachments_pass_the_quota_contract() {
        block_on(contract::attachment_quotas(&MemoryAttachments::default()));
    }

    #[test]
    fn memory_identities_pass_the_contract() {
        block_on(contract::identity_store(&MemoryIdentities::default()));
    }

    #[test]
    fn memory_resumable_passes_the_contract() {
        block_on(contract::resumable_store(
            &crate::memory::MemoryResumable::default(),
        ));
    }

    #[test]
    fn memory_blobs_pass_the_contract() {
        block_on(contract::blob_store(&MemoryBlobs::default()));
    }

    #[test]
    fn memory_signer_passes_the_contract() {
        block_on(contract::url_signer(&MemorySigner::new("http://x")));
    }

    #[test]
    fn memory_signer_passes_the_upload_contract() {
        let signer = MemorySigner::new("http://x");
        block_on(contract::upload_signer(&signer));
        block_on(contract::signer_keeps_uploads_apart(&signer));
    }
}
