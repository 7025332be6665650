use time::{Duration, OffsetDateTime};

use crate::attachment::AttachmentId;
use crate::ports::{
    SignatureError, Signed, SignedRequest, SignedTarget, SignedUploadRequest, UploadSigner,
    UploadTarget, UrlSigner,
};
use crate::signed_url::{parse_clasp_signed_upload_url, parse_clasp_signed_url};

use super::{fresh_tenant, instant};

/// Copies of a signed request with one signed part changed each, named.
macro_rules! tampered {
    ($req:expr) => {{
        let req = $req;
        let mut tampered = Vec::new();
        let mut t = req.clone();
        t.tenant_id = fresh_tenant().id;
        tampered.push(("tenant", t));
        let mut t = req.clone();
        t.attachment_id = AttachmentId::new();
        tampered.push(("attachment", t));
        let mut t = req.clone();
        t.expires += 3600;
        tampered.push(("expiry", t));
        let mut t = req.clone();
        let last = if t.signature.ends_with('A') { "B" } else { "A" };
        t.signature = format!("{}{last}", &t.signature[..t.signature.len() - 1]);
        tampered.push(("signature", t));
        let mut t = req.clone();
        t.signature = String::new();
        tampered.push(("empty signature", t));
        tampered
    }};
}

/// `req` verifies until it expires, never after; each of `tampered` fails as
/// invalid (not expired), before and after the expiry.
fn honoured_until_expiry<R>(
    req: &R,
    tampered: Vec<(&str, R)>,
    verify: impl Fn(&R, OffsetDateTime) -> Signed<()>,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) {
    assert_eq!(verify(req, now), Ok(()));
    assert_eq!(verify(req, expires_at - Duration::seconds(1)), Ok(()));
    assert_eq!(verify(req, expires_at), Err(SignatureError::Expired));
    for (what, t) in tampered {
        assert_eq!(verify(&t, now), Err(SignatureError::Invalid), "{what}");
        let later = expires_at + Duration::hours(2);
        assert_eq!(
            verify(&t, later),
            Err(SignatureError::Invalid),
            "{what}, after expiry"
        );
    }
}

/// The [`UrlSigner`] contract, for signers whose URLs Clasp serves itself.
pub async fn url_signer(signer: &dyn UrlSigner) {
    let target = SignedTarget {
        tenant_id: fresh_tenant().id,
        attachment_id: AttachmentId::new(),
        blob_key: "k".into(),
        filename: "a.png".into(),
        content_type: "image/png".into(),
    };
    let now = instant(0);
    let expires_at = now + Duration::hours(1);
    let signed = signer.download_url(&target, expires_at).await.unwrap();
    assert_eq!(signed.expires_at, expires_at);
    let req = parse_clasp_signed_url(&signed.url).expect("a Clasp signed URL");
    assert_eq!(
        (req.tenant_id, req.attachment_id),
        (target.tenant_id, target.attachment_id)
    );

    let verify = |r: &SignedRequest, at| signer.verify(r, at);
    honoured_until_expiry(&req, tampered!(&req), verify, now, expires_at);
}

/// The [`UploadSigner`] contract, for signers whose upload URLs Clasp serves
/// itself.
pub async fn upload_signer(signer: &dyn UploadSigner) {
    let target = UploadTarget {
        tenant_id: fresh_tenant().id,
        attachment_id: AttachmentId::new(),
        blob_key: "k/uploads/x".into(),
        size: 102_400,
        content_type: "application/pdf".into(),
    };
    let now = instant(0);
    let expires_at = now + Duration::minutes(15);
    let url = signer.upload_url(&target, expires_at).await.unwrap();
    assert_eq!(url.expires_at, expires_at);
    assert_eq!(url.method, "PUT");
    let req = parse_clasp_signed_upload_url(&url.url).expect("a Clasp signed upload URL");
    assert_eq!(
        (req.tenant_id, req.attachment_id, req.size, req.expires),
        (
            target.tenant_id,
            target.attachment_id,
            target.size,
            expires_at.unix_timestamp()
        )
    );

    let mut tampered = tampered!(&req);
    let mut t = req.clone();
    t.size += 1;
    tampered.push(("size", t));
    let verify = |r: &SignedUploadRequest, at| signer.verify_upload(r, at);
    honoured_until_expiry(&req, tampered, verify, now, expires_at);
}

/// For a signer of both kinds: a download URL's signature never opens an upload,
/// nor an upload URL's a download.
pub async fn signer_keeps_uploads_apart<S: UrlSigner + UploadSigner>(signer: &S) {
    let tenant_id = fresh_tenant().id;
    let attachment_id = AttachmentId::new();
    let now = instant(0);
    let expires_at = now + Duration::minutes(15);
    let download = signer
        .download_url(
            &SignedTarget {
                tenant_id,
                attachment_id,
                blob_key: "k".into(),
                filename: "a.txt".into(),
                content_type: "text/plain".into(),
            },
            expires_at,
        )
        .await
        .unwrap();
    let download = parse_clasp_signed_url(&download.url).unwrap();
    let upload = signer
        .upload_url(
            &UploadTarget {
                tenant_id,
                attachment_id,
                blob_key: "k".into(),
                size: 3,
                content_type: "text/plain".into(),
            },
            expires_at,
        )
        .await
        .unwrap();
    let upload = parse_clasp_signed_upload_url(&upload.url).unwrap();
    for size in [0, 3, 1 << 20] {
        let borrowed = SignedUploadRequest {
            tenant_id,
            attachment_id,
            expires: download.expires,
            size,
            signature: download.signature.clone(),
        };
        assert_eq!(
            signer.verify_upload(&borrowed, now),
            Err(SignatureError::Invalid),
            "a download signature is no upload signature (size {size})"
        );
    }
    let borrowed = SignedRequest {
        tenant_id,
        attachment_id,
        expires: upload.expires,
        signature: upload.signature.clone(),
    };
    assert_eq!(
        signer.verify(&borrowed, now),
        Err(SignatureError::Invalid),
        "an upload signature is no download signature"
    );
}
