//! A tenant's own upload policy on the built binary, on the embedded defaults
//! and on PostgreSQL with S3. A host allows Office files and csv for one
//! tenant over the admin API: a real `.docx` and `.xlsx` (written by
//! python-docx and openpyxl, as products make them) and a `.csv` are accepted
//! there in the tickets, chat and workspaces dialects, and refused for a
//! tenant on the instance's list and when their bytes are something else; a
//! direct upload begun before the tenant's list changed is refused at its
//! confirm.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::admin::admin;
use crate::harness::{
    HELPER_TICKET, PNG, Server, Workdir, client, form, put_to, required, stdout_of, workspace_post,
};
use crate::shared::{fresh_postgres_database, on_postgres_and_s3};

const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const CSV: &[u8] = b"ticket,total\nT-1,42\n";

/// A `.docx` and a large `.xlsx` as python-docx and openpyxl write them
/// (openpyxl puts `[Content_Types].xml` last, far past the bytes sniffed).
fn office_files(work: &Workdir) -> (Vec<u8>, Vec<u8>) {
    let python = required("CLASP_TEST_OPENAPI_PYTHON");
    let (docx, xlsx) = (work.path().join("a.docx"), work.path().join("a.xlsx"));
    let script = "import sys, docx, openpyxl\n\
        d = docx.Document()\n\
        d.add_paragraph('Invoice 42')\n\
        d.save(sys.argv[1])\n\
        wb = openpyxl.Workbook()\n\
        for i in range(5000): wb.active.append([i, 'row %d' % i])\n\
        wb.save(sys.argv[2])\n";
    stdout_of(
        std::process::Command::new(python)
            .args(["-c", script])
            .arg(&docx)
            .arg(&xlsx),
    );
    (std::fs::read(docx).unwrap(), std::fs::read(xlsx).unwrap())
}

/// A tickets upload of `data` as `name` of type `ty` with `key`.
async fn ticket(
    server: &Server,
    key: &str,
    name: &str,
    ty: &str,
    data: &[u8],
) -> (StatusCode, Value) {
    let res = client()
        .post(server.url(&format!("/v1/tickets/{HELPER_TICKET}/attachments")))
        .bearer_auth(key)
        .multipart(form("file", name, ty, data.to_vec()))
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

/// A chat upload of `data` with the session `cookie`: its status.
async fn chat(server: &Server, cookie: &str, name: &str, ty: &str, data: &[u8]) -> StatusCode {
    client()
        .post(server.url("/api/v1/messages/9/attachments"))
        .header("Cookie", format!("clasp_session={cookie}"))
        .multipart(form("files", name, ty, data.to_vec()))
        .send()
        .await
        .unwrap()
        .status()
}

/// A tenant `slug` with a key and a chat session: (key, cookie).
async fn tenant(server: &Server, slug: &str) -> (String, String) {
    let (status, _) = admin(server, "POST", "/tenants", Some(json!({ "slug": slug }))).await;
    assert_eq!(status, StatusCode::CREATED);
    let scopes = json!({ "scopes": ["attachments:read", "attachments:write"] });
    let (_, key) = admin(
        server,
        "POST",
        &format!("/tenants/{slug}/keys"),
        Some(scopes),
    )
    .await;
    let user = json!({ "user_id": "u1" });
    let (_, session) = admin(
        server,
        "POST",
        &format!("/tenants/{slug}/sessions"),
        Some(user),
    )
    .await;
    (
        key["key"].as_str().unwrap().to_owned(),
        session["cookie"].as_str().unwrap().to_owned(),
    )
}

async fn office_policy(work: Workdir) {
    let (docx, xlsx) = office_files(&work);
    assert!(
        xlsx.len() > 64 * 1024,
        "a sheet larger than the bytes sniffed"
    );
    let server = Server::start(&work);
    let (office_key, office_cookie) = tenant(&server, "office").await;
    let (plain_key, plain_cookie) = tenant(&server, "plain").await;

    // the policy: refused when unchecked or out of bounds, kept when right
    let path = "/tenants/office/policy";
    for bad in [
        json!({ "allowed_types": ["application/x-custom"] }),
        json!({ "allowed_types": ["png"] }),
        json!({ "allowed_types": [] }),
        json!({ "max_upload_bytes": 0 }),
        json!({ "allowed_types": ["text/csv"], "surprise": 1 }),
    ] {
        let (status, body) = admin(&server, "PUT", path, Some(bad.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} -> {body}");
    }
    let (status, got) = admin(&server, "GET", path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        got,
        json!({ "allowed_types": null, "max_upload_bytes": null, "trust_declared_types": false })
    );
    let own = json!({
        "allowed_types": [DOCX, XLSX, "text/csv", "image/png"],
        "max_upload_bytes": 10 * 1024 * 1024,
    });
    let (status, set) = admin(&server, "PUT", path, Some(own)).await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set["allowed_types"][2], "text/csv");
    let (_, detail) = admin(&server, "GET", "/tenants/office", None).await;
    assert_eq!(detail["policy"], set, "the tenant shows its policy");
    let (_, unknown) = admin(&server, "GET", "/tenants/nobody/policy", None).await;
    assert_eq!(unknown["error"], "not_found");

    // tickets: the office tenant's files, not the plain one's, and no disguise
    for (name, ty, data) in [("a.docx", DOCX, &docx), ("a.xlsx", XLSX, &xlsx)] {
        let (status, body) = ticket(&server, &office_key, name, ty, data).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        assert_eq!(body["content_type"], ty);
        let (status, body) = ticket(&server, &plain_key, name, ty, data).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name} for plain");
        assert_eq!(body["error"], "invalid_file_type", "{body}");
    }
    let (status, _) = ticket(&server, &office_key, "t.csv", "text/csv", CSV).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = ticket(&server, &plain_key, "t.csv", "text/csv", CSV).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = ticket(&server, &office_key, "a.txt", "text/plain", b"hi").await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "text/plain is not on office's list"
    );
    for (name, ty, disguised) in [
        ("fake.docx", DOCX, PNG.to_vec()),
        ("sheet.docx", DOCX, xlsx.clone()),
        ("fake.xlsx", XLSX, b"ticket,total\n".repeat(100)),
        ("bin.csv", "text/csv", b"a,b\n\x00\x01\x02".to_vec()),
    ] {
        let (status, body) = ticket(&server, &office_key, name, ty, &disguised).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {body}");
    }

    // chat: the same rules for the tenant's end users
    assert_eq!(
        chat(&server, &office_cookie, "a.docx", DOCX, &docx).await,
        StatusCode::OK
    );
    assert_ne!(
        chat(&server, &plain_cookie, "a.docx", DOCX, &docx).await,
        StatusCode::OK
    );
    assert_ne!(
        chat(&server, &office_cookie, "a.docx", DOCX, PNG).await,
        StatusCode::OK
    );

    // workspaces: the upload URL follows the tenant's list and size
    let begin = |name: &str, ty: &str, size: usize| json!({ "filename": name, "contentType": ty, "size": size });
    let url_path = format!("/tickets/{HELPER_TICKET}/attachments/upload-url");
    let (status, _) = workspace_post(
        &server,
        &plain_key,
        "plain",
        &url_path,
        begin("t.csv", "text/csv", CSV.len()),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "csv is not on the instance's list"
    );
    let too_big = begin("t.csv", "text/csv", 10 * 1024 * 1024 + 1);
    let (status, _) = workspace_post(&server, &office_key, "office", &url_path, too_big).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "larger than office's largest file"
    );
    let (status, begun) = workspace_post(
        &server,
        &office_key,
        "office",
        &url_path,
        begin("t.csv", "text/csv", CSV.len()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{begun}");
    let stored = put_to(&begun, CSV.to_vec()).await;
    assert!(stored.status().is_success());

    // the host takes csv off the list before the client confirms
    let fewer = json!({ "allowed_types": [DOCX, XLSX] });
    let (status, _) = admin(&server, "PUT", path, Some(fewer)).await;
    assert_eq!(status, StatusCode::OK);
    let id = begun["attachmentId"].as_str().unwrap();
    let (status, refused) = workspace_post(
        &server,
        &office_key,
        "office",
        &format!("/attachments/{id}/confirm"),
        json!({}),
    )
    .await;
    assert!(status.is_client_error(), "{status} {refused}");
    assert!(refused.to_string().contains("text/csv"), "{refused}");
    let (status, _) = ticket(&server, &office_key, "t.csv", "text/csv", CSV).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "and no new csv either");

    // back to the instance's rules
    let (status, _) = admin(&server, "PUT", path, Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = ticket(&server, &office_key, "a.docx", DOCX, &docx).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = ticket(&server, &office_key, "a.txt", "text/plain", b"hi").await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_tenant_accepts_the_office_files_its_policy_allows_on_the_embedded_defaults() {
    office_policy(Workdir::new()).await;
}

#[tokio::test]
async fn a_tenant_accepts_the_office_files_its_policy_allows_on_postgres_and_s3() {
    office_policy(on_postgres_and_s3(&fresh_postgres_database())).await;
}
