//! Resumable uploads (the tus protocol's model): a file announced with its
//! length, then sent in parts, each a request of its own, on any instance,
//! across restarts. How far one has got lives in the metadata store
//! ([`ResumableStore`]); each part's bytes are an object of the blob store
//! ([`attempt_key`]), so nothing of an upload in progress is held in memory.
//! Every request that stores a part writes an object of its own, numbered by
//! the store, so two requests racing for one offset never touch each other's
//! bytes: the one that loses the compare-and-set deletes only its own.
//! When the last byte arrives the parts are read once, in order, through the
//! same checks as any upload (type and magic, size, SHA-256, scan, quota).

use async_trait::async_trait;

use crate::attachment::{Attachment, AttachmentId};
use crate::ports::Stored;
use crate::tenant::TenantId;

/// How far a resumable upload has got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The attachment's tenant.
    pub tenant_id: TenantId,
    /// The attachment being uploaded.
    pub attachment_id: AttachmentId,
    /// The length the client announced (the tus `Upload-Length`).
    pub length: u64,
    /// Bytes stored so far (the tus `Upload-Offset`).
    pub received: u64,
    /// Parts stored so far, numbered from 0.
    pub parts: u32,
    /// Requests that began storing a part so far, each numbered in turn and
    /// writing the object [`attempt_key`] of its number: every object an
    /// upload may have written is among them, found without listing.
    pub attempts: u32,
    /// The attempt whose object holds each stored part, in order. An upload
    /// begun by a Clasp that stored parts by index has fewer than `parts`:
    /// those come first, under their index (see [`Progress::part_keys`]).
    pub stored_by: Vec<u32>,
}

/// The most requests carrying bytes one resumable upload may take. It bounds
/// the objects an upload leaves and the work of finishing or removing it: a
/// client sending a file a byte at a time is refused once it passes it. At
/// 5 MiB a part (what tus clients commonly send) it is about 5 GB.
pub const MAX_ATTEMPTS: u32 = 1_000;

impl Progress {
    /// The keys of the stored parts of `attachment`'s upload, in order.
    pub fn part_keys(&self, attachment: &Attachment) -> Vec<String> {
        let by_index = self.by_index();
        (0..by_index)
            .map(|index| indexed_part_key(attachment, index))
            .chain(self.stored_by.iter().map(|&n| attempt_key(attachment, n)))
            .collect()
    }

    /// Every key the upload may have written: its parts', and those of every
    /// attempt, which deletes its own object when it fails but cannot when
    /// its process dies first.
    pub fn written_keys(&self, attachment: &Attachment) -> Vec<String> {
        let by_index = self.by_index();
        // an upload stored by index may also have left the part it was
        // receiving, at the next index
        let indexed = if by_index > 0 { by_index + 1 } else { 0 };
        (0..indexed)
            .map(|index| indexed_part_key(attachment, index))
            .chain((0..self.attempts).map(|n| attempt_key(attachment, n)))
            .collect()
    }

    /// How many of the first parts are stored by index, not by attempt.
    fn by_index(&self) -> u32 {
        let by_attempt = u32::try_from(self.stored_by.len()).unwrap_or(u32::MAX);
        self.parts.saturating_sub(by_attempt)
    }
}

/// Where attempt `number` at storing a part of the resumable upload of
/// `attachment` writes its bytes: beside the upload's direct-upload key, under
/// `uploads/` (which a bucket's lifecycle rule may expire, README "S3"), never
/// under the tenant's own prefix.
pub fn attempt_key(attachment: &Attachment, number: u32) -> String {
    format!("{}.attempt-{number:05}", attachment.upload_key())
}

/// Where part `index` was stored by a Clasp that named parts by their index.
fn indexed_part_key(attachment: &Attachment, index: u32) -> String {
    format!("{}.part-{index:05}", attachment.upload_key())
}

/// The progress of resumable uploads, durably.
///
/// Contract: `begin_attempt` hands each request its own number, and `advance`
/// and `take_back` are compare-and-set, so of two requests racing to store the same part only
/// one moves the upload on; every read is scoped by tenant.
#[async_trait]
pub trait ResumableStore: Send + Sync {
    /// Records a new resumable upload (nothing received yet).
    async fn begin_resumable(&self, progress: &Progress) -> Stored<()>;
    /// How far the upload of attachment `id` of `tenant` has got, if it is one.
    async fn progress(&self, tenant: TenantId, id: AttachmentId) -> Stored<Option<Progress>>;
    /// Numbers a new attempt at storing a part of the upload of attachment
    /// `id` of `tenant` (0, 1, …), if it is one.
    async fn begin_attempt(&self, tenant: TenantId, id: AttachmentId) -> Stored<Option<u32>>;
    /// Moves the upload on by one part, stored by attempt `attempt`, to
    /// `received` bytes, only if it is still where `from` says (received and
    /// parts); whether it did.
    async fn advance(&self, from: &Progress, received: u64, attempt: u32) -> Stored<bool>;
    /// Moves the upload back to `to` (its received bytes, its parts and the
    /// attempts that stored them), only if it is still one part past it, at
    /// `received`: the last part of an upload that could not be finished
    /// for a while, which its client is to send again; whether it did.
    async fn take_back(&self, to: &Progress, received: u64) -> Stored<bool>;
    /// Forgets the upload's progress (it finished, or is being removed).
    async fn forget_resumable(&self, tenant: TenantId, id: AttachmentId) -> Stored<()>;
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;
    use crate::attachment::Subject;

    /// An upload begun before parts were stored by attempt: two parts by
    /// index, then one by attempt 7, with 9 attempts begun since.
    #[test]
    fn parts_stored_by_index_before_an_upgrade_come_first() {
        let tenant = TenantId(Uuid::now_v7());
        let named = ("a.pdf".into(), "application/pdf".into());
        let attachment = Attachment::pending(
            tenant,
            Subject::ticket("T-1"),
            named,
            "u".into(),
            datetime!(2026-12-05 0:00 UTC),
        );
        let progress = Progress {
            tenant_id: tenant,
            attachment_id: attachment.id,
            length: 100,
            received: 30,
            parts: 3,
            attempts: 9,
            stored_by: vec![7],
        };
        let key = |suffix: &str| format!("{}.{suffix}", attachment.upload_key());
        assert_eq!(
            progress.part_keys(&attachment),
            [key("part-00000"), key("part-00001"), key("attempt-00007")]
        );
        let written = progress.written_keys(&attachment);
        assert_eq!(written.len(), 3 + 9, "{written:?}");
        assert!(written.contains(&key("part-00002")), "the part in flight");
        assert!(written.contains(&key("attempt-00008")));
        let fresh = Progress {
            parts: 1,
            attempts: 2,
            stored_by: vec![1],
            ..progress
        };
        assert_eq!(
            fresh.written_keys(&attachment),
            [key("attempt-00000"), key("attempt-00001")]
        );
    }
}
