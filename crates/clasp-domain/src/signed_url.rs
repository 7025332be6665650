//! The wire format of the URLs Clasp signs and serves itself: where they point
//! (`/signed/…` downloads, `/signed-upload/…` uploads) and how their parts are
//! written in the path and query. Every signer whose URLs Clasp serves builds
//! them here, and the routes serving them read them here, so the two never
//! disagree.

use uuid::Uuid;

use crate::attachment::AttachmentId;
use time::OffsetDateTime;

use crate::ports::{
    SignedRequest, SignedTarget, SignedUploadRequest, SignedUrl, UploadForm, UploadTarget,
    UploadUrl,
};
use crate::tenant::TenantId;

/// Path prefix of the download URLs Clasp signs and serves itself.
pub const SIGNED_PATH_PREFIX: &str = "/signed";

/// Path prefix of the upload URLs Clasp signs and serves itself.
pub const SIGNED_UPLOAD_PATH_PREFIX: &str = "/signed-upload";

/// Builds a Clasp-served signed URL: `{base}/signed/{tenant}/{attachment}?expires=…&signature=…`.
pub fn clasp_signed_url(
    base: &str,
    tenant: TenantId,
    attachment: AttachmentId,
    expires: i64,
    signature: &str,
) -> String {
    format!(
        "{}{SIGNED_PATH_PREFIX}/{tenant}/{attachment}?expires={expires}&signature={signature}",
        base.trim_end_matches('/')
    )
}

/// Builds a Clasp-served upload URL:
/// `{base}/signed-upload/{tenant}/{attachment}?expires=…&size=…&signature=…`.
pub fn clasp_signed_upload_url(
    base: &str,
    tenant: TenantId,
    attachment: AttachmentId,
    expires: i64,
    size: u64,
    signature: &str,
) -> String {
    format!(
        "{}{SIGNED_UPLOAD_PATH_PREFIX}/{tenant}/{attachment}?expires={expires}&size={size}&signature={signature}",
        base.trim_end_matches('/')
    )
}

/// The download URL Clasp serves for `target`, signed with `signature`, that
/// stops working at `expires_at`.
pub fn download_url(
    base: &str,
    target: &SignedTarget,
    expires_at: OffsetDateTime,
    signature: &str,
) -> SignedUrl {
    let expires = expires_at.unix_timestamp();
    SignedUrl {
        url: clasp_signed_url(
            base,
            target.tenant_id,
            target.attachment_id,
            expires,
            signature,
        ),
        expires_at,
    }
}

/// The upload URL Clasp serves for `target`, signed with `signature`, that
/// stops working at `expires_at`: a `PUT` carrying the declared type, or a
/// form `POST` of the file to the same URL (no other field needed).
pub fn upload_url(
    base: &str,
    target: &UploadTarget,
    expires_at: OffsetDateTime,
    signature: &str,
) -> UploadUrl {
    let expires = expires_at.unix_timestamp();
    let (tenant, attachment) = (target.tenant_id, target.attachment_id);
    let url = clasp_signed_upload_url(base, tenant, attachment, expires, target.size, signature);
    UploadUrl {
        form: UploadForm {
            url: url.clone(),
            fields: Vec::new(),
        },
        url,
        method: "PUT".into(),
        headers: vec![("Content-Type".into(), target.content_type.clone())],
        expires_at,
    }
}

/// The parts every signed URL under `prefix` has: tenant and attachment from
/// the path, and the query's `expires`, `size` and `signature`, if given.
struct Parts {
    tenant: TenantId,
    attachment: AttachmentId,
    expires: Option<i64>,
    size: Option<u64>,
    signature: Option<String>,
}

fn parts(url: &str, prefix: &str) -> Option<Parts> {
    let start = url.find(prefix)?;
    let (path, query) = url[start + prefix.len()..].split_once('?')?;
    let mut segments = path.strip_prefix('/')?.split('/');
    let tenant = TenantId(Uuid::parse_str(segments.next()?).ok()?);
    let attachment = AttachmentId(Uuid::parse_str(segments.next()?).ok()?);
    if segments.next().is_some() {
        return None;
    }
    let mut found = Parts {
        tenant,
        attachment,
        expires: None,
        size: None,
        signature: None,
    };
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("expires", v)) => found.expires = v.parse().ok(),
            Some(("size", v)) => found.size = v.parse().ok(),
            Some(("signature", v)) => found.signature = Some(v.to_owned()),
            _ => {}
        }
    }
    Some(found)
}

/// Reads the parts of a URL built by [`clasp_signed_url`] (absolute, or just
/// path and query).
pub fn parse_clasp_signed_url(url: &str) -> Option<SignedRequest> {
    let p = parts(url, SIGNED_PATH_PREFIX)?;
    Some(SignedRequest {
        tenant_id: p.tenant,
        attachment_id: p.attachment,
        expires: p.expires?,
        signature: p.signature?,
    })
}

/// Reads the parts of a URL built by [`clasp_signed_upload_url`] (absolute, or
/// just path and query).
pub fn parse_clasp_signed_upload_url(url: &str) -> Option<SignedUploadRequest> {
    let p = parts(url, SIGNED_UPLOAD_PATH_PREFIX)?;
    Some(SignedUploadRequest {
        tenant_id: p.tenant,
        attachment_id: p.attachment,
        expires: p.expires?,
        size: p.size?,
        signature: p.signature?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_upload_urls_round_trip_and_stay_apart_from_download_urls() {
        let tenant = TenantId(Uuid::now_v7());
        let attachment = AttachmentId::new();
        let url = clasp_signed_upload_url("http://h:1/", tenant, attachment, 42, 1024, "c2ln");
        assert_eq!(
            url,
            format!(
                "http://h:1/signed-upload/{tenant}/{attachment}?expires=42&size=1024&signature=c2ln"
            )
        );
        assert_eq!(
            parse_clasp_signed_upload_url(&url),
            Some(SignedUploadRequest {
                tenant_id: tenant,
                attachment_id: attachment,
                expires: 42,
                size: 1024,
                signature: "c2ln".into(),
            })
        );
        assert_eq!(parse_clasp_signed_url(&url), None, "not a download URL");
        let download = clasp_signed_url("http://h:1", tenant, attachment, 42, "c2ln");
        assert_eq!(parse_clasp_signed_upload_url(&download), None);
        for broken in [
            url.replace("&size=1024", ""),
            url.replace("size=1024", "size=-1"),
            url.replace("&signature=c2ln", ""),
            url.replace(&attachment.to_string(), "nope"),
            url.replace("?", "/x?"),
        ] {
            assert_eq!(parse_clasp_signed_upload_url(&broken), None, "{broken}");
        }
    }
}
