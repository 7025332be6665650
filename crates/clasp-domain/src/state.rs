//! The attachment state machine. Only [`AttachmentState::Ready`] may be downloaded.

use serde::Serialize;

/// Where an attachment is in its life. Transitions other than those of
/// [`AttachmentState::can_become`] are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum AttachmentState {
    /// Known, but no bytes yet (an upload URL was issued).
    Pending,
    /// Bytes are arriving.
    Uploading,
    /// All bytes arrived; size, checksum and type are being checked.
    Verifying,
    /// Verified and downloadable.
    Ready,
    /// The bytes never fully arrived.
    UploadFailed,
    /// The bytes differ from the checksum the client declared.
    ChecksumMismatch,
    /// The bytes arrived but failed a check (size, type, magic).
    VerificationFailed,
    /// Deleted by a client: never served again, its bytes being removed. The
    /// row is a tombstone until they are gone; if removing them fails, the
    /// sweeper retries until it succeeds.
    Deleted,
}

/// A refused state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an attachment cannot go from {from:?} to {to:?}")]
pub struct InvalidTransition {
    /// The state the attachment is in.
    pub from: AttachmentState,
    /// The state that was asked for.
    pub to: AttachmentState,
}

impl AttachmentState {
    /// Every state, for exhaustive checks and adapters that map names.
    pub const ALL: [AttachmentState; 8] = [
        Self::Pending,
        Self::Uploading,
        Self::Verifying,
        Self::Ready,
        Self::UploadFailed,
        Self::ChecksumMismatch,
        Self::VerificationFailed,
        Self::Deleted,
    ];

    /// Whether the machine allows going from `self` to `to`.
    pub fn can_become(self, to: AttachmentState) -> bool {
        use AttachmentState::*;
        (to == Deleted && self != Deleted)
            || matches!(
                (self, to),
                (Pending, Uploading)
                    | (Pending, Verifying)
                    | (Pending, UploadFailed)
                    | (Uploading, Verifying)
                    | (Uploading, UploadFailed)
                    | (Verifying, Ready)
                    | (Verifying, ChecksumMismatch)
                    | (Verifying, VerificationFailed)
            )
    }

    /// The next state, or the reason it is refused.
    pub fn transition(self, to: AttachmentState) -> Result<AttachmentState, InvalidTransition> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(InvalidTransition { from: self, to })
        }
    }

    /// A stable lowercase name, used by storage adapters.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Uploading => "uploading",
            Self::Verifying => "verifying",
            Self::Ready => "ready",
            Self::UploadFailed => "upload_failed",
            Self::ChecksumMismatch => "checksum_mismatch",
            Self::VerificationFailed => "verification_failed",
            Self::Deleted => "deleted",
        }
    }

    /// The inverse of [`AttachmentState::as_str`].
    pub fn parse(name: &str) -> Option<AttachmentState> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the attachment is done with: no transition but its deletion
    /// is possible.
    pub fn is_final(self) -> bool {
        Self::ALL
            .into_iter()
            .all(|to| to == Self::Deleted || !self.can_become(to))
    }

    /// Whether the machine leads from `self` to `to`, in one step or several.
    pub fn leads_to(self, to: AttachmentState) -> bool {
        Self::ALL
            .into_iter()
            .any(|via| self.can_become(via) && (via == to || via.leads_to(to)))
    }

    /// Whether an attachment in this state is done with and kept for its
    /// clients to see: `Ready`, or failed for a reason they may read.
    pub fn is_kept(self) -> bool {
        matches!(
            self,
            Self::Ready | Self::ChecksumMismatch | Self::VerificationFailed
        )
    }

    /// The states a stored attachment may be in for a write of `self` to
    /// apply: `self`, and every state the machine leads to it from. Storage
    /// adapters compare and set on them, so a write against the machine — a
    /// committed attachment "abandoned" by the sweeper, an abandoned one
    /// "committed" — changes nothing, whichever of two racing writers is last.
    pub fn written_over(self) -> Vec<AttachmentState> {
        Self::ALL
            .into_iter()
            .filter(|&from| from == self || from.leads_to(self))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::AttachmentState::{self, *};

    #[test]
    fn every_pair_is_allowed_or_refused_as_designed() {
        let allowed = [
            (Pending, Uploading),
            (Pending, Verifying),
            (Pending, UploadFailed),
            (Uploading, Verifying),
            (Uploading, UploadFailed),
            (Verifying, Ready),
            (Verifying, ChecksumMismatch),
            (Verifying, VerificationFailed),
        ];
        let mut checked = 0;
        let allowed =
            |from, to| allowed.contains(&(from, to)) || (to == Deleted && from != Deleted);
        for from in AttachmentState::ALL {
            for to in AttachmentState::ALL {
                let expected = allowed(from, to);
                let got = from.transition(to);
                assert_eq!(got.is_ok(), expected, "{from:?} -> {to:?}");
                if let Err(e) = got {
                    assert_eq!((e.from, e.to), (from, to));
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 64);
    }

    #[test]
    fn writes_follow_the_machine() {
        assert_eq!(Pending.written_over(), [Pending]);
        assert_eq!(Ready.written_over(), [Pending, Uploading, Verifying, Ready]);
        assert_eq!(
            UploadFailed.written_over(),
            [Pending, Uploading, UploadFailed]
        );
        assert!(
            !UploadFailed.written_over().contains(&Ready),
            "a commit wins"
        );
        assert!(
            !Ready.written_over().contains(&UploadFailed),
            "a claim wins"
        );
    }

    #[test]
    fn finals_and_names() {
        for s in AttachmentState::ALL {
            assert_eq!(AttachmentState::parse(s.as_str()), Some(s));
        }
        assert!(Ready.is_final() && UploadFailed.is_final() && ChecksumMismatch.is_final());
        assert!(!Pending.is_final() && !Verifying.is_final());
    }
}
