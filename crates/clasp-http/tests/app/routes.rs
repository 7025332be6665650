//! The route table: what it registers is what it documents, each operation
//! with a unique, dialect-prefixed id, and the signed-URL paths are the ones
//! the domain's signer writes.

use std::collections::BTreeSet;

use clasp_http::{Dialect, RouteTable};
use serde_json::Value;

fn table() -> RouteTable {
    RouteTable::new().unwrap()
}

/// `(method, path)` of every operation of the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flatten()
                .filter(|(_, op)| op.get("operationId").is_some())
                .map(move |(method, _)| (method.clone(), path.clone()))
        })
        .collect()
}

#[test]
fn every_route_is_documented_or_says_why_not() {
    let table = table();
    let doc = serde_json::to_value(table.document()).unwrap();
    let documented = documented(&doc);
    let registered: BTreeSet<_> = table
        .routes()
        .filter(|r| r.undocumented.is_none())
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    assert_eq!(
        registered, documented,
        "registered and documented routes differ"
    );
    for r in table.routes().filter(|r| r.undocumented.is_some()) {
        assert!(
            !documented.contains(&(r.method.clone(), r.path.clone())),
            "{r:?} is documented after all"
        );
    }
    let undocumented: Vec<_> = table
        .routes()
        .filter(|r| r.undocumented.is_some())
        .map(|r| r.path.as_str())
        .collect();
    assert_eq!(
        undocumented,
        [
            "/openapi.json",
            "/docs",
            "/docs/docs.js",
            "/docs/swagger-ui.css",
            "/docs/swagger-ui-bundle.js"
        ],
        "only the document and its page are no API operations"
    );
}

#[test]
fn operation_ids_are_unique_and_name_their_dialect() {
    let doc = serde_json::to_value(table().document()).unwrap();
    let mut seen = BTreeSet::new();
    let labels = [
        "tickets",
        "workspaces",
        "cases",
        "chat",
        "redirect",
        "tus",
        "signed",
        "ops",
    ];
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let Some(id) = op["operationId"].as_str() else {
                continue;
            };
            assert!(seen.insert(id.to_owned()), "{id} ({method} {path}) twice");
            assert!(
                labels.iter().any(|l| id.starts_with(&format!("{l}_"))),
                "{id} names no dialect"
            );
        }
    }
    assert!(seen.contains("tickets_download_url"), "{seen:?}");
    assert!(seen.contains("cases_download"), "{seen:?}");
}

#[test]
fn the_document_has_a_tag_per_dialect_and_the_security_schemes() {
    let doc = serde_json::to_value(table().document()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let tags: Vec<_> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(
        tags,
        [
            "tickets",
            "workspaces",
            "cases",
            "chat",
            "redirect",
            "tus",
            "clasp"
        ]
    );
    for scheme in ["bearer", "workspace", "session"] {
        assert!(
            doc["components"]["securitySchemes"][scheme].is_object(),
            "{scheme}"
        );
    }
}

#[test]
fn signed_urls_are_served_where_the_signer_points() {
    let table = table();
    let signed: BTreeSet<_> = table
        .routes()
        .filter(|r| r.dialect == Dialect::Signed)
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    let download = format!(
        "{}/{{tenant}}/{{attachment}}",
        clasp_domain::signed_url::SIGNED_PATH_PREFIX
    );
    let upload = format!(
        "{}/{{tenant}}/{{attachment}}",
        clasp_domain::signed_url::SIGNED_UPLOAD_PATH_PREFIX
    );
    assert_eq!(
        signed,
        BTreeSet::from([
            ("get", download.as_str()),
            ("put", upload.as_str()),
            ("post", upload.as_str())
        ])
    );
}
