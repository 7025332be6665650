//! Per-tenant quotas: the most bytes and attachments a tenant may hold, what each
//! attachment costs, and how much of a quota an upload of unknown size reserves.
//!
//! The metadata store keeps each tenant's usage and changes it in the same
//! transaction as the attachment row it accounts for (see
//! [`crate::ports::AttachmentRepository`]): a row is charged
//! [`charged_bytes`] and [`counted`] attachments from its insert to its delete, and an
//! insert that would take the tenant past a limit fails with
//! [`crate::ports::RepoError::QuotaExceeded`]. So the quota is checked before a
//! byte is accepted: a streamed upload's row is inserted, charged a reservation
//! ([`stream_reservation`]), before its body is read, and settles to its real
//! size when it ends; a direct upload's row is charged its declared size when
//! its upload URL is issued. Thumbnails are Clasp's, not the tenant's, and cost
//! nothing.

use crate::attachment::Attachment;
use crate::state::AttachmentState;

/// A tenant's limits; `None` is unlimited (the default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaLimits {
    /// The most bytes of attachments the tenant may hold.
    pub max_bytes: Option<u64>,
    /// The most attachments (rows, in any state but `Deleted`) the tenant may hold.
    pub max_attachments: Option<u64>,
}

/// What a tenant holds now, as the metadata store accounts it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaUsage {
    /// The sum of [`charged_bytes`] over the tenant's attachments.
    pub bytes: u64,
    /// How many attachments the tenant has, in any state but `Deleted`.
    pub attachments: u64,
}

/// A tenant's limits and usage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quota {
    /// The limits.
    pub limits: QuotaLimits,
    /// The usage.
    pub usage: QuotaUsage,
}

/// Which limit an upload ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaKind {
    /// The most bytes.
    Bytes,
    /// The most attachments.
    Attachments,
}

/// An upload the tenant's quota does not admit, with what a client needs to
/// read why: which limit, its value, what is used, and what was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct QuotaExceeded {
    /// The limit reached.
    pub kind: QuotaKind,
    /// Its value.
    pub limit: u64,
    /// What the tenant uses of it.
    pub used: u64,
    /// What the refused upload needed (bytes, or one attachment); for a
    /// streamed upload that outgrew its reservation, one more than it.
    pub requested: u64,
}

impl QuotaExceeded {
    fn describe(&self) -> String {
        match self.kind {
            QuotaKind::Bytes => format!(
                "the workspace's storage quota of {} bytes is exceeded: {} bytes are used and this upload needs {} more; delete attachments or ask for a larger quota",
                self.limit, self.used, self.requested
            ),
            QuotaKind::Attachments => format!(
                "the workspace's quota of {} attachments is reached ({} stored); delete attachments or ask for a larger quota",
                self.limit, self.used
            ),
        }
    }
}

/// The bytes an attachment in `state` of `size_bytes` costs its tenant: its size,
/// except in a failed state or as a `Deleted` tombstone, whose bytes are
/// deleted or being deleted (the sweeper retries until they are). For a
/// `Pending` direct upload, the declared size; for a streamed upload still
/// arriving, its reservation. The database migrations carry the same rule.
pub fn charged_bytes(state: AttachmentState, size_bytes: u64) -> u64 {
    match state {
        AttachmentState::UploadFailed
        | AttachmentState::ChecksumMismatch
        | AttachmentState::VerificationFailed
        | AttachmentState::Deleted => 0,
        AttachmentState::Pending
        | AttachmentState::Uploading
        | AttachmentState::Verifying
        | AttachmentState::Ready => size_bytes,
    }
}

/// How many attachments a row in `state` counts for its tenant: one, but a
/// `Deleted` tombstone, which a client deleted and no reader sees, counts for
/// none, so a delete gives its quota back at once however long the tombstone
/// waits for the sweeper. The database migrations carry the same rule.
pub fn counted(state: AttachmentState) -> u64 {
    u64::from(state != AttachmentState::Deleted)
}

impl Attachment {
    /// What this attachment costs its tenant's byte quota ([`charged_bytes`]).
    pub fn charged_bytes(&self) -> u64 {
        charged_bytes(self.state, self.size_bytes)
    }

    /// How many attachments this row counts for its tenant ([`counted`]).
    pub fn counted(&self) -> u64 {
        counted(self.state)
    }
}

impl Quota {
    /// Whether one more attachment costing `bytes` fits; the limit it breaks
    /// otherwise (the attachment count first).
    pub fn admits(&self, bytes: u64) -> Result<(), QuotaExceeded> {
        if let Some(limit) = self.limits.max_attachments
            && self.usage.attachments >= limit
        {
            return Err(QuotaExceeded {
                kind: QuotaKind::Attachments,
                limit,
                used: self.usage.attachments,
                requested: 1,
            });
        }
        if let Some(limit) = self.limits.max_bytes
            && self.usage.bytes.saturating_add(bytes) > limit
        {
            return Err(QuotaExceeded {
                kind: QuotaKind::Bytes,
                limit,
                used: self.usage.bytes,
                requested: bytes,
            });
        }
        Ok(())
    }

    /// The bytes left under the byte limit, if there is one.
    pub fn remaining_bytes(&self) -> Option<u64> {
        self.limits
            .max_bytes
            .map(|max| max.saturating_sub(self.usage.bytes))
    }
}

/// What a streamed upload of unknown size reserves before its body is read: no
/// more than the policy's largest file, nor than `hint` (the request's
/// `Content-Length`, which bounds the file), nor — when `remaining` is given,
/// after a first reservation did not fit — than the bytes left. Its body is then
/// refused once it passes the reservation, and the row settles to the real size
/// when it ends. `None` when no byte is left (the upload is refused before
/// its body is read).
pub fn stream_reservation(
    max_bytes: u64,
    hint: Option<u64>,
    remaining: Option<u64>,
) -> Option<u64> {
    let wanted = hint.map_or(max_bytes, |h| h.min(max_bytes));
    match remaining {
        Some(0) => None,
        Some(r) => Some(wanted.min(r)),
        None => Some(wanted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(max_bytes: Option<u64>, max_attachments: Option<u64>, bytes: u64, n: u64) -> Quota {
        Quota {
            limits: QuotaLimits {
                max_bytes,
                max_attachments,
            },
            usage: QuotaUsage {
                bytes,
                attachments: n,
            },
        }
    }

    #[test]
    fn tombstones_cost_nothing() {
        assert_eq!(charged_bytes(AttachmentState::Deleted, 7), 0);
        assert_eq!(counted(AttachmentState::Deleted), 0);
        assert_eq!(counted(AttachmentState::UploadFailed), 1);
        assert_eq!(counted(AttachmentState::Ready), 1);
    }

    #[test]
    fn failed_attachments_cost_no_bytes() {
        assert_eq!(charged_bytes(AttachmentState::Ready, 7), 7);
        assert_eq!(charged_bytes(AttachmentState::Pending, 7), 7);
        assert_eq!(charged_bytes(AttachmentState::Uploading, 7), 7);
        assert_eq!(charged_bytes(AttachmentState::ChecksumMismatch, 7), 0);
        assert_eq!(charged_bytes(AttachmentState::VerificationFailed, 7), 0);
        assert_eq!(charged_bytes(AttachmentState::UploadFailed, 7), 0);
    }

    #[test]
    fn limits_admit_up_to_and_including_them() {
        assert_eq!(Quota::default().admits(u64::MAX), Ok(()));
        let q = quota(Some(100), Some(3), 60, 2);
        assert_eq!(q.admits(40), Ok(()));
        let refused = q.admits(41).expect_err("over the byte limit");
        assert_eq!(
            refused,
            QuotaExceeded {
                kind: QuotaKind::Bytes,
                limit: 100,
                used: 60,
                requested: 41
            }
        );
        assert!(refused.to_string().contains("100 bytes"), "{refused}");
        let full = quota(Some(100), Some(2), 0, 2)
            .admits(1)
            .expect_err("count");
        assert_eq!(full.kind, QuotaKind::Attachments);
        assert!(full.to_string().contains("2 attachments"), "{full}");
        assert_eq!(q.remaining_bytes(), Some(40));
        assert_eq!(quota(Some(10), None, 30, 0).remaining_bytes(), Some(0));
        assert_eq!(Quota::default().remaining_bytes(), None);
    }

    #[test]
    fn a_stream_reserves_the_least_bound() {
        assert_eq!(stream_reservation(100, None, None), Some(100));
        assert_eq!(stream_reservation(100, Some(40), None), Some(40));
        assert_eq!(stream_reservation(100, Some(400), None), Some(100));
        assert_eq!(stream_reservation(100, Some(40), Some(25)), Some(25));
        assert_eq!(stream_reservation(100, None, Some(0)), None);
        assert_eq!(stream_reservation(100, Some(0), None), Some(0));
    }
}
