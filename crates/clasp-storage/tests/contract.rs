//! The blob and signer contract suites against the real adapters: a real
//! directory, memory, and a real S3 server (SeaweedFS, see `common`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is how a test fails"
)]

use std::sync::Arc;

use bytes::Bytes;
use clasp_domain::contract;
use clasp_domain::inspect::BodyError;
use clasp_domain::ports::{BlobError, BlobStore, SignatureError, SignedTarget, UrlSigner};
use clasp_domain::{AttachmentId, TenantId};
use clasp_storage::{HmacSigner, ObjectBlobStore, StorageError, load_or_create_secret};
use futures::StreamExt;
use object_store::memory::InMemory;

mod common;

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn local_directory_keeps_the_blob_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectBlobStore::from_url(&format!("file://{}", dir.path().display())).unwrap();
    contract::blob_store(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_keeps_the_blob_contract() {
    contract::blob_store(&ObjectBlobStore::new(Arc::new(InMemory::new()))).await;
    contract::blob_store(&ObjectBlobStore::from_url("memory://").unwrap()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_keeps_the_blob_contract() {
    contract::blob_store(&ObjectBlobStore::s3(&common::s3_settings()).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_upload_leaves_no_file_in_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectBlobStore::local(dir.path().to_str().unwrap()).unwrap();
    for size in [1024usize, 12 * 1024 * 1024] {
        let mut parts: Vec<Result<Bytes, BodyError>> = (0..size / 1024)
            .map(|_| Ok(Bytes::from(vec![7u8; 1024])))
            .collect();
        parts.push(Err(BodyError::Interrupted("gone".into())));
        let mut body = futures::stream::iter(parts);
        assert!(store.put("t/broken", &mut body).await.is_err());
        assert_eq!(
            files_under(dir.path()),
            Vec::<std::path::PathBuf>::new(),
            "{size} bytes"
        );
    }
}

/// Uploads to a directory share a budget of part memory, so an upload's parts
/// change size as others start and end (docs/performance.md, "Memory"): the
/// bytes must come out whole and in order whatever sizes they were cut in.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_local_uploads_cut_in_parts_of_changing_sizes_keep_every_byte() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(ObjectBlobStore::local(dir.path().to_str().unwrap()).unwrap());
    let uploads = (0..12u8).map(|n| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let size = 3 * 1024 * 1024 + usize::from(n) * 70_001;
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8 ^ n).collect();
            // Odd chunk sizes, so parts never end on a chunk's end.
            let chunks: Vec<Result<Bytes, BodyError>> = data
                .chunks(40_000 + usize::from(n) * 1_013)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let key = format!("t/upload-{n}");
            let mut body = futures::stream::iter(chunks);
            assert_eq!(store.put(&key, &mut body).await.unwrap(), size as u64);
            (key, data)
        })
    });
    for upload in futures::future::join_all(uploads).await {
        let (key, data) = upload.unwrap();
        let mut read = Vec::new();
        let mut stream = store.get(&key).await.unwrap().stream;
        while let Some(chunk) = stream.next().await {
            read.extend_from_slice(&chunk.unwrap());
        }
        assert!(read == data, "{key} came back changed");
    }
    assert_eq!(
        files_under(dir.path()).len(),
        12,
        "no staged part left behind"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_local_file_cut_short_while_read_is_an_error_not_a_short_body() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectBlobStore::local(dir.path().to_str().unwrap()).unwrap();
    let mut body = futures::stream::iter(vec![Ok(Bytes::from(vec![1u8; 1024 * 1024]))]);
    store.put("t/cut", &mut body).await.unwrap();
    let reader = store.get("t/cut").await.unwrap();
    assert_eq!(reader.size, 1024 * 1024);
    let file = files_under(dir.path()).pop().unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(300 * 1024)
        .unwrap();
    let chunks: Vec<_> = reader.stream.collect().await;
    let read: usize = chunks.iter().flatten().map(Bytes::len).sum();
    assert!(read < 1024 * 1024, "{read} bytes");
    assert!(
        matches!(chunks.last(), Some(Err(BlobError::Backend(m))) if m.contains("early")),
        "{:?}",
        chunks.last().map(|c| c.as_ref().map(Bytes::len))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_directory_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b/blobs");
    let store = ObjectBlobStore::from_url(&format!("file://{}", nested.display())).unwrap();
    let mut body = futures::stream::iter(vec![Ok(Bytes::from_static(b"hi"))]);
    assert_eq!(store.put("t/x", &mut body).await.unwrap(), 2);
    assert_eq!(std::fs::read(nested.join("t/x")).unwrap(), b"hi");
}

#[test]
fn unknown_storage_schemes_are_named_in_the_error() {
    let err = ObjectBlobStore::from_url("ftp://host/x").unwrap_err();
    assert!(matches!(err, StorageError::UnsupportedScheme { .. }));
    assert!(err.to_string().contains("\"ftp\""), "{err}");
    assert!(matches!(
        ObjectBlobStore::from_url("/just/a/path").unwrap_err(),
        StorageError::NotAUrl(_)
    ));
}

#[tokio::test]
async fn hmac_signer_keeps_the_signer_contract() {
    let signer = HmacSigner::new(&[42u8; 32], "http://127.0.0.1:1/").unwrap();
    contract::url_signer(&signer).await;
}

#[tokio::test]
async fn hmac_signer_keeps_the_upload_signer_contract() {
    let signer = HmacSigner::new(&[42u8; 32], "http://127.0.0.1:1/").unwrap();
    contract::upload_signer(&signer).await;
    contract::signer_keeps_uploads_apart(&signer).await;
}

/// A download of some attachment of some tenant.
fn download_target() -> SignedTarget {
    SignedTarget {
        tenant_id: TenantId(uuid::Uuid::now_v7()),
        attachment_id: AttachmentId::new(),
        blob_key: "k".into(),
        filename: "f".into(),
        content_type: "image/png".into(),
    }
}

const SECRET: &[u8; 32] = b"0123456789abcdef0123456789abcdef";

/// Two instances sharing `SECRET` at different addresses, and one with a
/// secret of its own.
fn three_instances() -> [HmacSigner; 3] {
    [
        (SECRET, "http://a"),
        (SECRET, "http://b"),
        (b"0123456789abcdef0123456789abcdeX", "http://a"),
    ]
    .map(|(secret, base)| HmacSigner::new(secret, base).unwrap())
}

#[tokio::test]
async fn instances_sharing_a_secret_honour_each_others_upload_urls() {
    use clasp_domain::ports::{UploadSigner, UploadTarget};
    use clasp_domain::signed_url::parse_clasp_signed_upload_url;
    let [a, b, other] = three_instances();
    let target = UploadTarget {
        tenant_id: TenantId(uuid::Uuid::now_v7()),
        attachment_id: AttachmentId::new(),
        blob_key: "k".into(),
        size: 10,
        content_type: "image/png".into(),
    };
    let now = time::OffsetDateTime::now_utc();
    let url = a
        .upload_url(&target, now + time::Duration::minutes(15))
        .await
        .unwrap();
    assert!(
        url.url.starts_with("http://a/signed-upload/"),
        "{}",
        url.url
    );
    assert_eq!(url.method, "PUT");
    assert_eq!(
        url.headers,
        vec![("Content-Type".to_owned(), "image/png".to_owned())]
    );
    let req = parse_clasp_signed_upload_url(&url.url).unwrap();
    assert_eq!(b.verify_upload(&req, now), Ok(()));
    assert_eq!(other.verify_upload(&req, now), Err(SignatureError::Invalid));
}

#[tokio::test]
async fn instances_sharing_a_secret_honour_each_others_urls() {
    let [a, b, other] = three_instances();
    let target = download_target();
    let now = time::OffsetDateTime::now_utc();
    let url = a
        .download_url(&target, now + time::Duration::hours(1))
        .await
        .unwrap();
    assert!(url.url.starts_with("http://a/signed/"));
    let req = clasp_domain::signed_url::parse_clasp_signed_url(&url.url).unwrap();
    assert_eq!(b.verify(&req, now), Ok(()));
    assert_eq!(other.verify(&req, now), Err(SignatureError::Invalid));
    // a forged URL is "invalid" even after its time is up
    assert_eq!(
        other.verify(&req, now + time::Duration::hours(2)),
        Err(SignatureError::Invalid)
    );
}

#[tokio::test]
async fn a_rotated_secret_still_verifies_the_urls_it_signed() {
    let (old, new) = (SECRET, b"fedcba9876543210fedcba9876543210");
    let before = HmacSigner::new(old, "http://a").unwrap();
    let rotated = HmacSigner::new(new, "http://a")
        .unwrap()
        .with_previous(&[old])
        .unwrap();
    let forgotten = HmacSigner::new(new, "http://a").unwrap();
    let target = download_target();
    let now = time::OffsetDateTime::now_utc();
    let later = now + time::Duration::hours(1);
    let parse = |url: &str| clasp_domain::signed_url::parse_clasp_signed_url(url).unwrap();
    let old_url = parse(&before.download_url(&target, later).await.unwrap().url);
    let new_url = parse(&rotated.download_url(&target, later).await.unwrap().url);
    assert_eq!(
        rotated.verify(&old_url, now),
        Ok(()),
        "signed before the rotation"
    );
    assert_eq!(rotated.verify(&new_url, now), Ok(()), "signed after it");
    assert_eq!(before.verify(&new_url, now), Err(SignatureError::Invalid));
    assert_eq!(
        forgotten.verify(&old_url, now),
        Err(SignatureError::Invalid)
    );
    assert!(
        old_url.signature.contains('.'),
        "names its key: {}",
        old_url.signature
    );
    let (id, mac) = old_url.signature.split_once('.').unwrap();
    let legacy = clasp_domain::ports::SignedRequest {
        signature: mac.to_owned(),
        ..old_url.clone()
    };
    assert_eq!(
        rotated.verify(&legacy, now),
        Ok(()),
        "a URL that names no key"
    );
    let misnamed = clasp_domain::ports::SignedRequest {
        signature: format!("{}.{mac}", new_url.signature.split_once('.').unwrap().0),
        ..old_url.clone()
    };
    assert_ne!(id, new_url.signature.split_once('.').unwrap().0);
    assert_eq!(rotated.verify(&misnamed, now), Err(SignatureError::Invalid));
    assert!(
        HmacSigner::new(new, "http://a")
            .unwrap()
            .with_previous(&[b"short"])
            .is_err()
    );
}

#[test]
fn short_secrets_are_refused() {
    assert!(matches!(
        HmacSigner::new(&[1u8; 31], "http://x").unwrap_err(),
        StorageError::ShortSecret { min: 32, got: 31 }
    ));
}

#[test]
fn the_generated_secret_is_private_and_stable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/signing.key");
    let first = load_or_create_secret(&path).unwrap();
    assert!(first.len() >= 32);
    assert_eq!(load_or_create_secret(&path).unwrap(), first);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    std::fs::write(&path, "short").unwrap();
    assert!(matches!(
        load_or_create_secret(&path).unwrap_err(),
        StorageError::ShortSecret { .. }
    ));
}

/// Parts an upload staged before the process died (`KEY#N` beside the object,
/// found by name, not by listing the directory) go when the object is
/// deleted; other objects' files stay.
#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_local_object_removes_the_parts_its_upload_staged() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectBlobStore::local(dir.path().to_str().unwrap()).unwrap();
    let tenant = dir.path().join("t");
    std::fs::create_dir_all(&tenant).unwrap();
    for name in ["a#1", "a#3", "a#16", "ab#1", "b"] {
        std::fs::write(tenant.join(name), b"partial").unwrap();
    }
    store.delete("t/a").await.unwrap();
    let mut left: Vec<String> = files_under(dir.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["ab#1", "b"]);
    store.delete("t/missing").await.unwrap();
    store.delete("nowhere/at-all").await.unwrap();
}
