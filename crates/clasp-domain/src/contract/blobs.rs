use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::inspect::BodyError;
use crate::ports::{BlobError, BlobStore};

fn chunks(data: &[u8], size: usize) -> Vec<Result<Bytes, BodyError>> {
    data.chunks(size)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect()
}

async fn read_all(store: &dyn BlobStore, key: &str) -> Result<Vec<u8>, BlobError> {
    let mut reader = store.get(key).await?;
    let mut out = Vec::new();
    while let Some(chunk) = reader.stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    assert_eq!(
        reader.size,
        out.len() as u64,
        "reader.size is the object size"
    );
    Ok(out)
}

/// The [`BlobStore`] contract.
pub async fn blob_store(store: &dyn BlobStore) {
    let prefix = Uuid::now_v7();

    // a working store is ready, and checking leaves no object behind
    store.check_ready().await.unwrap();

    // a multi-chunk body round-trips exactly, and head reports its size
    let data: Vec<u8> = (0..5 * 1024 * 1024 + 17)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let key = format!("{prefix}/{}", Uuid::now_v7());
    let mut body = futures::stream::iter(chunks(&data, 64 * 1024 + 3));
    assert_eq!(store.put(&key, &mut body).await.unwrap(), data.len() as u64);
    assert_eq!(store.head(&key).await.unwrap(), Some(data.len() as u64));
    let back = read_all(store, &key).await.unwrap();
    assert_eq!(
        Sha256::digest(&back),
        Sha256::digest(&data),
        "exact bytes back"
    );

    // ranged reads answer exactly the bytes asked for: the start, middles
    // spanning chunks (of a store reading 256 KiB at a time too), the very last byte
    let len = data.len() as u64;
    for range in [0..1, 1000..200_000, 100_000..600_001, len - 1..len, 0..len] {
        let reader = store.get_range(&key, range.clone()).await.unwrap();
        assert_eq!(reader.size, range.end - range.start, "{range:?}");
        let got: Vec<u8> = reader
            .stream
            .try_fold(Vec::new(), |mut acc, chunk| async move {
                acc.extend_from_slice(&chunk);
                Ok(acc)
            })
            .await
            .unwrap();
        let wanted = &data[range.start as usize..range.end as usize];
        assert!(got == wanted, "{range:?}: {} bytes back", got.len());
    }
    assert_eq!(
        store
            .get_range(&format!("{prefix}/missing"), 0..1)
            .await
            .err(),
        Some(BlobError::NotFound)
    );

    // an empty body is a valid, empty object
    let empty = format!("{prefix}/{}", Uuid::now_v7());
    let mut nothing = futures::stream::iter(Vec::<Result<Bytes, BodyError>>::new());
    assert_eq!(store.put(&empty, &mut nothing).await.unwrap(), 0);
    assert_eq!(read_all(store, &empty).await.unwrap(), Vec::<u8>::new());

    // a body that breaks off leaves nothing behind, not even part of it — after
    // more than one 5 MiB part, so multipart uploads are aborted too
    let broken = format!("{prefix}/{}", Uuid::now_v7());
    let mut parts = chunks(&data, 256 * 1024);
    parts.push(Err(BodyError::Interrupted("client went away".into())));
    let mut body = futures::stream::iter(parts);
    let err = store.put(&broken, &mut body).await.unwrap_err();
    assert_eq!(
        err,
        BlobError::Body(BodyError::Interrupted("client went away".into()))
    );
    assert_eq!(store.head(&broken).await.unwrap(), None);
    assert!(matches!(store.get(&broken).await, Err(BlobError::NotFound)));

    // every stored object has an entity tag, which changes with the object
    let first = store.etag(&key).await.unwrap().expect("an entity tag");
    assert!(!first.trim_matches('"').is_empty());
    assert_eq!(
        store.etag(&key).await.unwrap(),
        Some(first.clone()),
        "stable"
    );
    let mut other = futures::stream::iter(chunks(b"another body", 5));
    store.put(&key, &mut other).await.unwrap();
    let second = store.etag(&key).await.unwrap().expect("an entity tag");
    assert_ne!(first, second, "a new object, a new entity tag");
    assert_eq!(store.etag(&broken).await.unwrap(), None);

    // delete is idempotent and final
    store.delete(&key).await.unwrap();
    store.delete(&key).await.unwrap();
    assert_eq!(store.head(&key).await.unwrap(), None);
    assert!(matches!(store.get(&key).await, Err(BlobError::NotFound)));
    assert_eq!(store.etag(&key).await.unwrap(), None);
    store.delete(&empty).await.unwrap();
}
