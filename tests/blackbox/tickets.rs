//! The `tickets` dialect end to end, on the embedded defaults.

use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::harness::{PNG, Server, Workdir, client, form, upload_and_sign};

const TICKET: &str = "550e8400-e29b-41d4-a716-446655440000";

#[tokio::test]
async fn upload_list_get_download_delete() {
    let work = Workdir::new();
    let key = work.tenant_with_key(
        "ws-1",
        "attachments:read,attachments:write,attachments:delete",
    );
    let server = Server::start(&work);
    let c = client();
    let base = server.url(&format!("/v1/tickets/{TICKET}/attachments"));

    let res = c
        .post(&base)
        .bearer_auth(&key)
        .multipart(form("file", "screenshot.png", "image/png", PNG.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["ticket_id"], TICKET);
    assert_eq!(created["filename"], "screenshot.png");
    assert_eq!(created["content_type"], "image/png");
    assert_eq!(created["size_bytes"], PNG.len());
    assert!(
        created["uploaded_by_user_id"]
            .as_str()
            .is_some_and(|u| uuid::Uuid::parse_str(u).is_ok())
    );
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));

    let listed: Value = c
        .get(&base)
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());

    let got: Value = c
        .get(format!("{base}/{id}"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got, created);

    let dl: Value = c
        .get(format!("{base}/{id}/download"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let signed = dl["signed_url"].as_str().unwrap().to_owned();
    let expires = time::OffsetDateTime::parse(
        dl["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let ttl = expires - time::OffsetDateTime::now_utc();
    assert!(
        ttl > time::Duration::minutes(59) && ttl <= time::Duration::hours(1),
        "valid for one hour: {ttl}"
    );
    assert!(signed.starts_with(&server.base), "{signed}");

    let file = reqwest::get(&signed).await.unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    let h = file.headers();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["content-length"], PNG.len().to_string().as_str());
    assert_eq!(
        h["content-disposition"],
        "inline; filename=\"screenshot.png\""
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(file.bytes().await.unwrap().as_ref(), PNG);

    let res = c
        .delete(format!("{base}/{id}"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        reqwest::get(&signed).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.get(format!("{base}/{id}"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert!(
        work.blob_files().is_empty(),
        "bytes are gone: {:?}",
        work.blob_files()
    );
}

#[tokio::test]
async fn auth_scopes_revocation_and_tenants() {
    let work = Workdir::new().with_env("CLASP_CREDENTIAL_CACHE_SECS", "1");
    let key = work.tenant_with_key(
        "ws-a",
        "attachments:read,attachments:write,attachments:delete",
    );
    let read_only = work.admin(&[
        "admin",
        "key",
        "create",
        "--tenant",
        "ws-a",
        "--scopes",
        "attachments:read",
    ]);
    let other = work.tenant_with_key(
        "ws-b",
        "attachments:read,attachments:write,attachments:delete",
    );
    let server = Server::start(&work);
    let c = client();
    let base = server.url(&format!("/v1/tickets/{TICKET}/attachments"));

    let res = c.get(&base).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
    assert_eq!(
        c.get(&base)
            .bearer_auth("ixk_not-a-key")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        c.get(&base)
            .header("Authorization", format!("Basic {key}"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );

    let res = c
        .post(&base)
        .bearer_auth(&read_only)
        .multipart(form("file", "a.png", "image/png", PNG.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "insufficient_scope"
    );

    let created: Value = c
        .post(&base)
        .bearer_auth(&key)
        .multipart(form("file", "a.png", "image/png", PNG.to_vec()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        c.delete(format!("{base}/{id}"))
            .bearer_auth(&read_only)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    for path in [format!("{base}/{id}"), format!("{base}/{id}/download")] {
        assert_eq!(
            c.get(&path)
                .bearer_auth(&other)
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        c.delete(format!("{base}/{id}"))
            .bearer_auth(&other)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let theirs: Value = c
        .get(&base)
        .bearer_auth(&other)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(theirs, serde_json::json!([]));
    let elsewhere = server.url(&format!(
        "/v1/tickets/{}/attachments/{id}",
        uuid::Uuid::new_v4()
    ));
    assert_eq!(
        c.get(&elsewhere)
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );

    // revoked while the server runs: `clasp admin` and `clasp serve` share the
    // SQLite file, and the server sees it within `credential_cache_secs`
    let prefix = &read_only[..12];
    let revoked: Value =
        serde_json::from_str(&work.admin(&["admin", "key", "revoke", prefix])).unwrap();
    assert_eq!(revoked["prefix"], prefix);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        c.get(&base)
            .bearer_auth(&read_only)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        c.get(&base)
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn bad_uploads_get_400_and_store_nothing() {
    // made first: in a debug build this takes seconds, long enough for an idle
    // pooled connection to reach the server's keep-alive timeout mid-test
    // text, as declared: UTF-8 without NUL
    let max: Vec<u8> = (0..31_457_280u32).map(|i| b' ' + (i % 95) as u8).collect();
    let digest = Sha256::digest(&max);
    let work = Workdir::new();
    let key = work.tenant_with_key("ws-1", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let c = client();
    let base = server.url(&format!("/v1/tickets/{TICKET}/attachments"));
    let cases = [
        (
            form(
                "file",
                "a.exe",
                "application/x-msdownload",
                b"MZ\x90\0".to_vec(),
            ),
            "invalid_file_type",
        ),
        (
            form(
                "file",
                "fake.png",
                "image/png",
                b"<html><script>alert(1)</script>".to_vec(),
            ),
            "content_type_mismatch",
        ),
        (
            form("upload", "a.png", "image/png", PNG.to_vec()),
            "missing_file",
        ),
    ];
    for (f, code) in cases {
        let res = c
            .post(&base)
            .bearer_auth(&key)
            .multipart(f)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{code}");
        assert_eq!(res.json::<Value>().await.unwrap()["error"], code);
    }
    let res = c
        .post(&base)
        .bearer_auth(&key)
        .body("not multipart")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // 30 MiB + 1 byte: refused while streaming, nothing kept
    let too_big = vec![b'a'; 31_457_281];
    let res = c
        .post(&base)
        .bearer_auth(&key)
        .multipart(form("file", "big.txt", "text/plain", too_big))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "file_too_large"
    );
    assert!(
        work.blob_files().is_empty(),
        "nothing stored: {:?}",
        work.blob_files()
    );
    let listed: Value = c
        .get(&base)
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, serde_json::json!([]));

    // exactly 30 MiB is accepted, byte for byte
    let res = c
        .post(&base)
        .bearer_auth(&key)
        .multipart(form("file", "max.txt", "text/plain", max))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dl: Value = c
        .get(format!("{base}/{id}/download"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let back = reqwest::get(dl["signed_url"].as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(back.len(), 31_457_280);
    assert_eq!(Sha256::digest(&back), digest);
    assert_eq!(work.blob_files().len(), 1);
}

#[tokio::test]
async fn html_and_odd_filenames_are_served_safely() {
    let work = Workdir::new();
    let key = work.tenant_with_key("ws-1", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let c = client();
    let base = server.url(&format!("/v1/tickets/{TICKET}/attachments"));
    for (name, ct, data, disposition, csp) in [
        (
            "page.html",
            "text/html",
            b"<script>alert(1)</script>".to_vec(),
            "attachment; filename=\"page.html\"",
            Some("sandbox"),
        ),
        (
            "../../Überweisung 2025.pdf",
            "application/pdf",
            b"%PDF-1.7\n%%EOF\n".to_vec(),
            "inline; filename=\"_berweisung 2025.pdf\"; filename*=UTF-8''%C3%9Cberweisung%202025.pdf",
            None,
        ),
    ] {
        let created: Value = c
            .post(&base)
            .bearer_auth(&key)
            .multipart(form("file", name, ct, data.clone()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = created["id"].as_str().unwrap();
        let dl: Value = c
            .get(format!("{base}/{id}/download"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let res = reqwest::get(dl["signed_url"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(res.headers()["content-type"], ct);
        assert_eq!(res.headers()["content-disposition"], disposition);
        assert_eq!(
            res.headers()
                .get("content-security-policy")
                .map(|v| v.to_str().unwrap()),
            csp
        );
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert_eq!(res.bytes().await.unwrap().as_ref(), data.as_slice());
    }
}

#[tokio::test]
async fn signed_urls_refuse_other_methods_and_every_tampered_part() {
    let work = Workdir::new();
    let key = work.tenant_with_key("ws-1", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let c = client();
    let mut urls = Vec::new();
    for name in ["a.png", "b.png"] {
        urls.push(upload_and_sign(&server, &key, name, "image/png", PNG).await);
    }
    let (signed, other) = (&urls[0], &urls[1]);

    for method in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        let status = c
            .request(method.clone(), signed)
            .send()
            .await
            .unwrap()
            .status();
        assert!(
            matches!(
                status,
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
            ),
            "{method}: {status}"
        );
    }

    // another attachment's id under this signature, a later expiry, a changed
    // signature, a foreign tenant: all refused
    let id_of = |url: &str| {
        url.split('/')
            .nth(5)
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_owned()
    };
    let tenant_of = |url: &str| url.split('/').nth(4).unwrap().to_owned();
    let signature = signed.rsplit_once("signature=").unwrap().1;
    let flipped = format!(
        "{}{}",
        &signature[..signature.len() - 1],
        if signature.ends_with('A') { 'B' } else { 'A' }
    );
    for tampered in [
        signed.replace(&id_of(signed), &id_of(other)),
        signed.replace("expires=", "expires=1"),
        signed.replace(signature, &flipped),
        signed.replace(&tenant_of(signed), &uuid::Uuid::new_v4().to_string()),
        signed.replace(&format!("&signature={signature}"), ""),
    ] {
        let status = reqwest::get(&tampered).await.unwrap().status();
        assert!(
            matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            "{tampered}: {status}"
        );
    }

    // the refusals changed nothing: the genuine URL still serves the file
    let file = reqwest::get(signed).await.unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(file.bytes().await.unwrap().as_ref(), PNG);
}

/// Seed 001's `uploaded_by_user_id` says which user uploaded: an API key may
/// name the user it uploads for in `X-On-Behalf-Of`; otherwise it is the key's
/// own id.
async fn uploads_on_behalf_of_a_user(work: Workdir) {
    let key = work.tenant_with_key("ws-obo", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let c = client();
    let url = server.url(&format!("/v1/tickets/{TICKET}/attachments"));
    let upload = |user: Option<String>| {
        let mut req = c.post(&url).bearer_auth(&key);
        if let Some(user) = user {
            req = req.header("X-On-Behalf-Of", user);
        }
        req.multipart(form("file", "a.png", "image/png", PNG.to_vec()))
            .send()
    };
    let res = upload(Some("agent-42".into())).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let made: Value = res.json().await.unwrap();
    assert_eq!(made["uploaded_by_user_id"], "agent-42");
    let res = upload(None).await.unwrap();
    let made: Value = res.json().await.unwrap();
    let by = made["uploaded_by_user_id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(by).is_ok(), "the key's id: {by}");
    for bad in [String::new(), "u".repeat(256)] {
        let res = upload(Some(bad)).await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn uploads_on_behalf_of_a_user_on_the_embedded_defaults() {
    uploads_on_behalf_of_a_user(Workdir::new()).await;
}

#[tokio::test]
async fn uploads_on_behalf_of_a_user_on_postgres_and_s3() {
    let database = crate::shared::fresh_postgres_database();
    uploads_on_behalf_of_a_user(crate::shared::on_postgres_and_s3(&database)).await;
}
