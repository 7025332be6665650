//! The `cases` dialect end to end, on the embedded defaults.

use std::collections::HashSet;

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::harness::{PNG, Server, Workdir, client};

const CASE: &str = "6f9619ff-8b86-d011-b42d-00c04fc964ff";
const OTHER_CASE: &str = "0b7e7dee-87ac-4b4b-8b3c-2d9a3f7ac1aa";
const ALL_SCOPES: &str = "attachments:read,attachments:write,attachments:delete";

fn file_part(name: &str, content_type: &str, data: Vec<u8>) -> Part {
    Part::bytes(data)
        .file_name(name.to_owned())
        .mime_str(content_type)
        .unwrap()
}

/// A save_file form: caseId, tags, then the file last.
fn save_form(case: &str, name: &str, content_type: &str, data: Vec<u8>, tags: &[&str]) -> Form {
    let mut form = Form::new().text("caseId", case.to_owned());
    for tag in tags {
        form = form.text("bulkTags[]", (*tag).to_owned());
    }
    form.part("file", file_part(name, content_type, data))
}

struct Cases {
    server: Server,
    key: String,
    c: reqwest::Client,
}

impl Cases {
    fn url(&self, path: &str) -> String {
        self.server.url(&format!("/api-public/1.0{path}"))
    }

    async fn save(&self, form: Form) -> reqwest::Response {
        self.c
            .post(self.url("/save_file"))
            .bearer_auth(&self.key)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.c
            .get(self.url(path_and_query))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap()
    }

    async fn list(&self, query: &str) -> Value {
        let res = self.get(&format!("/attachments?{query}")).await;
        assert_eq!(res.status(), StatusCode::OK, "{query}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body["count"].as_u64().unwrap() as usize,
            body["records"].as_array().unwrap().len(),
            "count is the page's"
        );
        body
    }
}

fn start(work: &Workdir) -> Cases {
    let key = work.tenant_with_key("cases-1", ALL_SCOPES);
    Cases {
        server: Server::start(work),
        key,
        c: client(),
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn save_file_with_every_field_retrieve_and_download_raw() {
    let work = Workdir::new();
    let cases = start(&work);
    let form = Form::new()
        .text("caseId", CASE.to_uppercase())
        .text("description", "Photo of the dent")
        .text("templateLocale", "fr_CA")
        .text("bulkTags[]", "tag-1")
        .text("bulkTags[]", "tag-2")
        .part(
            "file",
            file_part("dent.photo.PNG", "image/png", PNG.to_vec()),
        );
    let res = cases.save(form).await;
    assert_eq!(res.status(), StatusCode::OK);
    let saved: Value = res.json().await.unwrap();
    let id = saved["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    assert_eq!(saved["name"], "dent.photo.PNG");
    assert_eq!(saved["nameWithoutExtension"], "dent.photo");
    assert_eq!(saved["encoding"], "binary");
    assert_eq!(saved["mimeType"], "image/png");
    assert!(saved["objectId"].as_str().unwrap().ends_with(&id));
    assert_eq!(saved["sizeBytes"], PNG.len());
    assert_eq!(saved["kind"], "image");
    assert_eq!(saved["fileFormat"], "png");
    assert_eq!(saved["caseId"], CASE, "canonical lowercase");
    assert_eq!(saved["description"], "Photo of the dent");
    assert_eq!(saved["tags"], serde_json::json!(["tag-1", "tag-2"]));
    assert_eq!(saved["locale"], "fr_CA");
    assert!(saved["createdDate"].as_str().unwrap().ends_with('Z'));

    let got: Value = cases
        .get(&format!("/attachment/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got, saved, "retrieve answers what save_file did");

    let raw = cases.get(&format!("/attachment/{id}/attachment")).await;
    assert_eq!(raw.status(), StatusCode::OK);
    let h = raw.headers();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["content-length"], PNG.len().to_string().as_str());
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(
        h["content-disposition"],
        "inline; filename=\"dent.photo.PNG\""
    );
    assert_eq!(raw.bytes().await.unwrap().as_ref(), PNG, "byte-identical");

    // HTML is never rendered in place
    let html = b"<html><script>alert(1)</script></html>".to_vec();
    let res = cases
        .save(save_form(CASE, "x.html", "text/html", html.clone(), &[]))
        .await;
    let saved: Value = res.json().await.unwrap();
    assert_eq!(saved["locale"], "en_US", "the default locale");
    assert_eq!(saved["tags"], serde_json::json!([]));
    let raw = cases
        .get(&format!(
            "/attachment/{}/attachment",
            saved["id"].as_str().unwrap()
        ))
        .await;
    assert!(
        raw.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(raw.headers()["content-security-policy"], "sandbox");
    assert_eq!(raw.bytes().await.unwrap().as_ref(), html.as_slice());
}

#[tokio::test]
async fn paging_visits_each_attachment_once_in_every_order() {
    let work = Workdir::new();
    let cases = start(&work);
    // 25 attachments, five names and five sizes: every sort field has ties.
    let mut all = HashSet::new();
    for i in 0..25 {
        let name = format!("doc-{}.txt", i % 5);
        let data = vec![b'a'; 10 + (i * 7) % 5];
        let res = cases
            .save(save_form(CASE, &name, "text/plain", data, &[]))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let saved: Value = res.json().await.unwrap();
        all.insert(saved["id"].as_str().unwrap().to_owned());
    }
    for sort in [
        "createdDate",
        "updatedDate",
        "name",
        "sizeBytes",
        "mimeType",
        "kind",
        "fileFormat",
        "nameWithoutExtension",
        "caseId",
        "locale",
        "sha256",
        "id",
        "objectId",
    ] {
        for order in ["asc", "desc"] {
            let bound = if order == "asc" { "after" } else { "before" };
            let mut seen = Vec::new();
            let mut values = Vec::new();
            let mut query = format!("limit=10&sort={sort}&order={order}");
            loop {
                let page = cases.list(&query).await;
                let records = page["records"].as_array().unwrap().clone();
                if records.is_empty() {
                    break;
                }
                assert!(records.len() <= 10);
                let last = records.last().unwrap();
                let value = match &last[sort] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                values.extend(records.iter().map(|r| r[sort].clone()));
                seen.extend(ids(&page));
                let cursor = format!("{value},{}", last["id"].as_str().unwrap());
                query = format!(
                    "limit=10&sort={sort}&order={order}&{bound}={}",
                    urlencode(&cursor)
                );
            }
            assert_eq!(seen.len(), 25, "{sort} {order}: {seen:?}");
            assert_eq!(
                seen.iter().cloned().collect::<HashSet<_>>(),
                all,
                "{sort} {order}: each exactly once"
            );
            let sorted = values.windows(2).all(|w| {
                let le = match (&w[0], &w[1]) {
                    (Value::Number(a), Value::Number(b)) => a.as_u64() <= b.as_u64(),
                    (Value::String(a), Value::String(b)) => a <= b,
                    _ => false,
                };
                let ge = match (&w[0], &w[1]) {
                    (Value::Number(a), Value::Number(b)) => a.as_u64() >= b.as_u64(),
                    (Value::String(a), Value::String(b)) => a >= b,
                    _ => false,
                };
                if order == "asc" { le } else { ge }
            });
            assert!(sorted, "{sort} {order} in order: {values:?}");
        }
    }
    // A cursor without a tie-breaker skips every record with that value.
    let page = cases.list("sort=name&after=doc-3.txt&limit=100").await;
    let names: Vec<&str> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["doc-4.txt"; 5]);
    // The default page size is 50, the records all of this tenant's.
    assert_eq!(cases.list("").await["count"], 25);
}

/// Percent-encodes a query value.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn fields_and_filters() {
    let work = Workdir::new();
    let cases = start(&work);
    let png = cases
        .save(save_form(
            CASE,
            "shot.png",
            "image/png",
            PNG.to_vec(),
            &["evidence"],
        ))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let txt = cases
        .save(save_form(
            OTHER_CASE,
            "notes.txt",
            "text/plain",
            b"hello".to_vec(),
            &["draft", "evidence"],
        ))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let pdf_bytes = b"%PDF-1.4\n%%EOF\n".to_vec();
    let pdf = cases
        .save(save_form(
            CASE,
            "Report.PDF",
            "application/pdf",
            pdf_bytes,
            &[],
        ))
        .await
        .json::<Value>()
        .await
        .unwrap();
    // another tenant's attachment never shows
    let other_key = work.tenant_with_key("cases-2", ALL_SCOPES);
    let res = cases
        .c
        .post(cases.url("/save_file"))
        .bearer_auth(&other_key)
        .multipart(save_form(
            CASE,
            "shot.png",
            "image/png",
            PNG.to_vec(),
            &["evidence"],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let foreign: Value = res.json().await.unwrap();

    let page = cases.list("fields=id,name").await;
    assert_eq!(page["count"], 3);
    for r in page["records"].as_array().unwrap() {
        let keys: HashSet<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, HashSet::from(["id", "name"]));
    }

    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    let cases_of = [
        (format!("caseId={CASE}"), vec![id(&png), id(&pdf)]),
        (
            format!("caseId={}", CASE.to_uppercase()),
            vec![id(&png), id(&pdf)],
        ),
        (format!("caseId={OTHER_CASE}"), vec![id(&txt)]),
        ("mimeType=image%2Fpng".into(), vec![id(&png)]),
        ("kind=application".into(), vec![id(&pdf)]),
        ("kind=text".into(), vec![id(&txt)]),
        ("fileFormat=pdf".into(), vec![id(&pdf)]),
        ("name=notes.txt".into(), vec![id(&txt)]),
        ("tag=evidence".into(), vec![id(&png), id(&txt)]),
        ("tag=draft".into(), vec![id(&txt)]),
        ("tag=none".into(), vec![]),
        (format!("tag=evidence&caseId={CASE}"), vec![id(&png)]),
    ];
    for (query, expected) in cases_of {
        let page = cases.list(&query).await;
        assert_eq!(ids(&page), expected, "{query}");
        assert!(!ids(&page).contains(&id(&foreign)));
    }
}

#[tokio::test]
async fn bad_parameters_and_forms_are_400_naming_them() {
    let work = Workdir::new().with_env("CLASP_MAX_UPLOAD_BYTES", "1000");
    let cases = start(&work);
    let bad_queries = [
        ("limit=0", "limit"),
        ("limit=ten", "limit"),
        ("limit=5&limit=6", "limit"),
        ("sort=size", "sort"),
        ("order=sideways", "order"),
        ("after=yesterday", "after"),
        ("sort=createdDate&before=2026-01-01", "before"),
        ("sort=sizeBytes&after=-1", "after"),
        ("sort=sizeBytes&before=12,not-an-id", "before"),
        ("fields=id,secret", "fields"),
        ("caseId=not-a-uuid", "caseId"),
        ("colour=red", "colour"),
        // more than 16 filters
        (&format!("{}tag=t", "tag=t&".repeat(16)), "query"),
    ];
    for (query, parameter) in bad_queries {
        let res = cases.get(&format!("/attachments?{query}")).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{query}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], 400);
        assert_eq!(body["code"], "invalidParameter", "{query}");
        assert_eq!(body["parameter"], parameter, "{query}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    let file = || file_part("a.txt", "text/plain", b"abc".to_vec());
    let bad_forms = [
        (Form::new().part("file", file()), "missingField", "caseId"),
        (Form::new().text("caseId", CASE), "missingField", "file"),
        (
            Form::new().part("file", file()).text("caseId", CASE),
            "missingField",
            "caseId",
        ),
        (
            Form::new()
                .text("caseId", CASE)
                .part("file", file())
                .text("description", "late"),
            "fileNotLast",
            "file",
        ),
        (
            Form::new().text("caseId", "case-7").part("file", file()),
            "invalidField",
            "caseId",
        ),
        (
            Form::new()
                .text("caseId", CASE)
                .part("file", file_part("big.txt", "text/plain", vec![b'x'; 1001])),
            "fileTooLarge",
            "file",
        ),
        (
            Form::new().text("caseId", CASE).part(
                "file",
                file_part("a.exe", "application/x-msdownload", b"MZ".to_vec()),
            ),
            "invalidFileType",
            "file",
        ),
    ];
    for (form, code, parameter) in bad_forms {
        let res = cases.save(form).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{code} {parameter}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], code);
        assert_eq!(body["parameter"], parameter, "{code}");
    }
    assert_eq!(
        cases.list("").await["count"],
        0,
        "no refused upload is listed"
    );
    assert!(work.blob_files().is_empty(), "nor kept");
}

#[tokio::test]
async fn auth_scopes_and_tenants() {
    let work = Workdir::new();
    let cases = start(&work);
    let read_only = work.admin(&[
        "admin",
        "key",
        "create",
        "--tenant",
        "cases-1",
        "--scopes",
        "attachments:read",
    ]);
    let stranger = work.tenant_with_key("cases-2", ALL_SCOPES);
    let saved: Value = cases
        .save(save_form(CASE, "a.txt", "text/plain", b"abc".to_vec(), &[]))
        .await
        .json()
        .await
        .unwrap();
    let id = saved["id"].as_str().unwrap();

    // no key, a bad key: 401 with a challenge
    for key in [None, Some("ixk_nope")] {
        let mut req = cases.c.get(cases.url("/attachments"));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "unauthorized");
        assert_eq!(body["status"], 401);
    }

    // a read-only key reads, and is refused save_file before its body is read
    let res = cases
        .c
        .get(cases.url(&format!("/attachment/{id}")))
        .bearer_auth(&read_only)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = cases
        .c
        .post(cases.url("/save_file"))
        .bearer_auth(&read_only)
        .multipart(save_form(CASE, "b.txt", "text/plain", b"abc".to_vec(), &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "forbidden");

    // another tenant, an unknown id, a malformed id: 404 alike
    for (key, path) in [
        (&stranger, format!("/attachment/{id}")),
        (&stranger, format!("/attachment/{id}/attachment")),
        (&cases.key, format!("/attachment/{}", uuid::Uuid::now_v7())),
        (&cases.key, "/attachment/42/attachment".to_owned()),
    ] {
        let res = cases
            .c
            .get(cases.url(&path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(res.json::<Value>().await.unwrap()["code"], "notFound");
    }
    let theirs: Value = cases
        .c
        .get(cases.url("/attachments"))
        .bearer_auth(&stranger)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["count"], 0);
}

/// Seed 002: "Limit the number of records to return with limit". A limit
/// above the maximum is taken as the maximum, not refused, and the cache-buster
/// `_` that browsers' clients add is ignored.
async fn large_limits_are_clamped(work: Workdir) {
    let cases = start(&work);
    for i in 0..3 {
        let form = save_form(CASE, &format!("{i}.txt"), "text/plain", b"x".to_vec(), &[]);
        assert_eq!(cases.save(form).await.status(), StatusCode::OK);
    }
    let page = cases.list("limit=100000&_=1733300000000").await;
    assert_eq!(page["count"], 3);
    let page = cases.list("limit=2").await;
    assert_eq!(page["count"], 2);
}

#[tokio::test]
async fn large_limits_are_clamped_on_the_embedded_defaults() {
    large_limits_are_clamped(Workdir::new()).await;
}

#[tokio::test]
async fn large_limits_are_clamped_on_postgres_and_s3() {
    let database = crate::shared::fresh_postgres_database();
    large_limits_are_clamped(crate::shared::on_postgres_and_s3(&database)).await;
}
