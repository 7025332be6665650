//! S3 presigned upload URLs (direct uploads) against a real S3 server
//! (SeaweedFS, started by `./scripts/test.sh`; see `common`): the bucket takes
//! exactly the declared bytes and type, and nothing else.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is how a test fails"
)]

use std::time::Duration;

use clasp_domain::ports::{
    BlobError, BlobStore, SignatureError, UploadSigner, UploadTarget, UploadUrl,
};
use clasp_domain::signed_url::parse_clasp_signed_upload_url;
use clasp_domain::{AttachmentId, TenantId};
use clasp_storage::{ObjectBlobStore, S3UrlSigner};
use futures::StreamExt;
use time::OffsetDateTime;
use uuid::Uuid;

mod common;

use common::{bucket, hmac, http, s3_settings};

fn target(size: u64, content_type: &str) -> UploadTarget {
    let tenant_id = TenantId(Uuid::now_v7());
    let attachment_id = AttachmentId::new();
    UploadTarget {
        tenant_id,
        attachment_id,
        blob_key: format!("{}/uploads/{}", tenant_id.0, attachment_id.0),
        size,
        content_type: content_type.into(),
    }
}

/// Sends `body` the way a client follows an [`UploadUrl`], with `content_type`
/// in place of the URL's own type header.
async fn put(url: &UploadUrl, content_type: &str, body: Vec<u8>) -> reqwest::StatusCode {
    assert_eq!(url.method, "PUT");
    let mut request = http().put(&url.url).body(body);
    for (name, value) in &url.headers {
        // reqwest sets Content-Length from the body: what a client really sends
        if name.eq_ignore_ascii_case("content-type") {
            request = request.header(name, content_type);
        } else if !name.eq_ignore_ascii_case("content-length") {
            request = request.header(name, value);
        }
    }
    request.send().await.unwrap().status()
}

/// Sends `body` as the form `url.form` describes, with `fields` changed by
/// `edit` first: its fields, then the file.
async fn post(
    url: &UploadUrl,
    edit: impl Fn(&mut Vec<(String, String)>),
    body: Vec<u8>,
) -> reqwest::StatusCode {
    let mut fields = url.form.fields.clone();
    edit(&mut fields);
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields {
        form = form.text(name, value);
    }
    let file = reqwest::multipart::Part::bytes(body).file_name("f");
    let request = http()
        .post(&url.form.url)
        .multipart(form.part("file", file));
    request.send().await.unwrap().status()
}

/// Sets form field `name` to `value`.
fn set(name: &'static str, value: &str) -> impl Fn(&mut Vec<(String, String)>) {
    let value = value.to_owned();
    move |fields| {
        for field in fields.iter_mut().filter(|(n, _)| n == name) {
            field.1.clone_from(&value);
        }
    }
}

async fn stored(store: &ObjectBlobStore, key: &str) -> Option<Vec<u8>> {
    match store.get(key).await {
        Ok(mut reader) => {
            let mut out = Vec::new();
            while let Some(chunk) = reader.stream.next().await {
                out.extend_from_slice(&chunk.unwrap());
            }
            Some(out)
        }
        Err(BlobError::NotFound) => None,
        Err(other) => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_presigned_put_stores_exactly_the_declared_bytes() {
    let settings = s3_settings();
    let (store, signer) = bucket();
    let bytes: Vec<u8> = (0..70_001u32).map(|i| (i * 31 % 251) as u8).collect();
    let target = target(bytes.len() as u64, "application/pdf");
    let asked = OffsetDateTime::now_utc() + time::Duration::minutes(15);
    let url = signer.upload_url(&target, asked).await.unwrap();

    // straight to the bucket, under the upload key, with the headers to send
    let endpoint = settings.endpoint.clone().unwrap();
    assert!(
        url.url.starts_with(&format!(
            "{endpoint}/{}/{}?",
            settings.bucket, target.blob_key
        )),
        "{}",
        url.url
    );
    assert!(url.expires_at <= asked && url.expires_at > asked - time::Duration::seconds(2));
    assert!(
        url.headers
            .contains(&("Content-Type".into(), "application/pdf".into()))
    );
    assert!(
        url.headers
            .contains(&("Content-Length".into(), bytes.len().to_string()))
    );

    assert!(
        put(&url, "application/pdf", bytes.clone())
            .await
            .is_success()
    );
    assert_eq!(stored(&store, &target.blob_key).await, Some(bytes));
    store.delete(&target.blob_key).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_presigned_put_refuses_any_other_length_or_type() {
    let (store, signer) = bucket();
    let target = target(1_000, "image/png");
    let url = signer
        .upload_url(
            &target,
            OffsetDateTime::now_utc() + time::Duration::minutes(15),
        )
        .await
        .unwrap();

    for (what, content_type, body) in [
        ("one byte more", "image/png", vec![1u8; 1_001]),
        ("ten times more", "image/png", vec![1u8; 10_000]),
        ("one byte less", "image/png", vec![1u8; 999]),
        ("another type", "text/html", vec![1u8; 1_000]),
    ] {
        let status = put(&url, content_type, body).await;
        assert_eq!(status, 403, "{what}");
        assert_eq!(stored(&store, &target.blob_key).await, None, "{what}");
    }

    // the same URL on another key
    let other = url.url.replace(
        &target.attachment_id.0.to_string(),
        &Uuid::now_v7().to_string(),
    );
    assert_ne!(other, url.url);
    let moved = UploadUrl {
        url: other,
        ..url.clone()
    };
    assert_eq!(put(&moved, "image/png", vec![1u8; 1_000]).await, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_presigned_put_is_refused() {
    let (store, signer) = bucket();
    let target = target(5, "text/plain");
    let url = signer
        .upload_url(
            &target,
            OffsetDateTime::now_utc() + time::Duration::seconds(2),
        )
        .await
        .unwrap();
    let wait = url.expires_at - OffsetDateTime::now_utc() + time::Duration::milliseconds(1500);
    tokio::time::sleep(wait.try_into().unwrap_or(Duration::ZERO)).await;
    assert_eq!(put(&url, "text/plain", b"late!".to_vec()).await, 403);
    assert_eq!(stored(&store, &target.blob_key).await, None);

    // a time already gone cannot be signed
    let err = signer
        .upload_url(
            &target,
            OffsetDateTime::now_utc() - time::Duration::seconds(1),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, SignatureError::Backend(_)), "{err:?}");
}

#[tokio::test]
async fn the_s3_signer_still_verifies_clasp_signed_upload_urls() {
    let settings = s3_settings();
    let signer = S3UrlSigner::new(&settings, hmac()).unwrap();
    let now = OffsetDateTime::now_utc();
    let minted = hmac()
        .upload_url(&target(3, "text/plain"), now + time::Duration::hours(1))
        .await
        .unwrap();
    let req = parse_clasp_signed_upload_url(&minted.url).unwrap();
    assert_eq!(signer.verify_upload(&req, now), Ok(()));
    assert_eq!(
        signer.verify_upload(&req, now + time::Duration::hours(2)),
        Err(SignatureError::Expired)
    );
    let mut bigger = req.clone();
    bigger.size += 1;
    assert_eq!(
        signer.verify_upload(&bigger, now),
        Err(SignatureError::Invalid)
    );
}

/// Seed 000: "Upload the file with a PUT or POST to the given URL". S3 takes a
/// POST as a browser form under a signed POST policy: SeaweedFS checks its
/// signature and conditions as S3 does.
#[tokio::test(flavor = "multi_thread")]
async fn a_presigned_post_form_stores_exactly_the_declared_bytes() {
    let settings = s3_settings();
    let (store, signer) = bucket();
    let bytes: Vec<u8> = (0..70_001u32).map(|i| (i * 7 % 253) as u8).collect();
    let target = target(bytes.len() as u64, "application/pdf");
    let url = signer
        .upload_url(
            &target,
            OffsetDateTime::now_utc() + time::Duration::minutes(15),
        )
        .await
        .unwrap();
    let endpoint = settings.endpoint.clone().unwrap();
    assert_eq!(url.form.url, format!("{endpoint}/{}/", settings.bucket));
    let fields: Vec<&str> = url.form.fields.iter().map(|(n, _)| n.as_str()).collect();
    for name in ["key", "Content-Type", "policy", "x-amz-signature"] {
        assert!(fields.contains(&name), "{name} in {fields:?}");
    }

    // what the policy does not allow leaves nothing behind
    let unchanged = |_: &mut Vec<(String, String)>| {};
    let other_key = format!("{}/uploads/{}", target.tenant_id.0, Uuid::now_v7());
    for (what, status) in [
        (
            "one byte more",
            post(&url, unchanged, vec![1u8; bytes.len() + 1]).await,
        ),
        (
            "one byte less",
            post(&url, unchanged, vec![1u8; bytes.len() - 1]).await,
        ),
        (
            "another type",
            post(&url, set("Content-Type", "text/html"), bytes.clone()).await,
        ),
        (
            "another key",
            post(&url, set("key", &other_key), bytes.clone()).await,
        ),
        (
            "a forged policy",
            post(&url, set("x-amz-signature", "00"), bytes.clone()).await,
        ),
    ] {
        assert!(status.is_client_error(), "{what}: {status}");
        assert_eq!(stored(&store, &target.blob_key).await, None, "{what}");
        assert_eq!(stored(&store, &other_key).await, None, "{what}");
    }

    let status = post(&url, unchanged, bytes.clone()).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(stored(&store, &target.blob_key).await, Some(bytes));
    store.delete(&target.blob_key).await.unwrap();
}
