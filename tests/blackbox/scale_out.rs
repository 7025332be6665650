//! Several `clasp serve` processes sharing one PostgreSQL and one object store,
//! as behind a load balancer.

use std::thread;

use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::harness::{Server, Workdir, client, fetch, form, upload_to_ticket};
use crate::shared::{SECRET, fresh_postgres_database, on_postgres_and_s3, s3_endpoint};

const TICKET: &str = "7d444840-9dc0-11d1-b245-5ffdce74fad2";

/// Starts one server per workdir at the same time (so their migrations race).
fn start_all(works: &[&Workdir]) -> Vec<Server> {
    thread::scope(|s| {
        let handles: Vec<_> = works
            .iter()
            .map(|w| s.spawn(move || Server::start(w)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// 6 MiB of a PDF: large enough for a multipart upload to S3.
fn big_pdf() -> Vec<u8> {
    let mut data = b"%PDF-1.7\n".to_vec();
    data.extend((0..6 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    data
}

async fn upload(c: &reqwest::Client, server: &Server, key: &str, data: Vec<u8>) -> String {
    let pdf = form("file", "report.pdf", "application/pdf", data);
    upload_to_ticket(c, server, key, TICKET, pdf).await
}

async fn signed_url(c: &reqwest::Client, server: &Server, key: &str, id: &str) -> String {
    let body: Value = c
        .get(server.url(&format!("/v1/tickets/{TICKET}/attachments/{id}/download")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["signed_url"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn two_instances_on_postgres_and_s3_serve_each_others_uploads() {
    let db = fresh_postgres_database();
    let (a, b) = (on_postgres_and_s3(&db), on_postgres_and_s3(&db));
    let servers = start_all(&[&a, &b]);
    let key = b.tenant_with_key(
        "acme",
        "attachments:read,attachments:write,attachments:delete",
    );
    let c = client();
    let data = big_pdf();

    let id = upload(&c, &servers[0], &key, data.clone()).await;

    let listed: Value = c
        .get(servers[1].url(&format!("/v1/tickets/{TICKET}/attachments")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["id"], id.as_str(), "listed by the other instance");

    // The download URL is presigned S3: the bytes come without Clasp in the path.
    let url = signed_url(&c, &servers[1], &key, &id).await;
    assert!(url.starts_with(&s3_endpoint()), "presigned S3 URL: {url}");
    let res = c.get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let bytes = res.bytes().await.unwrap();
    assert_eq!(Sha256::digest(&bytes), Sha256::digest(&data), "exact bytes");

    let res = c
        .delete(servers[0].url(&format!("/v1/tickets/{TICKET}/attachments/{id}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = c
        .get(servers[1].url(&format!("/v1/tickets/{TICKET}/attachments/{id}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "gone for the other instance"
    );
    assert_ne!(
        fetch(&c, &url).await.0,
        StatusCode::OK,
        "and its bytes are gone"
    );
}

#[tokio::test]
async fn a_url_signed_by_one_instance_is_honoured_by_another() {
    // Instances on one PostgreSQL and one shared directory (e.g. NFS) serve the
    // bytes themselves, through Clasp-signed URLs.
    let db = fresh_postgres_database();
    let blobs = tempfile::tempdir().unwrap();
    let storage = format!("file://{}", blobs.path().display());
    let instance = || {
        Workdir::new()
            .with_env("CLASP_DATABASE_URL", &db)
            .with_env("CLASP_STORAGE_URL", &storage)
            .with_env("CLASP_SIGNING_SECRET", SECRET)
    };
    let (a, b) = (instance(), instance());
    let servers = start_all(&[&a, &b]);
    let key = a.tenant_with_key("acme", "attachments:read,attachments:write");
    let c = client();
    let data = big_pdf();

    let id = upload(&c, &servers[1], &key, data.clone()).await;
    let url = signed_url(&c, &servers[0], &key, &id).await;
    assert!(
        url.starts_with(&servers[0].base),
        "minted by instance A: {url}"
    );
    let on_b = url.replace(&servers[0].base, &servers[1].base);
    let (status, bytes) = fetch(&c, &on_b).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(Sha256::digest(&bytes), Sha256::digest(&data));

    // tampering is refused by both
    let tampered = on_b.replace("expires=", "expires=1");
    assert_eq!(fetch(&c, &tampered).await.0, StatusCode::FORBIDDEN);
}

#[test]
fn serving_shared_stores_without_a_signing_secret_is_refused() {
    let db = fresh_postgres_database();
    let work = Workdir::new().with_env("CLASP_DATABASE_URL", &db);
    // operator commands sign nothing, so they need no shared secret
    let out = work.run(&["admin", "tenant", "create", "--slug", "acme"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = work.run(&["serve"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("CLASP_SIGNING_SECRET"), "{stderr}");
    assert!(!stderr.contains("clasp serving"), "{stderr}");
}
