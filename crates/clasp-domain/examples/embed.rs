//! Embedding Clasp's domain in another Rust service, with no infrastructure:
//! in-memory adapters for every port, then upload, list, download and delete.
//!
//! Run with `cargo run -p clasp-domain --features test-util --example embed`:
//! the in-memory adapters it wires are behind the `test-util` feature, which
//! an embedder's own build leaves off.

use bytes::Bytes;
use clasp_domain::inspect::BodyStream;
use clasp_domain::memory::MemoryPorts;
use clasp_domain::services::{Lookup, NewUpload};
use clasp_domain::{AttachmentService, IdentityService, Scopes, Subject, SubjectRef, UploadPolicy};
use futures::StreamExt;

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    futures::executor::block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // 1. Adapters: swap any of these for your own implementation of the port.
    let memory = MemoryPorts::new("https://files.example.com");
    let identities = IdentityService::new(memory.ports.clone());
    let attachments = AttachmentService::new(memory.ports.clone(), UploadPolicy::default());

    // 2. A tenant and a key; the key authenticates as a principal of that tenant.
    identities.create_tenant("ws-123").await?;
    let (_, key) = identities.create_api_key("ws-123", Scopes::ALL).await?;
    let principal = identities.authenticate_api_key(&key).await?;

    // 3. Upload from any stream of byte chunks (here: two chunks in memory).
    let body: BodyStream = Box::pin(futures::stream::iter([
        Ok(Bytes::from_static(&PNG[..8])),
        Ok(Bytes::from_static(&PNG[8..])),
    ]));
    let upload = NewUpload {
        subject: Subject::ticket("T-1"),
        filename: "../screenshot.png".into(),
        content_type: Some("image/png".into()),
        ..NewUpload::default()
    };
    let created = attachments.upload(&principal, upload, body).await?;
    println!(
        "uploaded {} ({} bytes, sha256 {})",
        created.filename,
        created.size_bytes,
        created.sha256.as_deref().unwrap_or("?")
    );

    // 4. List, then stream the bytes back.
    let listed = attachments
        .list(&principal, &SubjectRef::Ticket("T-1".into()))
        .await?;
    println!("ticket T-1 has {} attachment(s)", listed.len());
    let mut download = attachments
        .open(&principal, &Lookup::id(created.id))
        .await?;
    let mut bytes = Vec::new();
    while let Some(chunk) = download.body.stream.next().await {
        bytes.extend_from_slice(&chunk?);
    }
    assert_eq!(bytes, PNG, "the bytes come back unchanged");

    // 5. Delete: nothing of it remains.
    attachments
        .delete(&principal, &Lookup::id(created.id))
        .await?;
    assert!(memory.blobs.is_empty());
    println!(
        "deleted; {} attachment(s) left",
        attachments
            .list(&principal, &SubjectRef::Ticket("T-1".into()))
            .await?
            .len()
    );
    Ok(())
}
