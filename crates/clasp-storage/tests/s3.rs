//! The S3 adapter and S3 presigned URLs against a real S3 server (SeaweedFS,
//! started by `./scripts/test.sh`; see `common`). Every test works under its
//! own random key prefix, so tests can share the bucket and run in parallel.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is how a test fails"
)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use clasp_domain::inspect::BodyError;
use clasp_domain::ports::{BlobError, BlobStore, SignatureError, SignedTarget, UrlSigner};
use clasp_domain::signed_url::parse_clasp_signed_url;
use clasp_domain::{AttachmentId, TenantId};
use clasp_storage::{MAX_PRESIGNED_SECS, ObjectBlobStore, S3Settings, S3UrlSigner, StorageError};
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::signer::{Method, SignedUrlOptions, Signer};
use object_store::{MultipartUpload, ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

mod common;

use common::{bucket, hmac, http, s3_settings};

const MIB: usize = 1024 * 1024;

/// Deterministic, non-repeating-looking bytes.
fn data(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

fn chunks(data: &[u8], size: usize) -> Vec<Result<Bytes, BodyError>> {
    data.chunks(size)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect()
}

async fn put(store: &ObjectBlobStore, key: &str, bytes: &[u8]) {
    let mut body = futures::stream::iter(chunks(bytes, 64 * 1024 + 7));
    assert_eq!(store.put(key, &mut body).await.unwrap(), bytes.len() as u64);
}

async fn read_all(store: &ObjectBlobStore, key: &str) -> Vec<u8> {
    let mut reader = store.get(key).await.unwrap();
    let mut out = Vec::with_capacity(reader.size as usize);
    while let Some(chunk) = reader.stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(reader.size, out.len() as u64);
    out
}

/// A raw client on the test bucket, to look behind the adapter.
fn raw(settings: &S3Settings) -> object_store::aws::AmazonS3 {
    AmazonS3Builder::new()
        .with_bucket_name(&settings.bucket)
        .with_endpoint(settings.endpoint.clone().unwrap())
        .with_region(&settings.region)
        .with_access_key_id(settings.access_key_id.clone().unwrap())
        .with_secret_access_key(settings.secret_access_key.clone().unwrap())
        .with_allow_http(true)
        .build()
        .unwrap()
}

fn target(blob_key: &str, filename: &str) -> SignedTarget {
    SignedTarget {
        tenant_id: TenantId(Uuid::now_v7()),
        attachment_id: AttachmentId::new(),
        blob_key: blob_key.into(),
        filename: filename.into(),
        content_type: "application/pdf".into(),
    }
}

/// The query parameter `name` of `url`.
fn query_param(url: &str, name: &str) -> String {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("{name} in {url}"))
        .1
        .into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_aborted_multipart_upload_leaves_nothing() {
    let settings = s3_settings();
    let store = ObjectBlobStore::s3(&settings).unwrap();
    let prefix = Uuid::now_v7().to_string();
    let key = format!("{prefix}/broken");
    // 12 MiB (two full 5 MiB parts sent) and then the client goes away.
    let mut parts = chunks(&data(12 * MIB, 1), 256 * 1024);
    parts.push(Err(BodyError::Interrupted("client went away".into())));
    let mut body = futures::stream::iter(parts);
    let err = store.put(&key, &mut body).await.unwrap_err();
    assert_eq!(
        err,
        BlobError::Body(BodyError::Interrupted("client went away".into()))
    );

    assert_eq!(store.head(&key).await.unwrap(), None);
    assert!(matches!(store.get(&key).await, Err(BlobError::NotFound)));
    let s3 = raw(&settings);
    let listed: Vec<_> = s3
        .list(Some(&Path::from(prefix.as_str())))
        .try_collect()
        .await
        .unwrap();
    assert!(
        listed.is_empty(),
        "objects left under the prefix: {listed:?}"
    );

    // and no multipart upload is left pending (its parts would hold storage)
    assert_eq!(pending_uploads(&s3, &prefix).await, 0);
}

/// Multipart uploads in progress under `prefix`, as the server lists them.
async fn pending_uploads(s3: &object_store::aws::AmazonS3, prefix: &str) -> usize {
    let uploads = s3
        .signed_url_opts(
            Method::GET,
            &Path::from(""),
            Duration::from_secs(60),
            &SignedUrlOptions::new().with_query([("uploads", ""), ("prefix", prefix)]),
        )
        .await
        .unwrap();
    let res = http().get(uploads).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let xml = res.text().await.unwrap();
    assert!(xml.contains("ListMultipartUploadsResult"), "{xml}");
    xml.matches("<Upload>").count()
}

#[tokio::test(flavor = "multi_thread")]
async fn pending_multipart_uploads_are_visible_to_the_check_above() {
    // the control for `an_aborted_multipart_upload_leaves_nothing`: an upload
    // left open is listed, so "none listed" there means none exists
    let s3 = raw(&s3_settings());
    let prefix = Uuid::now_v7().to_string();
    let mut upload = s3
        .put_multipart(&Path::from(format!("{prefix}/open")))
        .await
        .unwrap();
    upload
        .put_part(Bytes::from(data(5 * MIB, 4)).into())
        .await
        .unwrap();
    assert_eq!(pending_uploads(&s3, &prefix).await, 1);
    upload.abort().await.unwrap();
    assert_eq!(pending_uploads(&s3, &prefix).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_30_mib_body_round_trips() {
    let store = ObjectBlobStore::s3(&s3_settings()).unwrap();
    let key = format!("{}/big", Uuid::now_v7());
    let bytes = data(30 * MIB, 2);
    put(&store, &key, &bytes).await;
    assert_eq!(store.head(&key).await.unwrap(), Some(bytes.len() as u64));
    let back = read_all(&store, &key).await;
    assert_eq!(back.len(), bytes.len());
    assert_eq!(Sha256::digest(&back), Sha256::digest(&bytes), "exact bytes");
    store.delete(&key).await.unwrap();
    assert_eq!(store.head(&key).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_presigned_url_downloads_the_exact_bytes() {
    let settings = s3_settings();
    let (store, signer) = bucket();
    let key = format!("{}/{}", Uuid::now_v7(), Uuid::now_v7());
    let bytes = data(MIB + 123, 3);
    put(&store, &key, &bytes).await;

    let asked = OffsetDateTime::now_utc() + time::Duration::minutes(10);
    let signed = signer
        .download_url(&target(&key, "résumé \"final\".pdf"), asked)
        .await
        .unwrap();
    // signed for the host the client uses: the configured endpoint
    let endpoint = settings.endpoint.clone().unwrap();
    assert!(
        signed
            .url
            .starts_with(&format!("{endpoint}/{}/{key}?", settings.bucket)),
        "{}",
        signed.url
    );
    assert!(signed.expires_at <= asked);
    assert!(signed.expires_at > asked - time::Duration::seconds(2));

    let res = http().get(&signed.url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok()),
        Some(
            "attachment; filename=\"r_sum_ _final_.pdf\"; \
             filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf"
        )
    );
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/pdf"),
        "the stored type, not the bucket's default"
    );
    let body = res.bytes().await.unwrap();
    assert_eq!(body.as_ref(), bytes.as_slice());
    store.delete(&key).await.unwrap();
}

/// The bucket cannot add `nosniff` or a sandbox to its answers: a file a
/// browser would render or run is presigned as plain bytes, still a download.
#[tokio::test(flavor = "multi_thread")]
async fn pages_and_scripts_are_presigned_as_plain_bytes() {
    let (store, signer) = bucket();
    let key = format!("{}/page", Uuid::now_v7());
    put(&store, &key, b"<script>alert(document.cookie)</script>").await;
    for (stored, served) in [
        ("text/html", "application/octet-stream"),
        ("image/svg+xml", "application/octet-stream"),
        ("text/javascript", "application/octet-stream"),
        ("text/plain", "text/plain"),
    ] {
        let mut page = target(&key, "page.html");
        page.content_type = stored.into();
        let url = signer
            .download_url(
                &page,
                OffsetDateTime::now_utc() + time::Duration::minutes(10),
            )
            .await
            .unwrap()
            .url;
        let res = http().get(&url).send().await.unwrap();
        assert_eq!(res.status(), 200, "{stored}");
        let header = |name| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("content-type"), served, "{stored}");
        assert!(
            header("content-disposition").starts_with("attachment;"),
            "{stored}"
        );
    }
    store.delete(&key).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_presigned_url_is_refused() {
    let (store, signer) = bucket();
    let prefix = Uuid::now_v7();
    let key = format!("{prefix}/mine");
    let other = format!("{prefix}/other");
    put(&store, &key, b"mine").await;
    put(&store, &other, b"someone else's").await;
    let url = signer
        .download_url(
            &target(&key, "a.txt"),
            OffsetDateTime::now_utc() + time::Duration::minutes(10),
        )
        .await
        .unwrap()
        .url;
    let client = http();
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);

    // one character of the signature changed
    let signature = query_param(&url, "X-Amz-Signature");
    let last = signature.chars().last().unwrap();
    let swapped = if last == '0' { '1' } else { '0' };
    let forged = format!("{}{swapped}", &signature[..signature.len() - 1]);
    let tampered = url.replace(
        &format!("X-Amz-Signature={signature}"),
        &format!("X-Amz-Signature={forged}"),
    );
    assert_ne!(tampered, url);
    assert_eq!(client.get(&tampered).send().await.unwrap().status(), 403);

    // the same signature on another object
    let moved = url.replace(&format!("/{key}?"), &format!("/{other}?"));
    assert_ne!(moved, url);
    assert_eq!(client.get(&moved).send().await.unwrap().status(), 403);

    // a longer life than was signed
    let expires = query_param(&url, "X-Amz-Expires");
    let longer = url.replace(
        &format!("X-Amz-Expires={expires}"),
        &format!("X-Amz-Expires={}", MAX_PRESIGNED_SECS),
    );
    assert_ne!(longer, url);
    assert_eq!(client.get(&longer).send().await.unwrap().status(), 403);

    store.delete(&key).await.unwrap();
    store.delete(&other).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_presigned_url_is_refused() {
    let (store, signer) = bucket();
    let key = format!("{}/soon-gone", Uuid::now_v7());
    put(&store, &key, b"short-lived").await;
    let signed = signer
        .download_url(
            &target(&key, "a.txt"),
            // seconds enough for the first fetch on a loaded machine
            OffsetDateTime::now_utc() + time::Duration::seconds(5),
        )
        .await
        .unwrap();
    let client = http();
    let res = client.get(&signed.url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"short-lived");

    let wait = signed.expires_at - OffsetDateTime::now_utc() + time::Duration::milliseconds(1500);
    tokio::time::sleep(wait.try_into().unwrap_or(Duration::ZERO)).await;
    assert_eq!(client.get(&signed.url).send().await.unwrap().status(), 403);
    store.delete(&key).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn presigned_urls_live_at_most_seven_days() {
    let settings = s3_settings();
    let signer = S3UrlSigner::new(&settings, hmac()).unwrap();
    let now = OffsetDateTime::now_utc();
    let missing = format!("{}/missing", Uuid::now_v7());
    let signed = signer
        .download_url(&target(&missing, "a.txt"), now + time::Duration::days(30))
        .await
        .unwrap();
    assert_eq!(
        query_param(&signed.url, "X-Amz-Expires"),
        MAX_PRESIGNED_SECS.to_string()
    );
    assert!(signed.expires_at <= now + time::Duration::days(7) + time::Duration::seconds(1));
    assert!(signed.expires_at > now + time::Duration::days(7) - time::Duration::seconds(5));
    // the server takes the longest life: the request gets as far as "no such key"
    let res = http().get(&signed.url).send().await.unwrap();
    assert_eq!(res.status(), 404);

    // a time already gone cannot be signed
    let err = signer
        .download_url(&target("k/x", "a.txt"), now - time::Duration::seconds(1))
        .await
        .unwrap_err();
    assert!(matches!(err, SignatureError::Backend(_)), "{err:?}");
}

#[tokio::test]
async fn the_s3_signer_still_verifies_clasp_signed_urls() {
    let settings = s3_settings();
    let signer = S3UrlSigner::new(&settings, hmac()).unwrap();
    let now = OffsetDateTime::now_utc();
    let minted = hmac()
        .download_url(&target("k", "a.txt"), now + time::Duration::hours(1))
        .await
        .unwrap();
    let req = parse_clasp_signed_url(&minted.url).unwrap();
    assert_eq!(signer.verify(&req, now), Ok(()));
    assert_eq!(
        signer.verify(&req, now + time::Duration::hours(2)),
        Err(SignatureError::Expired)
    );
    let mut forged = req.clone();
    forged.attachment_id = AttachmentId::new();
    assert_eq!(signer.verify(&forged, now), Err(SignatureError::Invalid));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_endpoint_fails_within_seconds() {
    // a port nothing listens on
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut settings = s3_settings();
    settings.endpoint = Some(format!("http://127.0.0.1:{port}"));
    let store = ObjectBlobStore::s3(&settings).unwrap();

    let started = Instant::now();
    let err = store.head("x/y").await.unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "head took {took:?}");
    let BlobError::Backend(message) = &err else {
        panic!("expected a backend error, got {err:?}")
    };
    assert!(
        message.contains(&format!("127.0.0.1:{port}")),
        "the error names the endpoint: {message}"
    );
    assert!(
        message.to_lowercase().contains("connect"),
        "the error names the cause: {message}"
    );

    let started = Instant::now();
    let mut body = futures::stream::iter(vec![Ok(Bytes::from_static(b"hello"))]);
    let err = store.put("x/y", &mut body).await.unwrap_err();
    assert!(matches!(err, BlobError::Backend(_)), "{err:?}");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "put took {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_needs_the_endpoint_the_credentials_and_the_bucket() {
    ObjectBlobStore::s3(&s3_settings())
        .unwrap()
        .check_ready()
        .await
        .unwrap();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut unreachable = s3_settings();
    unreachable.endpoint = Some(format!("http://127.0.0.1:{port}"));
    let mut wrong_key = s3_settings();
    wrong_key.secret_access_key = Some("not-the-secret".into());
    let mut no_bucket = s3_settings();
    no_bucket.bucket = format!("missing-{}", Uuid::now_v7());
    for (what, settings) in [
        ("unreachable", unreachable),
        ("wrong key", wrong_key),
        ("no bucket", no_bucket),
    ] {
        let store = ObjectBlobStore::s3(&settings).unwrap();
        assert!(
            matches!(store.check_ready().await, Err(BlobError::Backend(_))),
            "{what}"
        );
    }
}

#[test]
fn storage_urls_name_just_a_bucket() {
    let s = S3Settings::from_url("s3://clasp").unwrap();
    assert_eq!(s.bucket, "clasp");
    assert_eq!(s.region, "us-east-1");
    assert_eq!(s.endpoint, None);
    assert_eq!((s.access_key_id, s.secret_access_key), (None, None));
    assert!(!s.virtual_hosted_style, "path style by default");
    assert!(!s.allow_http);
    assert_eq!(
        S3Settings::from_url("S3://my-bucket.v2/").unwrap().bucket,
        "my-bucket.v2"
    );

    for (url, says) in [
        ("s3://", "no bucket"),
        ("s3:///", "no bucket"),
        ("s3://clasp/attachments", "prefix"),
        ("s3://clasp/attachments/", "prefix"),
        ("s3://key:secret@clasp", "letters, digits"),
        ("s3://clasp:9000", "letters, digits"),
        ("s3://clasp?region=eu", "letters, digits"),
        ("file://clasp", "s3://"),
    ] {
        let err = S3Settings::from_url(url).unwrap_err();
        assert!(matches!(err, StorageError::S3Url { .. }), "{url}: {err:?}");
        assert!(err.to_string().contains(says), "{url}: {err}");
        assert!(err.to_string().contains(url), "{url}: {err}");
    }
    assert!(matches!(
        S3Settings::from_url("clasp").unwrap_err(),
        StorageError::NotAUrl(_)
    ));
    // the generic constructor refuses a prefix the same way
    assert!(matches!(
        ObjectBlobStore::from_url("s3://clasp/attachments").unwrap_err(),
        StorageError::S3Url { .. }
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http_endpoint_allows_http() {
    // a plaintext endpoint set after from_url (as the binary does) just works
    let mut settings = s3_settings();
    settings.allow_http = false;
    assert!(settings.endpoint.as_deref().unwrap().starts_with("http://"));
    let store = ObjectBlobStore::s3(&settings).unwrap();
    assert_eq!(
        store
            .head(&format!("{}/none", Uuid::now_v7()))
            .await
            .unwrap(),
        None
    );
    let mut half = settings;
    half.secret_access_key = None;
    assert!(matches!(
        ObjectBlobStore::s3(&half).unwrap_err(),
        StorageError::S3Settings(_)
    ));
}
