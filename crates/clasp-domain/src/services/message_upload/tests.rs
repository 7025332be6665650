//! Message uploads, numbered lookups and thumbnails on memory adapters and a
//! manual clock.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::executor::block_on;
use sha2::{Digest, Sha256};
use time::Duration;
use time::macros::datetime;
use uuid::Uuid;

use super::*;
use crate::credentials::{PrincipalKind, Scopes};
use crate::memory::{ManualClock, MemoryPorts};
use crate::ports::{ThumbnailError, Thumbnailer};
use crate::reach::Reach;
use crate::validation::UploadPolicy;

/// Answers the first bytes of the image as its "thumbnail", refusing texts.
struct EchoThumbnails;

#[async_trait]
impl Thumbnailer for EchoThumbnails {
    async fn thumbnail(&self, image: Bytes, content_type: &str) -> Result<Bytes, ThumbnailError> {
        if image.starts_with(b"\x89PNG") {
            Ok(image.slice(..4))
        } else {
            Err(ThumbnailError::Undecodable(content_type.to_owned()))
        }
    }
}

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

struct Fixture {
    service: AttachmentService,
    mem: MemoryPorts,
    clock: Arc<ManualClock>,
    user: Principal,
}

fn fixture() -> Fixture {
    let clock = Arc::new(ManualClock::new(datetime!(2026-05-06 07:08:09 UTC)));
    let mut mem = MemoryPorts::with_clock("http://clasp.test", clock.clone());
    mem.ports.thumbnailer = Arc::new(EchoThumbnails);
    Fixture {
        service: AttachmentService::new(mem.ports.clone(), UploadPolicy::default()),
        mem,
        clock,
        user: Principal {
            tenant_id: TenantId(Uuid::now_v7()),
            scopes: Scopes::ALL,
            kind: PrincipalKind::Session {
                user_id: "u-1".into(),
                reach: Reach::AllRooms,
            },
            dialect: None,
        },
    }
}

fn file(name: &str, content_type: &str, declared: Option<String>) -> MessageFile {
    MessageFile {
        filename: name.to_owned(),
        content_type: Some(content_type.to_owned()),
        declared_checksum: declared,
    }
}

fn body(data: &[u8]) -> BodyStream {
    Box::pin(futures::stream::iter([Ok(Bytes::copy_from_slice(data))]))
}

impl Fixture {
    fn upload(&self) -> MessageUpload {
        block_on(self.service.message_upload(&self.user, "42", None)).unwrap()
    }
}

#[test]
fn files_stay_invisible_until_committed_then_carry_message_and_room() {
    let f = fixture();
    let mut up = f.upload();
    block_on(up.add(file("a.txt", "text/plain", None), body(b"aaa"))).unwrap();
    block_on(up.add(file("b.png", "image/png", None), body(PNG))).unwrap();
    assert_eq!(up.len(), 2);
    for n in [1, 2] {
        assert_eq!(
            block_on(f.service.find_numbered(&f.user, n)).unwrap_err(),
            AttachmentError::NotFound,
            "staged #{n} is invisible"
        );
    }
    up.set_room("6").unwrap();
    let done = block_on(up.commit()).unwrap();
    assert_eq!(
        done.iter().map(|a| a.number).collect::<Vec<_>>(),
        vec![1, 2]
    );
    let b = block_on(f.service.find_numbered(&f.user, 2)).unwrap();
    assert_eq!(b.state, AttachmentState::Ready);
    assert_eq!(b.subject.message_id.as_deref(), Some("42"));
    assert_eq!(b.subject.room_id.as_deref(), Some("6"));
    assert_eq!(b.upload_expires_at, None);
    assert_eq!(b.sha256, Some(hex::encode(Sha256::digest(PNG))));
    let d = block_on(f.service.open_numbered(&f.user, 1, &["a.txt"])).unwrap();
    assert_eq!(d.body.size, 3);
    assert_eq!(
        block_on(f.service.open_numbered(&f.user, 1, &["b.png"])).err(),
        Some(AttachmentError::NotFound),
        "the name must be the file's"
    );
}

#[test]
fn an_aborted_upload_leaves_nothing() {
    let f = fixture();
    let mut up = f.upload();
    block_on(up.add(file("a.txt", "text/plain", None), body(b"aaa"))).unwrap();
    let refused = block_on(up.add(file("x.png", "image/png", None), body(b"GIF89a....")));
    assert!(matches!(refused, Err(AttachmentError::Invalid(_))));
    block_on(up.abort());
    assert!(f.mem.blobs.is_empty());
    assert!(block_on(f.service.find_numbered(&f.user, 1)).is_err());
    let later = block_on(f.service.sweep_expired(100)).unwrap().removed;
    assert_eq!(later, 0, "nothing left to sweep");
}

#[test]
fn at_most_twenty_files() {
    let f = fixture();
    let mut up = f.upload();
    for i in 0..MAX_FILES_PER_MESSAGE {
        block_on(up.add(file(&format!("{i}.txt"), "text/plain", None), body(b"x"))).unwrap();
    }
    let extra = block_on(up.add(file("21.txt", "text/plain", None), body(b"x")));
    assert!(matches!(extra, Err(AttachmentError::InvalidMessage(_))));
    block_on(up.abort());
    assert!(f.mem.blobs.is_empty());
}

#[test]
fn a_mismatching_checksum_is_kept_visible_without_bytes() {
    let f = fixture();
    let mut up = f.upload();
    let right = hex::encode(Sha256::digest(b"good"));
    block_on(up.add(file("good.txt", "text/plain", Some(right)), body(b"good"))).unwrap();
    let wrong = hex::encode(Sha256::digest(b"other"));
    block_on(up.add(file("bad.txt", "text/plain", Some(wrong)), body(b"bad"))).unwrap();
    let done = block_on(up.commit()).unwrap();
    assert_eq!(done[0].state, AttachmentState::Ready);
    assert_eq!(done[1].state, AttachmentState::ChecksumMismatch);
    let seen = block_on(f.service.find_numbered(&f.user, done[1].number)).unwrap();
    assert_eq!(seen.state, AttachmentState::ChecksumMismatch);
    assert_eq!(
        block_on(f.service.open_numbered(&f.user, seen.number, &["bad.txt"])).err(),
        Some(AttachmentError::NotFound)
    );
    assert_eq!(f.mem.blobs.len(), 1);
}

#[test]
fn a_request_that_dies_midway_is_swept_after_its_deadline() {
    let f = fixture();
    let mut up = f.upload();
    block_on(up.add(file("a.txt", "text/plain", None), body(b"aaa"))).unwrap();
    drop(up);
    assert_eq!(block_on(f.service.sweep_expired(100)).unwrap().removed, 0);
    f.clock.advance(Duration::minutes(16));
    assert_eq!(block_on(f.service.sweep_expired(100)).unwrap().removed, 1);
    assert!(f.mem.blobs.is_empty());
}

#[test]
fn a_commit_after_the_sweep_keeps_nothing() {
    let f = fixture();
    let mut up = f.upload();
    block_on(up.add(file("a.txt", "text/plain", None), body(b"aaa"))).unwrap();
    f.clock.advance(Duration::minutes(16));
    block_on(up.add(file("b.txt", "text/plain", None), body(b"bbb"))).unwrap();
    assert_eq!(block_on(f.service.sweep_expired(100)).unwrap().removed, 1);
    assert!(matches!(
        block_on(up.commit()),
        Err(AttachmentError::Interrupted(_))
    ));
    assert!(f.mem.blobs.is_empty());
    assert!(block_on(f.service.find_numbered(&f.user, 2)).is_err());
}

#[test]
fn thumbnails_are_made_of_ready_images_only_and_deleted_with_them() {
    let f = fixture();
    let mut up = f.upload();
    block_on(up.add(file("p.png", "image/png", None), body(PNG))).unwrap();
    block_on(up.add(file("t.txt", "text/plain", None), body(b"text"))).unwrap();
    let done = block_on(up.commit()).unwrap();
    let (png, txt) = (&done[0], &done[1]);
    assert!(block_on(f.service.make_thumbnail(png.tenant_id, png.id)).unwrap());
    assert!(!block_on(f.service.make_thumbnail(txt.tenant_id, txt.id)).unwrap());
    assert!(
        !block_on(f.service.make_thumbnail(png.tenant_id, png.id)).unwrap(),
        "made once"
    );
    let thumb = block_on(f.service.open_thumbnail(&f.user, png.number)).unwrap();
    assert_eq!(thumb.attachment.content_type, "image/webp");
    assert_eq!(thumb.body.size, 4);
    assert!(
        block_on(f.service.find_numbered(&f.user, png.number))
            .unwrap()
            .thumbnail_key
            .is_some()
    );
    assert_eq!(
        block_on(f.service.open_thumbnail(&f.user, txt.number)).err(),
        Some(AttachmentError::NotFound)
    );
    assert_eq!(f.mem.blobs.len(), 3);
    block_on(f.service.delete_numbered(&f.user, png.number)).unwrap();
    assert_eq!(f.mem.blobs.len(), 1, "the thumbnail went with the image");
    assert!(!block_on(f.service.make_thumbnail(png.tenant_id, png.id)).unwrap());
    assert_eq!(f.mem.blobs.len(), 1, "no thumbnail of a deleted image");
}

#[test]
fn numbers_stay_inside_their_tenant() {
    let f = fixture();
    let mut up = f.upload();
    block_on(up.add(file("a.txt", "text/plain", None), body(b"aaa"))).unwrap();
    block_on(up.commit()).unwrap();
    let stranger = Principal {
        tenant_id: TenantId(Uuid::now_v7()),
        ..f.user.clone()
    };
    assert_eq!(
        block_on(f.service.find_numbered(&stranger, 1)).err(),
        Some(AttachmentError::NotFound)
    );
    assert_eq!(
        block_on(f.service.delete_numbered(&stranger, 1)).err(),
        Some(AttachmentError::NotFound)
    );
    assert!(block_on(f.service.find_numbered(&f.user, 1)).is_ok());
}
