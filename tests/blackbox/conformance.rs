//! HTTP conformance of downloads on the built binary: byte ranges, entity tags,
//! conditional requests and `HEAD`, as browsers and caches use them.

use reqwest::StatusCode;

use crate::harness::{Server, Workdir, client, upload_and_sign};

#[tokio::test]
async fn ranges_entity_tags_and_head_on_a_streamed_download() {
    let work = Workdir::new();
    let key = work.tenant_with_key("ws-1", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let data: Vec<u8> = (0..3_000_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let url = upload_and_sign(&server, &key, "notes.txt", "text/plain", &data).await;
    let c = client();

    let whole = c.get(&url).send().await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    let etag = whole.headers()["etag"].to_str().unwrap().to_owned();
    assert!(
        etag.starts_with('"') && etag.len() == 66,
        "strong SHA-256 tag: {etag}"
    );
    assert_eq!(whole.bytes().await.unwrap().as_ref(), data.as_slice());

    for (range, start, end) in [
        ("bytes=0-99", 0, 100),
        ("bytes=1000000-1999999", 1_000_000, 2_000_000),
        ("bytes=2999000-", 2_999_000, 3_000_000),
        ("bytes=-10", 2_999_990, 3_000_000),
    ] {
        let res = c.get(&url).header("Range", range).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            res.headers()["content-range"],
            format!("bytes {start}-{}/3000000", end - 1).as_str()
        );
        assert_eq!(
            res.headers()["content-length"],
            (end - start).to_string().as_str()
        );
        assert_eq!(res.headers()["etag"], etag.as_str());
        assert!(
            res.bytes().await.unwrap().as_ref() == &data[start..end],
            "{range}: exact bytes"
        );
    }

    let res = c
        .get(&url)
        .header("Range", "bytes=3000000-")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(res.headers()["content-range"], "bytes */3000000");

    // If-Range with the current tag honours the range; with another, all bytes
    let res = c
        .get(&url)
        .header("Range", "bytes=0-9")
        .header("If-Range", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    let res = c
        .get(&url)
        .header("Range", "bytes=0-9")
        .header("If-Range", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().len(), data.len());

    // a current copy is not sent again
    let res = c
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(res.headers()["etag"], etag.as_str());
    assert!(res.bytes().await.unwrap().is_empty());

    // HEAD: the same headers, no body
    let res = c.head(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-length"], "3000000");
    assert_eq!(res.headers()["etag"], etag.as_str());
    assert_eq!(res.headers()["content-type"], "text/plain");
    assert!(res.bytes().await.unwrap().is_empty());
    let res = c
        .head(&url)
        .header("Range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.headers()["content-length"], "10");

    // the connection stays usable after HEAD (no stray body bytes on the wire)
    let res = c
        .get(&url)
        .header("Range", "bytes=0-2")
        .send()
        .await
        .unwrap();
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"abc");
}
