//! The OpenAPI document at `/openapi.json` and its page at `/docs`, on the built
//! binary: every endpoint of the five seed documents is in it, with the security
//! its dialect asks for; an independent validator accepts it and a standard
//! generator makes a client of it that builds; and the page loads nothing from
//! elsewhere.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{Server, Workdir, client, required};

/// Every endpoint of the seeds, as the seed writes it and as the document does.
const SEED_ENDPOINTS: [(&str, &str, &str, &str); 20] = [
    // seed 000, workspaces: `:workspaceId` style parameters.
    (
        "workspaces",
        "GET",
        "/v1/workspaces/:workspaceId/attachments/:attachmentId/download",
        "/v1/workspaces/{workspace_id}/attachments/{attachment_id}/download",
    ),
    (
        "workspaces",
        "GET",
        "/v1/workspaces/:workspaceId/messages/:messageId/attachments",
        "/v1/workspaces/{workspace_id}/messages/{message_id}/attachments",
    ),
    (
        "workspaces",
        "GET",
        "/v1/workspaces/:workspaceId/tickets/:ticketId/attachments",
        "/v1/workspaces/{workspace_id}/tickets/{ticket_id}/attachments",
    ),
    (
        "workspaces",
        "POST",
        "/v1/workspaces/:workspaceId/tickets/:ticketId/attachments/upload-url",
        "/v1/workspaces/{workspace_id}/tickets/{ticket_id}/attachments/upload-url",
    ),
    (
        "workspaces",
        "POST",
        "/v1/workspaces/:workspaceId/attachments/:attachmentId/confirm",
        "/v1/workspaces/{workspace_id}/attachments/{attachment_id}/confirm",
    ),
    (
        "workspaces",
        "DELETE",
        "/v1/workspaces/:workspaceId/attachments/:attachmentId",
        "/v1/workspaces/{workspace_id}/attachments/{attachment_id}",
    ),
    // seed 001, tickets.
    (
        "tickets",
        "GET",
        "/v1/tickets/{ticket_id}/attachments",
        "/v1/tickets/{ticket_id}/attachments",
    ),
    (
        "tickets",
        "GET",
        "/v1/tickets/{ticket_id}/attachments/{id}",
        "/v1/tickets/{ticket_id}/attachments/{id}",
    ),
    (
        "tickets",
        "GET",
        "/v1/tickets/{ticket_id}/attachments/{id}/download",
        "/v1/tickets/{ticket_id}/attachments/{id}/download",
    ),
    (
        "tickets",
        "POST",
        "/v1/tickets/{ticket_id}/attachments",
        "/v1/tickets/{ticket_id}/attachments",
    ),
    (
        "tickets",
        "DELETE",
        "/v1/tickets/{ticket_id}/attachments/{id}",
        "/v1/tickets/{ticket_id}/attachments/{id}",
    ),
    // seed 002, cases.
    (
        "cases",
        "POST",
        "/api-public/1.0/save_file",
        "/api-public/1.0/save_file",
    ),
    (
        "cases",
        "GET",
        "/api-public/1.0/attachments",
        "/api-public/1.0/attachments",
    ),
    (
        "cases",
        "GET",
        "/api-public/1.0/attachment/:id/attachment",
        "/api-public/1.0/attachment/{id}/attachment",
    ),
    (
        "cases",
        "GET",
        "/api-public/1.0/attachment/{id}",
        "/api-public/1.0/attachment/{id}",
    ),
    // seed 003, chat: `${…}` style parameters.
    (
        "chat",
        "GET",
        "/api/v1/attachments/${attachmentId}/${attachmentFileName}",
        "/api/v1/attachments/{attachmentId}/{attachmentFileName}",
    ),
    (
        "chat",
        "GET",
        "/api/v1/attachments/${attachmentId}",
        "/api/v1/attachments/{attachmentId}",
    ),
    (
        "chat",
        "POST",
        "/api/v1/messages/{messageId}/attachments",
        "/api/v1/messages/{messageId}/attachments",
    ),
    (
        "chat",
        "DELETE",
        "/api/v1/attachments/${attachmentId}",
        "/api/v1/attachments/{attachmentId}",
    ),
    // seed 004, redirect.
    (
        "redirect",
        "GET",
        "/api/v1/attachments/{id}/download",
        "/api/v1/attachments/{attachmentId}/download",
    ),
];

/// The security scheme names each dialect's operations must accept.
fn scheme_of(dialect: &str) -> &'static str {
    match dialect {
        "chat" => "session",
        _ => "bearer",
    }
}

/// A concrete path for a template: every parameter gets a value of its type
/// that names nothing.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|seg| match seg {
            "{attachmentId}" | "{messageId}" => "987654321",
            "{attachmentFileName}" => "a.txt",
            "{workspace_id}" => "ws-nobody",
            s if s.starts_with('{') => "00000000-0000-4000-8000-000000000000",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `GET path`, which must answer 200 with a `Content-Type` of `media_type`.
async fn get_typed(
    c: &reqwest::Client,
    server: &Server,
    path: &str,
    media_type: &str,
) -> reqwest::Response {
    let res = c.get(server.url(path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    let content_type = res.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with(media_type),
        "{path}: {content_type}"
    );
    res
}

#[tokio::test]
async fn the_document_lists_every_seed_endpoint_with_its_security_and_the_server_answers_it() {
    let work = Workdir::new();
    let server = Server::start(&work);
    let c = client();

    let doc: Value = get_typed(&c, &server, "/openapi.json", "application/json")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );

    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["workspace"]["type"], "apiKey");
    assert_eq!(schemes["workspace"]["in"], "header");
    assert_eq!(schemes["workspace"]["name"], "x-workspace-id");
    assert_eq!(schemes["session"]["type"], "apiKey");
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], "clasp_session");

    for (dialect, method, seed_path, path) in SEED_ENDPOINTS {
        let op = &doc["paths"][path][method.to_ascii_lowercase()];
        assert!(
            op.is_object(),
            "{method} {seed_path} (as {path}) is not documented"
        );
        let tags: Vec<_> = op["tags"].as_array().unwrap().iter().collect();
        assert!(
            tags.iter().any(|t| *t == dialect),
            "{method} {path}: tags {tags:?}"
        );
        let security = op["security"].as_array().unwrap();
        assert!(
            security.iter().any(|s| s.get(scheme_of(dialect)).is_some()),
            "{method} {path}: security {security:?}"
        );
        if dialect == "workspaces" {
            assert!(
                security
                    .iter()
                    .any(|s| s.get("bearer").is_some() && s.get("workspace").is_some()),
                "{method} {path}: security {security:?}"
            );
        }
        let error = &op["responses"]["401"]["content"]["application/json"]["schema"];
        assert!(error.is_object(), "{method} {path}: no 401 body");

        // The server has that route, and its answer without credentials is
        // the documented 401.
        let url = server.url(&concrete(path));
        let res = c
            .request(method.parse().unwrap(), &url)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {url}");
    }

    let download = &doc["paths"]["/api-public/1.0/attachment/{id}/attachment"]["get"]["responses"];
    for status in ["200", "206", "304", "416"] {
        assert!(download[status].is_object(), "raw download: no {status}");
    }
    assert!(download["200"]["content"]["*/*"].is_object());
    let redirect = &doc["paths"]["/api/v1/attachments/{attachmentId}/download"]["get"]["responses"];
    assert!(redirect["307"]["headers"]["Location"].is_object());
    assert!(redirect["503"].is_object());
    // Step 2 of the workspaces upload flow, the URL upload-url answers.
    let put = &doc["paths"]["/signed-upload/{tenant}/{attachment}"]["put"];
    assert!(put["responses"]["200"]["headers"]["ETag"].is_object());
}

#[tokio::test]
async fn the_docs_page_loads_only_what_clasp_serves() {
    let work = Workdir::new();
    let server = Server::start(&work);
    let c = client();

    let html = get_typed(&c, &server, "/docs", "text/html")
        .await
        .text()
        .await
        .unwrap();
    let assets: Vec<&str> = ["src=\"", "href=\""]
        .iter()
        .flat_map(|attr| html.split(attr).skip(1))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(assets.len() >= 3, "{html}");
    for asset in assets {
        assert!(
            asset.starts_with('/') && !asset.starts_with("//"),
            "{asset} is not a local asset"
        );
        let res = c.get(server.url(asset)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{asset}");
        let body = res.text().await.unwrap();
        assert!(!body.is_empty(), "{asset}");
        if asset.ends_with("docs.js") {
            assert!(body.contains("\"/openapi.json\""), "{body}");
            assert!(body.contains("validatorUrl: null"), "{body}");
        }
    }
}

/// `program` with `args` in `work`; panics with its output unless it succeeded.
fn run(program: &str, args: &[&str], work: &Workdir) -> String {
    let out = Command::new(program)
        .args(args)
        .env("NO_COLOR", "1")
        .env("PYTHONPATH", work.path().join("client"))
        .current_dir(work.path())
        .output()
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
    text
}

#[tokio::test]
async fn an_independent_validator_accepts_the_document_and_a_generated_client_builds() {
    let work = Workdir::new();
    let server = Server::start(&work);
    let document = client()
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    std::fs::write(work.path().join("openapi.json"), document).unwrap();
    tokio::task::spawn_blocking(move || {
        let validator = required("CLASP_TEST_OPENAPI_SPEC_VALIDATOR");
        let said = run(&validator, &["openapi.json"], &work);
        assert!(said.contains("openapi.json: OK"), "{said}");

        let generator = required("CLASP_TEST_OPENAPI_PYTHON_CLIENT");
        run(
            &generator,
            &[
                "generate",
                "--path",
                "openapi.json",
                "--output-path",
                "client",
            ],
            &work,
        );
        // Every module of the generated package imports, and each dialect's
        // operations are functions of their own (no clashing names).
        let python = required("CLASP_TEST_OPENAPI_PYTHON");
        let said = run(
            &python,
            &[
                "-c",
                "import importlib, pkgutil, clasp_client\n\
                 mods = [m.name for m in pkgutil.walk_packages(clasp_client.__path__, 'clasp_client.')]\n\
                 [importlib.import_module(m) for m in mods]\n\
                 from clasp_client.api.tickets import tickets_download_url\n\
                 from clasp_client.api.cases import cases_download\n\
                 from clasp_client.api.redirect import redirect_download\n\
                 print(len(mods), 'modules')",
            ],
            &work,
        );
        assert!(said.contains("modules"), "{said}");
    })
    .await
    .unwrap();
}
