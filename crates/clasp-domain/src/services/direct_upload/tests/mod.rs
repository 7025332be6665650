//! The direct-upload rules on memory adapters and a manual clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use futures::StreamExt;
use futures::executor::block_on;
use sha2::{Digest, Sha256};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::*;
use crate::credentials::{PrincipalKind, Scopes};
use crate::memory::{Fault, ManualClock, MemoryPorts};
use crate::ports::SignatureError;
use crate::services::Lookup;
use crate::signed_url::parse_clasp_signed_upload_url;
use crate::tenant::TenantId;
use crate::validation::UploadPolicy;
pub(super) use crate::validation::ValidationError;
use crate::{AttachmentState, SubjectRef};

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const TICKET: &str = "550e8400-e29b-41d4-a716-446655440000";
const START: OffsetDateTime = datetime!(2026-03-04 05:06:07.250 UTC);

struct Fixture {
    service: AttachmentService,
    mem: MemoryPorts,
    clock: Arc<ManualClock>,
    writer: Principal,
}

fn principal(tenant: TenantId, scopes: Scopes) -> Principal {
    Principal {
        tenant_id: tenant,
        scopes,
        kind: PrincipalKind::ApiKey(Uuid::now_v7()),
        dialect: None,
    }
}

fn fixture_with(policy: UploadPolicy) -> Fixture {
    let clock = Arc::new(ManualClock::new(START));
    let mem = MemoryPorts::with_clock("http://clasp.test", clock.clone());
    Fixture {
        service: AttachmentService::new(mem.ports.clone(), policy),
        mem,
        clock,
        writer: principal(TenantId(Uuid::now_v7()), Scopes::ALL),
    }
}

fn fixture() -> Fixture {
    fixture_with(UploadPolicy::default())
}

fn on_ticket(ticket: &str, filename: &str, content_type: &str, size: usize) -> NewDirectUpload {
    NewDirectUpload {
        subject: Subject::ticket(ticket),
        filename: filename.to_owned(),
        content_type: Some(content_type.to_owned()),
        size: size as u64,
    }
}

fn body(chunks: &[&[u8]]) -> BodyStream {
    let owned: Vec<Result<Bytes, BodyError>> = chunks
        .iter()
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures::stream::iter(owned))
}

fn request(begun: &BegunUpload) -> SignedUploadRequest {
    parse_clasp_signed_upload_url(&begun.url.url).unwrap()
}

impl Fixture {
    fn begin(&self, ticket: &str, name: &str, ct: &str, size: usize) -> BegunUpload {
        block_on(
            self.service
                .begin_upload(&self.writer, on_ticket(ticket, name, ct, size)),
        )
        .unwrap()
    }

    fn put(
        &self,
        begun: &BegunUpload,
        chunks: &[&[u8]],
    ) -> Result<ReceivedUpload, AttachmentError> {
        block_on(self.service.receive_upload(&request(begun), body(chunks)))
    }

    fn confirm(&self, id: AttachmentId, etag: Option<&str>) -> Result<Attachment, AttachmentError> {
        block_on(self.service.confirm(&self.writer, &Lookup::id(id), etag))
    }

    fn stored(&self, id: AttachmentId) -> Option<Attachment> {
        block_on(self.mem.ports.attachments.get(self.writer.tenant_id, id)).unwrap()
    }

    /// The bytes a download of `id` serves, or why there is none.
    fn download(&self, id: AttachmentId) -> Result<Vec<u8>, AttachmentError> {
        block_on(async {
            let mut d = self.service.open(&self.writer, &Lookup::id(id)).await?;
            let mut out = Vec::new();
            while let Some(chunk) = d.body.stream.next().await {
                out.extend_from_slice(&chunk.unwrap());
            }
            Ok(out)
        })
    }

    fn ready_png(&self, ticket: &str) -> Attachment {
        let begun = self.begin(ticket, "shot.png", "image/png", PNG.len());
        self.put(&begun, &[PNG]).unwrap();
        self.confirm(begun.attachment.id, None).unwrap()
    }

    fn post(&self, ticket: &str, ids: Vec<AttachmentId>) -> Result<Message, AttachmentError> {
        block_on(self.service.post_message(
            &self.writer,
            NewMessage {
                ticket_id: ticket.to_owned(),
                body: "see attached".into(),
                attachment_ids: ids,
            },
        ))
    }

    fn list(&self, subject: SubjectRef) -> Vec<AttachmentId> {
        block_on(self.service.list(&self.writer, &subject))
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect()
    }
}

mod confirms;
mod sweeping_and_messages;
mod upload_urls;
