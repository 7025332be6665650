//! The `cases` listing's query-string parser, through the real app: any query
//! string gets 200 or the dialect's 400 naming a parameter, never a 5xx. A 200
//! means every parameter was known and given once (filters aside), the limit
//! was a whole number of at least 1 (taken as `MAX_LIMIT` above it), at most
//! that many records came back, and they are in the order asked for. The
//! domain's own validation is held to the same limit rule.
#![no_main]

use actix_web::http::{StatusCode, Uri};
use actix_web::{test, web};
use bytes::Bytes;
use clasp_domain::Subject;
use clasp_domain::listing::{DEFAULT_LIMIT, ListRequest, MAX_LIMIT};
use clasp_domain::services::NewUpload;
use clasp_fuzz::{Harness, with_harness};
use libfuzzer_sys::fuzz_target;
use percent_encoding::{AsciiSet, CONTROLS, percent_encode};
use serde_json::Value;

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

/// Bytes a request target cannot carry as they are.
const NOT_IN_QUERY: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'[')
    .add(b']');

const KNOWN: [&str; 20] = [
    "_",
    "limit",
    "after",
    "before",
    "sort",
    "order",
    "fields",
    "caseId",
    "mimeType",
    "kind",
    "fileFormat",
    "name",
    "tag",
    "id",
    "nameWithoutExtension",
    "description",
    "locale",
    "sha256",
    "objectId",
    "encoding",
];
const FILTERS: [&str; 13] = [
    "caseId",
    "mimeType",
    "kind",
    "fileFormat",
    "name",
    "tag",
    "id",
    "nameWithoutExtension",
    "description",
    "locale",
    "sha256",
    "objectId",
    "encoding",
];

/// The page size a valid `limit` asks for: its number, at most `MAX_LIMIT`.
fn page_size(raw: &str) -> Option<usize> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let asked = raw.parse::<usize>().unwrap_or(usize::MAX);
    (asked >= 1).then_some(asked.min(MAX_LIMIT))
}

/// A few ready attachments of the tenant, so pages have records to order.
async fn seed(h: &'static Harness) {
    let p = h
        .services
        .identities
        .authenticate_api_key(&h.key)
        .await
        .expect("key");
    for (i, name) in ["b.png", "a.png", "c d.png", "a.png"].iter().enumerate() {
        let mut body = PNG.to_vec();
        body.extend(std::iter::repeat_n(0, i));
        let stream = Box::pin(futures::stream::iter([Ok(Bytes::from(body))]));
        h.services
            .attachments
            .upload(
                &p,
                NewUpload {
                    subject: Subject {
                        case_id: Some(format!("00000000-0000-0000-0000-00000000000{}", i % 2)),
                        ..Subject::default()
                    },
                    filename: (*name).to_owned(),
                    content_type: Some("image/png".into()),
                    ..NewUpload::default()
                },
                stream,
            )
            .await
            .expect("seeded");
    }
}

fuzz_target!(|data: &[u8]| {
    // The domain's limit rule on its own.
    let raw_limit = String::from_utf8_lossy(data);
    if let Ok(q) = (ListRequest {
        limit: Some(&raw_limit),
        ..ListRequest::default()
    })
    .validate()
    {
        assert!(
            (1..=MAX_LIMIT).contains(&q.limit),
            "{raw_limit:?} -> {}",
            q.limit
        );
        assert_eq!(page_size(&raw_limit), Some(q.limit));
    }

    let query = percent_encode(data, NOT_IN_QUERY).to_string();
    let uri = format!("/api-public/1.0/attachments?{query}");
    if uri.parse::<Uri>().is_err() {
        return;
    }
    with_harness(seed, |h| async move {
        let req = test::TestRequest::get()
            .uri(&uri)
            .insert_header(("Authorization", format!("Bearer {}", h.key)))
            .to_request();
        let res = test::call_service(&h.app, req).await;
        let status = res.status();
        let body: Value = test::read_body_json(res).await;
        let pairs =
            web::Query::<Vec<(String, String)>>::from_query(&query).map(web::Query::into_inner);
        match status {
            StatusCode::BAD_REQUEST => {
                assert_eq!(body["status"], 400, "{body}");
                assert!(body["code"].is_string(), "{body}");
                assert!(body["parameter"].is_string(), "no parameter named: {body}");
            }
            StatusCode::OK => {
                let pairs = pairs.expect("a 200 for an unreadable query string");
                let mut seen = Vec::new();
                for (name, _) in &pairs {
                    assert!(KNOWN.contains(&name.as_str()), "{name:?} accepted in {uri}");
                    if !FILTERS.contains(&name.as_str()) {
                        assert!(!seen.contains(name), "{name:?} twice accepted in {uri}");
                        seen.push(name.clone());
                    }
                }
                let param = |n: &str| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
                let limit = match param("limit") {
                    Some(v) => page_size(v).unwrap_or_else(|| panic!("limit {v:?} accepted")),
                    None => DEFAULT_LIMIT,
                };
                let records = body["records"].as_array().expect("records");
                assert_eq!(body["count"], records.len(), "{body}");
                assert!(
                    records.len() <= limit,
                    "{} records over limit {limit}",
                    records.len()
                );
                if param("fields").is_none() {
                    let key = match param("sort") {
                        Some("name") => "name",
                        Some("sizeBytes") => "sizeBytes",
                        _ => "createdDate",
                    };
                    let desc = param("order").is_some_and(|o| o.eq_ignore_ascii_case("desc"));
                    let keys: Vec<(String, String)> = records
                        .iter()
                        .map(|r| {
                            let v = &r[key];
                            let v = v.as_u64().map_or_else(
                                || v.as_str().unwrap_or_default().to_owned(),
                                |n| format!("{n:020}"),
                            );
                            (v, r["id"].as_str().unwrap_or_default().to_owned())
                        })
                        .collect();
                    let mut sorted = keys.clone();
                    sorted.sort();
                    if desc {
                        sorted.reverse();
                    }
                    if key != "createdDate" {
                        assert_eq!(keys, sorted, "out of order for {uri}");
                    }
                }
            }
            other => panic!("{other} for {uri}: {body}"),
        }
    });
});
