//! The tus dialect end to end: tus's own clients (tuspy from PyPI,
//! tus-js-client from npm under Node.js) uploading to every subject, a
//! tus-js-client upload resumed after the server was killed with SIGKILL, the
//! protocol's refusals, expiry and the sweep, and one upload finished across
//! two instances sharing PostgreSQL and S3.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};

use crate::harness::{HELPER_TICKET, Server, Workdir, client, fetch, required, ticket_read_back};
use crate::shared::{fresh_postgres_database, on_postgres_and_s3};

const TICKET: &str = HELPER_TICKET;
const CASE: &str = "21111111-2222-4333-8444-555555555555";
const MIB: usize = 1024 * 1024;

/// `len` bytes of a PDF, different for each `seed`.
pub(crate) fn pdf(len: usize, seed: u32) -> Vec<u8> {
    let mut data = b"%PDF-1.7\n".to_vec();
    data.extend(
        (0..(len - 9) as u32)
            .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 24) as u8),
    );
    data
}

fn metadata(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k} {}", STANDARD.encode(v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// A raw tus client: what a request sends besides its own headers.
pub(crate) struct Raw<'a> {
    pub(crate) server: &'a Server,
    pub(crate) key: String,
}

impl Raw<'_> {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        client()
            .request(method, self.server.url(path))
            .bearer_auth(&self.key)
            .header("tus-resumable", "1.0.0")
    }

    async fn create(&self, length: usize, meta: &str) -> (StatusCode, HeaderMap) {
        let res = self
            .request(reqwest::Method::POST, "/tus/")
            .header("upload-length", length.to_string())
            .header("upload-metadata", meta)
            .send()
            .await
            .unwrap();
        (res.status(), res.headers().clone())
    }

    pub(crate) async fn created(&self, length: usize, name: &str, kind: &str) -> String {
        let meta = metadata(&[("filename", name), ("filetype", kind), ("ticketId", TICKET)]);
        let (status, headers) = self.create(length, &meta).await;
        assert_eq!(status, StatusCode::CREATED);
        headers["location"].to_str().unwrap().to_owned()
    }

    pub(crate) async fn patch(
        &self,
        at: &str,
        offset: usize,
        data: &[u8],
        checksum: Option<String>,
    ) -> (StatusCode, HeaderMap, String) {
        let mut req = self
            .request(reqwest::Method::PATCH, at)
            .header("upload-offset", offset.to_string())
            .header("content-type", "application/offset+octet-stream")
            .body(data.to_vec());
        if let Some(sum) = checksum {
            req = req.header("upload-checksum", sum);
        }
        let res = req.send().await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        (status, headers, res.text().await.unwrap())
    }

    pub(crate) async fn head(&self, at: &str) -> (StatusCode, HeaderMap) {
        let res = self
            .request(reqwest::Method::HEAD, at)
            .send()
            .await
            .unwrap();
        (res.status(), res.headers().clone())
    }
}

pub(crate) fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The bytes of attachment `id` of [`TICKET`], through the tickets dialect.
pub(crate) async fn ticket_bytes(server: &Server, key: &str, id: &str) -> Vec<u8> {
    ticket_read_back(&client(), server, key, id)
        .await
        .expect("the tickets dialect knows the attachment")
}

pub(crate) fn part_files(work: &Workdir) -> Vec<String> {
    work.blob_files()
        .into_iter()
        .map(|p| p.display().to_string())
        .filter(|p| p.contains(".attempt-"))
        .collect()
}

#[tokio::test]
async fn the_protocol_refuses_what_it_must_and_keeps_nothing_refused() {
    let work = Workdir::new();
    let key = work.tenant_with_key("acme", "attachments:read,attachments:write");
    let other = work.tenant_with_key("other", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let tus = Raw {
        server: &server,
        key: key.clone(),
    };

    let res = client()
        .request(reqwest::Method::OPTIONS, server.url("/tus/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(res.headers(), "tus-version"), "1.0.0");
    assert!(header(res.headers(), "tus-extension").contains("creation-with-upload"));
    assert_eq!(
        header(res.headers(), "tus-checksum-algorithm"),
        "sha1,sha256"
    );

    let meta = metadata(&[
        ("filename", "a.pdf"),
        ("filetype", "application/pdf"),
        ("ticketId", TICKET),
    ]);
    let res = client()
        .post(server.url("/tus/"))
        .bearer_auth(&key)
        .header("upload-length", "10")
        .header("upload-metadata", &meta)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::PRECONDITION_FAILED,
        "no Tus-Resumable"
    );
    assert_eq!(
        tus.create(40 * MIB, &meta).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let no_subject = metadata(&[("filename", "a.pdf"), ("filetype", "application/pdf")]);
    assert_eq!(tus.create(10, &no_subject).await.0, StatusCode::BAD_REQUEST);

    let data = pdf(1000, 1);
    let at = tus.created(1000, "a.pdf", "application/pdf").await;
    let (status, _, body) = tus.patch(&at, 5, &data[5..100], None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let wrong = format!("sha1 {}", STANDARD.encode([0u8; 20]));
    let (status, headers, body) = tus.patch(&at, 0, &data[..600], Some(wrong)).await;
    assert_eq!(status.as_u16(), 460, "{body}");
    assert_eq!(header(&headers, "tus-resumable"), "1.0.0");
    assert_eq!(
        header(&tus.head(&at).await.1, "upload-offset"),
        "0",
        "nothing of it kept"
    );
    let right = format!("sha256 {}", STANDARD.encode(Sha256::digest(&data[..600])));
    let (status, headers, _) = tus.patch(&at, 0, &data[..600], Some(right)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(header(&headers, "upload-offset"), "600");
    let (status, _, _) = tus.patch(&at, 600, &pdf(500, 2), None).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "past Upload-Length");
    let (status, headers) = tus.head(&at).await;
    assert_eq!(
        (status, header(&headers, "upload-offset")),
        (StatusCode::OK, "600".to_owned())
    );
    assert!(!header(&headers, "upload-expires").is_empty());

    let stranger = Raw {
        server: &server,
        key: other,
    };
    assert_eq!(stranger.head(&at).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        stranger.patch(&at, 600, &data[600..], None).await.0,
        StatusCode::NOT_FOUND
    );
    let res = stranger
        .request(reqwest::Method::DELETE, &at)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let (status, headers, _) = tus.patch(&at, 600, &[], None).await;
    assert_eq!(
        (status, header(&headers, "upload-offset")),
        (StatusCode::NO_CONTENT, "600".to_owned()),
        "an empty PATCH"
    );
    let (status, headers, _) = tus.patch(&at, 600, &data[600..], None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let id = header(&headers, "clasp-attachment-id");
    assert_eq!(ticket_bytes(&server, &key, &id).await, data);
    assert!(part_files(&work).is_empty(), "{:?}", part_files(&work));

    // A first part that is not the declared type: refused, nothing kept.
    let png = tus.created(5000, "b.png", "image/png").await;
    let (status, _, body) = tus.patch(&png, 0, &pdf(2000, 3), None).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(tus.head(&png).await.0, StatusCode::NOT_FOUND);
    // Terminated: gone with its parts.
    let gone = tus.created(5000, "c.pdf", "application/pdf").await;
    assert_eq!(
        tus.patch(&gone, 0, &pdf(1000, 4), None).await.0,
        StatusCode::NO_CONTENT
    );
    let res = tus
        .request(reqwest::Method::DELETE, &gone)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(tus.head(&gone).await.0, StatusCode::NOT_FOUND);
    assert!(part_files(&work).is_empty(), "{:?}", part_files(&work));
}

#[tokio::test]
async fn an_expired_upload_is_gone_and_swept_with_its_parts() {
    let work = Workdir::new()
        .with_env("CLASP_UPLOAD_URL_TTL_SECS", "1")
        .with_env("CLASP_SWEEP_INTERVAL_SECS", "1");
    let key = work.tenant_with_key("acme", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let tus = Raw {
        server: &server,
        key,
    };
    let at = tus.created(5000, "a.pdf", "application/pdf").await;
    assert_eq!(
        tus.patch(&at, 0, &pdf(1000, 5), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(part_files(&work).len(), 1);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen_gone = false;
    loop {
        let status = tus.head(&at).await.0;
        seen_gone |= status == StatusCode::GONE;
        if status == StatusCode::NOT_FOUND && part_files(&work).is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "not swept: {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen_gone || part_files(&work).is_empty());
    assert_eq!(
        tus.patch(&at, 1000, &pdf(100, 6), None).await.0,
        StatusCode::NOT_FOUND
    );
}

/// Runs tuspy: uploads `file` to `endpoint` in 5 MiB chunks with SHA-1
/// checksums, sending `headers` and `meta`; the upload's URL.
fn tuspy(endpoint: &str, file: &std::path::Path, headers: &str, meta: &str) -> String {
    let python = required("CLASP_TEST_OPENAPI_PYTHON");
    let script = r#"
import json, sys
from tusclient import client
c = client.TusClient(sys.argv[1], headers=json.loads(sys.argv[3]))
u = c.uploader(file_path=sys.argv[2], chunk_size=5 * 1024 * 1024, metadata=json.loads(sys.argv[4]), upload_checksum=True)
u.upload()
print(u.url)
"#;
    let out = Command::new(python)
        .args([
            "-c",
            script,
            endpoint,
            file.to_str().unwrap(),
            headers,
            meta,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tuspy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn tuspy_uploads_12_mib_to_each_subject() {
    let work = Workdir::new();
    let key = work.tenant_with_key("acme", "attachments:read,attachments:write");
    let session = crate::chat::support::session(&work, "chatty", "user-1");
    let chat_key = work.admin(&[
        "admin",
        "key",
        "create",
        "--tenant",
        "chatty",
        "--scopes",
        "attachments:read",
    ]);
    let server = Server::start(&work);
    let endpoint = server.url("/tus/");
    let dir = tempfile::tempdir().unwrap();
    let bearer = serde_json::json!({"Authorization": format!("Bearer {key}")}).to_string();
    let cookie = serde_json::json!({"Cookie": crate::chat::support::cookie(&session)}).to_string();
    let subjects = [
        (
            bearer.as_str(),
            serde_json::json!({"filename": "t.pdf", "filetype": "application/pdf", "ticketId": TICKET}),
        ),
        (
            bearer.as_str(),
            serde_json::json!({"filename": "c.pdf", "filetype": "application/pdf", "caseId": CASE, "description": "from tuspy", "tags": "a,b"}),
        ),
        (
            cookie.as_str(),
            serde_json::json!({"filename": "m.pdf", "filetype": "application/pdf", "messageId": "42", "roomId": "6"}),
        ),
    ];
    for (i, (headers, meta)) in subjects.iter().enumerate() {
        let data = pdf(12 * MIB, i as u32);
        let file = dir.path().join(format!("{i}.pdf"));
        std::fs::write(&file, &data).unwrap();
        let url = tuspy(&endpoint, &file, headers, &meta.to_string());
        let path = url.strip_prefix(&server.base).unwrap_or(&url).to_owned();
        let tus = Raw {
            server: &server,
            key: if i == 2 {
                chat_key.clone()
            } else {
                key.clone()
            },
        };
        let (status, head) = tus.head(&path).await;
        assert_eq!(status, StatusCode::OK);
        let id = header(&head, "clasp-attachment-id");
        assert!(!id.is_empty(), "finished: {head:?}");
        let c = client();
        let got = match i {
            0 => ticket_bytes(&server, &key, &id).await,
            1 => {
                let res = c
                    .get(server.url(&format!("/api-public/1.0/attachment/{id}/attachment")))
                    .bearer_auth(&key)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), StatusCode::OK);
                let meta: serde_json::Value = c
                    .get(server.url(&format!("/api-public/1.0/attachment/{id}")))
                    .bearer_auth(&key)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert_eq!(meta["caseId"], CASE, "{meta}");
                assert_eq!(meta["description"], "from tuspy", "{meta}");
                res.bytes().await.unwrap().to_vec()
            }
            _ => {
                let res = c
                    .get(server.url(&format!("/api/v1/attachments/{id}/download")))
                    .bearer_auth(&chat_key)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), StatusCode::TEMPORARY_REDIRECT);
                let (status, bytes) = fetch(&c, res.headers()["location"].to_str().unwrap()).await;
                assert_eq!(status, StatusCode::OK);
                bytes
            }
        };
        assert_eq!(Sha256::digest(&got), Sha256::digest(&data), "subject {i}");
    }
}

/// tus-js-client under Node.js (`bench/tus/client.mjs`), started.
fn tus_js(
    endpoint: &str,
    file: &std::path::Path,
    key: &str,
    resume: Option<&str>,
    pause: Option<u32>,
) -> std::process::Child {
    let mut cmd = tus_js_command(endpoint, file, key);
    cmd.args(resume);
    if let Some(n) = pause {
        cmd.env("PAUSE_BEFORE_PATCH", n.to_string());
    }
    cmd.spawn().unwrap()
}

/// tus-js-client uploading a ticket's PDF with the API key `key`, not started.
pub(crate) fn tus_js_command(endpoint: &str, file: &std::path::Path, key: &str) -> Command {
    let headers = serde_json::json!({"Authorization": format!("Bearer {key}")});
    let meta = serde_json::json!({"filename": "video.pdf", "filetype": "application/pdf", "ticketId": TICKET});
    tus_js_with(endpoint, file, (&headers, &meta))
}

/// tus-js-client under Node.js, sending `headers` and `meta`, not started.
fn tus_js_with(
    endpoint: &str,
    file: &std::path::Path,
    (headers, meta): (&serde_json::Value, &serde_json::Value),
) -> Command {
    let script = required("CLASP_TEST_TUS_CLIENT");
    let (headers, meta) = (headers.to_string(), meta.to_string());
    let mut cmd = Command::new("node");
    cmd.arg(script)
        .args([
            endpoint,
            file.to_str().unwrap(),
            &(5 * MIB).to_string(),
            &headers,
            &meta,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd
}

/// The lines a started client prints, as it prints them.
pub(crate) fn lines_of(child: &mut std::process::Child) -> impl Iterator<Item = String> + use<> {
    let out = child.stdout.take().expect("the client's output is piped");
    BufReader::new(out).lines().map_while(Result::ok)
}

/// Reads the client's lines until one starts with `prefix`; its rest.
pub(crate) fn line_starting(lines: &mut impl Iterator<Item = String>, prefix: &str) -> String {
    for line in lines.by_ref() {
        if let Some(rest) = line.strip_prefix(prefix) {
            return rest.trim().to_owned();
        }
    }
    panic!("the client ended before printing {prefix:?}");
}

#[tokio::test]
async fn tus_js_client_uploads_and_resumes_after_a_sigkill() {
    let work = Workdir::new();
    let key = work.tenant_with_key("acme", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let endpoint = server.url("/tus/");
    let dir = tempfile::tempdir().unwrap();
    let data = pdf(12 * MIB, 7);
    let file = dir.path().join("video.pdf");
    std::fs::write(&file, &data).unwrap();

    let mut whole = tus_js(&endpoint, &file, &key, None, None);
    let mut lines = lines_of(&mut whole);
    let id = line_starting(&mut lines, "done ");
    assert!(whole.wait().unwrap().success());
    assert_eq!(ticket_bytes(&server, &key, &id).await, data);

    // The other subjects: a case with a key, a chat message with a session.
    let session = crate::chat::support::session(&work, "chatty", "user-1");
    let bearer = serde_json::json!({"Authorization": format!("Bearer {key}")});
    let cookie = serde_json::json!({"Cookie": crate::chat::support::cookie(&session)});
    let case =
        serde_json::json!({"filename": "c.pdf", "filetype": "application/pdf", "caseId": CASE});
    let message = serde_json::json!({"filename": "m.pdf", "filetype": "application/pdf", "messageId": "7", "roomId": "9"});
    for (headers, meta) in [(&bearer, &case), (&cookie, &message)] {
        let mut child = tus_js_with(&endpoint, &file, (headers, meta))
            .spawn()
            .unwrap();
        let mut lines = lines_of(&mut child);
        let id = line_starting(&mut lines, "done ");
        assert!(child.wait().unwrap().success(), "{meta}");
        assert!(!id.is_empty() && id != "undefined", "{meta}: {id}");
    }
    let c = client();
    let listing = server.url(&format!("/api-public/1.0/attachments?caseId={CASE}"));
    let res = c.get(listing).bearer_auth(&key).send().await.unwrap();
    let listed: serde_json::Value = res.json().await.unwrap();
    assert_eq!(listed["count"], 1, "{listed}");

    // Killed after the first 5 MiB: the client's next PATCH fails.
    let mut cut = tus_js(&endpoint, &file, &key, None, Some(2));
    let mut lines = lines_of(&mut cut);
    let url = line_starting(&mut lines, "url ");
    assert_eq!(line_starting(&mut lines, "chunk "), (5 * MIB).to_string());
    line_starting(&mut lines, "paused");
    let (listen, admin) = (server.base.clone(), server.admin_base.clone());
    drop(server); // SIGKILL
    writeln!(cut.stdin.take().unwrap(), "go").unwrap();
    line_starting(&mut lines, "error ");
    assert!(!cut.wait().unwrap().success());

    // The same address again: the stored URL still works, from 5 MiB.
    let server = Server::start_with(&work, |cmd| {
        cmd.env("CLASP_LISTEN", listen.trim_start_matches("http://"))
            .env("CLASP_ADMIN_LISTEN", admin.trim_start_matches("http://"));
    });
    let mut resumed = tus_js(&endpoint, &file, &key, Some(&url), None);
    let mut lines = lines_of(&mut resumed);
    assert_eq!(line_starting(&mut lines, "resumed "), (5 * MIB).to_string());
    let id = line_starting(&mut lines, "done ");
    assert!(resumed.wait().unwrap().success());
    assert_eq!(ticket_bytes(&server, &key, &id).await, data);
    assert!(part_files(&work).is_empty(), "{:?}", part_files(&work));
}

#[tokio::test]
async fn two_instances_on_postgres_and_s3_finish_one_upload_in_turns() {
    let db = fresh_postgres_database();
    let (a, b) = (on_postgres_and_s3(&db), on_postgres_and_s3(&db));
    let key = a.tenant_with_key("acme", "attachments:read,attachments:write");
    let servers = [Server::start(&a), Server::start(&b)];
    let data = pdf(12 * MIB, 9);
    let first = Raw {
        server: &servers[0],
        key: key.clone(),
    };
    let at = first.created(data.len(), "a.pdf", "application/pdf").await;
    let mut offset = 0;
    let mut id = String::new();
    for (turn, part) in data.chunks(5 * MIB).enumerate() {
        let tus = Raw {
            server: &servers[(turn + 1) % 2],
            key: key.clone(),
        };
        let (status, headers, body) = tus.patch(&at, offset, part, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        offset += part.len();
        assert_eq!(header(&headers, "upload-offset"), offset.to_string());
        id = header(&headers, "clasp-attachment-id");
    }
    assert!(!id.is_empty());
    for server in &servers {
        assert_eq!(ticket_bytes(server, &key, &id).await, data);
    }
}
