//! Signed-URL parsing and verification, with the HMAC signer Clasp serves its
//! own URLs with. Any text, parsed as a download or upload URL, never verifies
//! under a key that did not sign it. A URL the signer mints parses back to what
//! was signed and verifies until it expires, then reports `Expired`; a request
//! with any field changed is `Invalid` (even once expired); download and upload
//! signatures never stand in for each other; and a minted URL edited by the
//! fuzzer verifies only if it still parses to exactly what was signed.
#![no_main]

use std::sync::LazyLock;

use clasp_domain::ports::{
    SignatureError, SignedRequest, SignedTarget, SignedUploadRequest, UploadSigner, UploadTarget,
    UrlSigner,
};
use clasp_domain::signed_url::{parse_clasp_signed_upload_url, parse_clasp_signed_url};
use clasp_domain::{AttachmentId, TenantId};
use clasp_storage::HmacSigner;
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;
use uuid::Uuid;

static SIGNER: LazyLock<HmacSigner> =
    LazyLock::new(|| HmacSigner::new(&[7; 32], "http://clasp.test").expect("signer"));
/// A key that never mints anything in this target.
static STRANGER: LazyLock<HmacSigner> =
    LazyLock::new(|| HmacSigner::new(&[9; 32], "http://clasp.test").expect("signer"));

/// Earliest and latest Unix seconds `time` can represent (years -9999 and 9999).
const MIN_TS: i64 = -377_705_116_800;
const MAX_TS: i64 = 253_402_300_799;

fn at(ts: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(ts).expect("in range")
}

fn take<const N: usize>(data: &mut &[u8]) -> [u8; N] {
    let mut out = [0; N];
    let n = N.min(data.len());
    out[..n].copy_from_slice(&data[..n]);
    *data = &data[n..];
    out
}

/// Applies the fuzzer's edits (replace, insert or delete one byte each) to `url`.
fn edit(url: &str, edits: &[u8]) -> String {
    let mut bytes = url.as_bytes().to_vec();
    for e in edits.chunks_exact(3) {
        let pos = usize::from(e[1]) % (bytes.len() + 1);
        match e[0] % 3 {
            0 if pos < bytes.len() => bytes[pos] = e[2],
            1 => bytes.insert(pos, e[2]),
            _ if pos < bytes.len() => {
                bytes.remove(pos);
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn tampered_downloads(r: &SignedRequest) -> Vec<SignedRequest> {
    let flip = |f: &dyn Fn(&mut SignedRequest)| {
        let mut t = r.clone();
        f(&mut t);
        t
    };
    vec![
        flip(&|t| t.tenant_id = TenantId(Uuid::from_u128(t.tenant_id.0.as_u128() ^ 1))),
        flip(&|t| t.attachment_id = AttachmentId(Uuid::from_u128(t.attachment_id.0.as_u128() ^ 1))),
        flip(&|t| t.expires ^= 1),
        flip(&|t| t.signature.push('A')),
        flip(&|t| t.signature = t.signature.chars().rev().collect()),
    ]
}

fuzz_target!(|data: &[u8]| {
    // Any text at all: never a valid URL of a key that signed nothing.
    let text = String::from_utf8_lossy(data);
    let now = at(0);
    if let Some(r) = parse_clasp_signed_url(&text) {
        assert!(STRANGER.verify(&r, now).is_err(), "forged {text:?}");
    }
    if let Some(r) = parse_clasp_signed_upload_url(&text) {
        assert!(STRANGER.verify_upload(&r, now).is_err(), "forged {text:?}");
    }

    // A URL the signer mints, from the fuzzer's fields.
    let mut rest = data;
    let tenant = TenantId(Uuid::from_bytes(take::<16>(&mut rest)));
    let attachment = AttachmentId(Uuid::from_bytes(take::<16>(&mut rest)));
    let raw_expires = i64::from_le_bytes(take::<8>(&mut rest));
    let expires = MIN_TS + 1 + raw_expires.rem_euclid(MAX_TS - MIN_TS - 1);
    let size = u64::from_le_bytes(take::<8>(&mut rest));
    let edits = rest;

    let target = SignedTarget {
        tenant_id: tenant,
        attachment_id: attachment,
        blob_key: "k".into(),
        filename: "f".into(),
        content_type: "image/png".into(),
    };
    let minted =
        futures::executor::block_on(SIGNER.download_url(&target, at(expires))).expect("signs");
    let request = parse_clasp_signed_url(&minted.url).expect("a minted URL parses");
    assert_eq!(
        (request.tenant_id, request.attachment_id, request.expires),
        (tenant, attachment, expires)
    );
    assert_eq!(SIGNER.verify(&request, at(expires - 1)), Ok(()));
    assert_eq!(
        SIGNER.verify(&request, at(expires)),
        Err(SignatureError::Expired)
    );
    assert!(parse_clasp_signed_upload_url(&minted.url).is_none());
    for t in tampered_downloads(&request) {
        assert_eq!(
            SIGNER.verify(&t, at(expires - 1)),
            Err(SignatureError::Invalid),
            "{t:?}"
        );
        assert_eq!(
            SIGNER.verify(&t, at(expires)),
            Err(SignatureError::Invalid),
            "{t:?}"
        );
    }

    let upload = UploadTarget {
        tenant_id: tenant,
        attachment_id: attachment,
        blob_key: "k".into(),
        size,
        content_type: "image/png".into(),
    };
    let minted_up =
        futures::executor::block_on(SIGNER.upload_url(&upload, at(expires))).expect("signs");
    let up = parse_clasp_signed_upload_url(&minted_up.url).expect("a minted URL parses");
    assert_eq!(
        (up.tenant_id, up.attachment_id, up.expires, up.size),
        (tenant, attachment, expires, size)
    );
    assert_eq!(SIGNER.verify_upload(&up, at(expires - 1)), Ok(()));
    assert_eq!(
        SIGNER.verify_upload(&up, at(expires)),
        Err(SignatureError::Expired)
    );
    let bigger = SignedUploadRequest {
        size: size ^ 1,
        ..up.clone()
    };
    assert_eq!(
        SIGNER.verify_upload(&bigger, at(expires)),
        Err(SignatureError::Invalid)
    );
    // Neither kind of signature stands in for the other.
    let as_upload = SignedUploadRequest {
        signature: request.signature.clone(),
        ..up.clone()
    };
    assert_eq!(
        SIGNER.verify_upload(&as_upload, at(expires - 1)),
        Err(SignatureError::Invalid)
    );
    let as_download = SignedRequest {
        signature: up.signature.clone(),
        ..request.clone()
    };
    assert_eq!(
        SIGNER.verify(&as_download, at(expires - 1)),
        Err(SignatureError::Invalid)
    );

    // Edited URLs verify only as what was signed.
    let edited = edit(&minted.url, edits);
    if let Some(r) = parse_clasp_signed_url(&edited)
        && SIGNER.verify(&r, at(expires - 1)).is_ok()
    {
        assert_eq!(r, request, "{edited:?} verified as something else");
    }
    let edited_up = edit(&minted_up.url, edits);
    if let Some(r) = parse_clasp_signed_upload_url(&edited_up)
        && SIGNER.verify_upload(&r, at(expires - 1)).is_ok()
    {
        assert_eq!(r, up, "{edited_up:?} verified as something else");
    }
});
