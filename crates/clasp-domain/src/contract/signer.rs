use time::Duration;

use crate::attachment::AttachmentId;
use crate::ports::{SignatureError, SignedTarget, UrlSigner, parse_clasp_signed_url};

use super::{fresh_tenant, instant};

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

    // valid until it expires, never after
    signer.verify(&req, now).unwrap();
    signer
        .verify(&req, expires_at - Duration::seconds(1))
        .unwrap();
    assert_eq!(
        signer.verify(&req, expires_at),
        Err(SignatureError::Expired)
    );

    // every tampered part fails
    let mut t = req.clone();
    t.tenant_id = fresh_tenant().id;
    assert_eq!(
        signer.verify(&t, now),
        Err(SignatureError::Invalid),
        "tenant"
    );
    let mut t = req.clone();
    t.attachment_id = AttachmentId::new();
    assert_eq!(
        signer.verify(&t, now),
        Err(SignatureError::Invalid),
        "attachment"
    );
    let mut t = req.clone();
    t.expires += 3600;
    assert_eq!(
        signer.verify(&t, now),
        Err(SignatureError::Invalid),
        "expiry"
    );
    let mut t = req.clone();
    t.signature = format!("{}A", &t.signature[..t.signature.len() - 1]);
    if t.signature == req.signature {
        t.signature = format!("{}B", &t.signature[..t.signature.len() - 1]);
    }
    assert_eq!(
        signer.verify(&t, now),
        Err(SignatureError::Invalid),
        "signature"
    );
    let mut t = req.clone();
    t.signature = String::new();
    assert_eq!(
        signer.verify(&t, now),
        Err(SignatureError::Invalid),
        "empty signature"
    );
}
