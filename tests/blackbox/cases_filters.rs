//! Seed 002: "Filter results by supported (string based) file fields, such as
//! kind, fileFormat, etc." Every string field of the cases attachment object
//! filters the listing, on the embedded defaults and on PostgreSQL with S3.

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::harness::{Server, Workdir, client};
use crate::shared::{fresh_postgres_database, on_postgres_and_s3};

const CASE: &str = "0b8f5a4e-6a4d-4d43-9c1e-1f0b2a3c4d5e";

async fn filters(work: Workdir) {
    let key = work.tenant_with_key("cases-f", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let c = client();
    let mut saved = Vec::new();
    for (name, description, locale) in [
        ("Q3 report.pdf", "quarterly", "de_DE"),
        ("minutes.txt", "weekly", "en_US"),
    ] {
        let data = if name.ends_with(".pdf") {
            b"%PDF-1.4\n%%EOF\n".to_vec()
        } else {
            b"minutes\n".to_vec()
        };
        let ty = if name.ends_with(".pdf") {
            "application/pdf"
        } else {
            "text/plain"
        };
        let file = Part::bytes(data).file_name(name).mime_str(ty).unwrap();
        let form = Form::new()
            .text("caseId", CASE)
            .text("description", description)
            .text("templateLocale", locale)
            .part("file", file);
        let res = c
            .post(server.url("/api-public/1.0/save_file"))
            .bearer_auth(&key)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        saved.push(res.json::<Value>().await.unwrap());
    }
    let report = &saved[0];
    let names = |page: Value| -> Vec<String> {
        page["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let encode = |v: &str| v.replace(' ', "%20").replace('/', "%2F");
    let field = |f: &str| report[f].as_str().unwrap().to_owned();
    for (filter, value, expected) in [
        ("nameWithoutExtension", "Q3 report".to_owned(), 1),
        ("description", "quarterly".to_owned(), 1),
        ("locale", "de_DE".to_owned(), 1),
        ("sha256", field("sha256"), 1),
        ("id", field("id"), 1),
        ("objectId", field("objectId"), 1),
        ("encoding", "binary".to_owned(), 2),
        ("encoding", "base64".to_owned(), 0),
        ("objectId", format!("someone-else/{}", field("id")), 0),
        ("kind", "text".to_owned(), 1),
    ] {
        let query = format!("/api-public/1.0/attachments?{filter}={}", encode(&value));
        let res = c
            .get(server.url(&query))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{filter}");
        let found = names(res.json().await.unwrap());
        assert_eq!(found.len(), expected, "{filter}={value}: {found:?}");
        if expected == 1 && filter != "kind" {
            assert_eq!(found, ["Q3 report.pdf"], "{filter}");
        }
    }
}

#[tokio::test]
async fn every_string_field_filters_on_the_embedded_defaults() {
    filters(Workdir::new()).await;
}

#[tokio::test]
async fn every_string_field_filters_on_postgres_and_s3() {
    filters(on_postgres_and_s3(&fresh_postgres_database())).await;
}
