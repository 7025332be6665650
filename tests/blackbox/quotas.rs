//! Per-tenant quotas end to end: set with `clasp admin quota set`, every
//! dialect's upload refused past them in its own error shape (the workspaces
//! dialect at upload-url, before any byte exists), nothing of a refused upload
//! left visible or stored, and usage exact under concurrent uploads and deletes —
//! on the embedded defaults and on PostgreSQL with S3 presigned uploads.

use futures::future::join_all;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::harness::{HELPER_TICKET, Server, Workdir, client};
use crate::shared::{fresh_postgres_database, on_postgres_and_s3};

const SLUG: &str = "quota-ws";

/// Uploads tried at once against a quota admitting [`ADMITTED`] of them.
const CONCURRENT: usize = 20;
const ADMITTED: usize = 7;

fn quota(work: &Workdir, args: &[&str]) -> Value {
    let mut all = vec!["admin", "quota"];
    all.extend_from_slice(args);
    serde_json::from_str(&work.admin(&all)).unwrap()
}

fn usage(work: &Workdir) -> (u64, u64) {
    let q = quota(work, &["show", "--tenant", SLUG]);
    (
        q["used_bytes"].as_u64().unwrap(),
        q["used_attachments"].as_u64().unwrap(),
    )
}

fn text_part(field_name: &str, n: usize) -> Form {
    let part = Part::bytes(vec![b'q'; n])
        .file_name("q.txt")
        .mime_str("text/plain")
        .unwrap();
    Form::new().part(field_name.to_owned(), part)
}

async fn tickets_upload(server: &Server, key: &str, n: usize) -> (StatusCode, Value) {
    let res = client()
        .post(server.url(&format!("/v1/tickets/{HELPER_TICKET}/attachments")))
        .bearer_auth(key)
        .multipart(text_part("file", n))
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap())
}

async fn upload_url(server: &Server, key: &str, size: u64) -> (StatusCode, Value) {
    let res = client()
        .post(server.url(&format!(
            "/v1/workspaces/{SLUG}/tickets/{HELPER_TICKET}/attachments/upload-url"
        )))
        .bearer_auth(key)
        .header("x-workspace-id", SLUG)
        .json(&json!({"filename": "d.txt", "contentType": "text/plain", "size": size}))
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_dialect_refuses_past_the_quota_in_its_own_shape() {
    let work = Workdir::new();
    let key = work.tenant_with_key(
        SLUG,
        "attachments:read,attachments:write,attachments:delete",
    );
    let session = work.admin(&[
        "admin", "session", "create", "--tenant", SLUG, "--user", "u-1",
    ]);
    // unlimited by default
    let shown = quota(&work, &["show", "--tenant", SLUG]);
    assert_eq!(shown["max_bytes"], Value::Null);
    assert_eq!(shown["max_attachments"], Value::Null);
    let set = quota(&work, &["set", "--tenant", SLUG, "--max-bytes", "1000"]);
    assert_eq!(set["max_bytes"], 1000);
    assert_eq!(set["slug"], SLUG);
    let server = Server::start(&work);
    let c = client();

    let (status, first) = tickets_upload(&server, &key, 600).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(usage(&work), (600, 1));

    // tickets: {error, message}
    let (status, body) = tickets_upload(&server, &key, 500).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "quota_exceeded");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("quota of 1000 bytes"),
        "{body}"
    );

    // cases: {status, code, message}
    let res = c
        .post(server.url("/api-public/1.0/save_file"))
        .bearer_auth(&key)
        .multipart(
            Form::new().text("caseId", HELPER_TICKET).part(
                "file",
                Part::bytes(vec![b'q'; 500])
                    .file_name("q.txt")
                    .mime_str("text/plain")
                    .unwrap(),
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["status"].clone(), body["code"].clone()),
        (json!(403), json!("quotaExceeded")),
        "{body}"
    );

    // chat: {errorText, httpStatusCode}; a multi-file upload is all or nothing
    let two = text_part("files", 100).part(
        "files",
        Part::bytes(vec![b'q'; 400])
            .file_name("r.txt")
            .mime_str("text/plain")
            .unwrap(),
    );
    let res = c
        .post(server.url("/api/v1/messages/5/attachments"))
        .header("cookie", format!("clasp_session={session}"))
        .multipart(two)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["httpStatusCode"], 403, "{body}");
    assert!(
        body["errorText"].as_str().unwrap().contains("quota"),
        "{body}"
    );

    // workspaces: refused at upload-url, with the declared size, before any byte
    let (status, body) = upload_url(&server, &key, 401).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "quota_exceeded");
    // what fits is charged when its URL is issued, so nothing else fits then
    let (status, begun) = upload_url(&server, &key, 400).await;
    assert_eq!(status, StatusCode::CREATED, "{begun}");
    assert_eq!(usage(&work), (1000, 2));
    let (status, _) = tickets_upload(&server, &key, 1).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // nothing of the refused uploads is visible or stored
    let listed: Value = c
        .get(server.url(&format!("/v1/tickets/{HELPER_TICKET}/attachments")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(work.blob_files().len(), 1, "{:?}", work.blob_files());
    assert_eq!(usage(&work), (1000, 2));

    // deleting gives the bytes back; uploads fit again
    let res = c
        .delete(server.url(&format!(
            "/v1/tickets/{HELPER_TICKET}/attachments/{}",
            first["id"].as_str().unwrap()
        )))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(usage(&work), (400, 1));
    let (status, body) = tickets_upload(&server, &key, 500).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(usage(&work), (900, 2));

    // the attachment count, once bytes are unlimited
    let set = quota(
        &work,
        &[
            "set",
            "--tenant",
            SLUG,
            "--max-bytes",
            "none",
            "--max-attachments",
            "2",
        ],
    );
    assert_eq!(
        (set["max_bytes"].clone(), set["max_attachments"].clone()),
        (Value::Null, json!(2))
    );
    let (status, body) = tickets_upload(&server, &key, 1).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("quota of 2 attachments"),
        "{body}"
    );

    // an unknown tenant is named, and nothing is printed
    let out = work.run(&["admin", "quota", "show", "--tenant", "nobody"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nobody"));
}

/// On PostgreSQL and S3: concurrent upload-url requests (presigned PUTs that
/// bypass Clasp) get exactly what the quota admits; concurrent streamed uploads
/// and deletes leave usage equal to what is stored.
#[tokio::test(flavor = "multi_thread")]
async fn usage_is_exact_under_concurrent_uploads_and_deletes_on_postgres_and_s3() {
    let work = on_postgres_and_s3(&fresh_postgres_database());
    let key = work.tenant_with_key(
        SLUG,
        "attachments:read,attachments:write,attachments:delete",
    );
    let size = 100_u64;
    let limit = size * ADMITTED as u64 + size / 2;
    quota(
        &work,
        &["set", "--tenant", SLUG, "--max-bytes", &limit.to_string()],
    );
    let server = Server::start(&work);

    let begun = join_all((0..CONCURRENT).map(|_| upload_url(&server, &key, size))).await;
    let admitted: Vec<&Value> = begun
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(admitted.len(), ADMITTED);
    for (status, body) in &begun {
        if *status != StatusCode::CREATED {
            assert_eq!(*status, StatusCode::FORBIDDEN);
            assert_eq!(body["error"]["code"], "quota_exceeded", "{body}");
        }
    }
    assert_eq!(usage(&work), (size * ADMITTED as u64, ADMITTED as u64));

    // concurrent deletes of the pending uploads give everything back
    let c = client();
    let deletes = admitted.iter().map(|b| {
        c.delete(server.url(&format!(
            "/v1/workspaces/{SLUG}/attachments/{}",
            b["attachmentId"].as_str().unwrap()
        )))
        .bearer_auth(&key)
        .header("x-workspace-id", SLUG)
        .send()
    });
    for res in join_all(deletes).await {
        assert_eq!(res.unwrap().status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(usage(&work), (0, 0));

    // streamed uploads reserve up to their Content-Length, so how many fit at
    // once depends on timing; what is stored is exactly what is charged
    let uploads =
        join_all((0..CONCURRENT).map(|_| tickets_upload(&server, &key, size as usize))).await;
    let mut stored = Vec::new();
    for (status, body) in uploads {
        match status {
            StatusCode::CREATED => stored.push(body["id"].as_str().unwrap().to_owned()),
            StatusCode::FORBIDDEN => assert_eq!(body["error"], "quota_exceeded", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!((1..=ADMITTED).contains(&stored.len()), "{}", stored.len());
    assert_eq!(
        usage(&work),
        (size * stored.len() as u64, stored.len() as u64)
    );
    let deletes = stored.iter().map(|id| {
        c.delete(server.url(&format!("/v1/tickets/{HELPER_TICKET}/attachments/{id}")))
            .bearer_auth(&key)
            .send()
    });
    for res in join_all(deletes).await {
        assert_eq!(res.unwrap().status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(usage(&work), (0, 0));
}
