//! The multipart upload handler (tickets dialect), through the real app over
//! the in-memory adapters: the fuzzer's bytes are the body of a
//! `multipart/form-data` request with a fixed boundary. Never a hang, a 5xx or
//! a panic; a refusal is the dialect's JSON error and leaves no bytes behind; a
//! 201's attachment reads back with the same metadata, its download has exactly
//! `size_bytes` bytes whose SHA-256 is its entity tag, its filename is
//! sanitised, and deleting it removes its bytes.
#![no_main]

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentDisposition};
use actix_web::test;
use clasp_domain::validation::sanitize_filename;
use clasp_fuzz::{Harness, MAX_BYTES, with_harness};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sha2::{Digest, Sha256};

const BOUNDARY: &str = "XclaspBoundaryX";
const TICKET: &str = "550e8400-e29b-41d4-a716-446655440000";

fn get(h: &Harness, uri: &str) -> test::TestRequest {
    test::TestRequest::get()
        .uri(uri)
        .insert_header(("Authorization", format!("Bearer {}", h.key)))
}

fuzz_target!(|data: &[u8]| {
    let body = data.to_vec();
    with_harness(
        |_| async {},
        |h| async move {
            let base = format!("/v1/tickets/{TICKET}/attachments");
            let req = test::TestRequest::post()
                .uri(&base)
                .insert_header(("Authorization", format!("Bearer {}", h.key)))
                .insert_header((
                    "Content-Type",
                    format!("multipart/form-data; boundary={BOUNDARY}"),
                ))
                .set_payload(body)
                .to_request();
            let before = h.mem.blobs.len();
            // No input may hang, not even a body that ends inside a part
            // (docs/reliability.md, fuzzing finding 2): an in-memory upload
            // answers in milliseconds, so 2 s without an answer is a hang.
            let res = actix_rt::time::timeout(
                std::time::Duration::from_secs(2),
                test::call_service(&h.app, req),
            )
            .await
            .expect("the request hung");
            let status = res.status();
            let answer: Value = test::read_body_json(res).await;
            assert!(!status.is_server_error(), "{status}: {answer}");
            if status != StatusCode::CREATED {
                assert!(
                    matches!(
                        status,
                        StatusCode::BAD_REQUEST
                            | StatusCode::PAYLOAD_TOO_LARGE
                            | StatusCode::UNSUPPORTED_MEDIA_TYPE
                            | StatusCode::UNPROCESSABLE_ENTITY
                    ),
                    "{status}: {answer}"
                );
                assert!(answer["error"].is_string(), "{answer}");
                assert!(answer["message"].is_string(), "{answer}");
                assert_eq!(
                    h.mem.blobs.len(),
                    before,
                    "a refused upload left bytes: {answer}"
                );
                return;
            }

            let id = answer["id"].as_str().expect("id").to_owned();
            let size = answer["size_bytes"].as_u64().expect("size");
            let filename = answer["filename"].as_str().expect("filename");
            assert!(size <= MAX_BYTES, "{size} bytes over the limit");
            assert_eq!(
                sanitize_filename(filename),
                filename,
                "unsanitised {filename:?}"
            );
            assert_eq!(answer["ticket_id"], TICKET);
            assert_eq!(h.mem.blobs.len(), before + 1, "one stored object");

            let item = format!("{base}/{id}");
            let got: Value =
                test::call_and_read_body_json(&h.app, get(h, &item).to_request()).await;
            assert_eq!(got, answer, "metadata read back differs");

            let link: Value = test::call_and_read_body_json(
                &h.app,
                get(h, &format!("{item}/download")).to_request(),
            )
            .await;
            let url = link["signed_url"].as_str().expect("signed_url");
            let path = url.strip_prefix("http://localhost").expect("own URL");
            let res =
                test::call_service(&h.app, test::TestRequest::get().uri(path).to_request()).await;
            assert_eq!(res.status(), StatusCode::OK);
            let etag = res
                .headers()
                .get(header::ETAG)
                .and_then(|v| v.to_str().ok())
                .expect("etag")
                .trim_matches('"')
                .to_owned();
            let disposition = res
                .headers()
                .get(header::CONTENT_DISPOSITION)
                .expect("content-disposition");
            ContentDisposition::from_raw(disposition).expect("disposition parses");
            let bytes = test::read_body(res).await;
            assert_eq!(bytes.len() as u64, size, "stored size differs");
            assert_eq!(
                hex::encode(Sha256::digest(&bytes)),
                etag,
                "stored bytes differ"
            );

            let res = test::call_service(
                &h.app,
                test::TestRequest::delete()
                    .uri(&item)
                    .insert_header(("Authorization", format!("Bearer {}", h.key)))
                    .to_request(),
            )
            .await;
            assert_eq!(res.status(), StatusCode::NO_CONTENT);
            assert_eq!(h.mem.blobs.len(), before, "deleting left bytes");
        },
    );
});
