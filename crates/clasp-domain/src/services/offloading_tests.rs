//! Uploads large enough to be hashed on a spare core: what the services
//! record is what they would record hashing on the receiving thread.

use bytes::Bytes;
use futures::executor::block_on;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::attachment::Subject;
use crate::credentials::{Principal, PrincipalKind, Scopes};
use crate::inspect::{BodyError, BodyStream};
use crate::memory::MemoryPorts;
use crate::services::{AttachmentService, NewUpload};
use crate::state::AttachmentState;
use crate::tenant::TenantId;
use crate::validation::UploadPolicy;

fn body(data: &[u8]) -> BodyStream {
    let chunks: Vec<Result<Bytes, BodyError>> = data
        .chunks(48 << 10)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures::stream::iter(chunks))
}

#[test]
fn a_large_upload_hashed_on_a_spare_core_is_recorded_with_its_own_digest() {
    let mem = MemoryPorts::new("http://clasp.test");
    let service = AttachmentService::new(mem.ports.clone(), UploadPolicy::default());
    let writer = Principal {
        tenant_id: TenantId(Uuid::now_v7()),
        scopes: Scopes::ALL,
        kind: PrincipalKind::ApiKey(Uuid::now_v7()),
        dialect: None,
    };
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 90) as u8 + b' ').collect();
    let upload = NewUpload {
        subject: Subject::ticket("t-1"),
        filename: "big.txt".into(),
        content_type: Some("text/plain".into()),
        ..NewUpload::default()
    };
    let ready = block_on(service.upload(&writer, upload, body(&data))).expect("stored");
    assert_eq!(mem.offload.started(), 1, "its hashing was handed over");
    assert_eq!(ready.state, AttachmentState::Ready);
    assert_eq!(ready.size_bytes, data.len() as u64);
    assert_eq!(
        ready.sha256.as_deref(),
        Some(hex::encode(Sha256::digest(&data)).as_str())
    );
}
