//! Proof that uploads stream: an oversized body is refused while the client is
//! still sending, and the server's memory stays far below the file sizes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::harness::{Server, Workdir, bearer_json, client, fetch, form, write_chunk};

const TICKET: &str = "550e8400-e29b-41d4-a716-446655440000";
const MIB: u64 = 1024 * 1024;

/// Sends a 200 MiB chunked multipart upload (no Content-Length to judge by) and
/// reads the response while still sending.
#[test]
fn oversized_upload_is_refused_before_the_client_finishes() {
    let work = Workdir::new();
    let key = work.tenant_with_key("ws-1", "attachments:write");
    let server = Server::start(&work);
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).unwrap();
    let head = format!(
        "POST /v1/tickets/{TICKET}/attachments HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: multipart/form-data; boundary=BOUNDARY\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let part = b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"huge.txt\"\r\nContent-Type: text/plain\r\n\r\n";
    write_chunk(&mut stream, part).unwrap();

    let sent = Arc::new(AtomicU64::new(0));
    let mut reader = stream.try_clone().unwrap();
    let sent_by_writer = sent.clone();
    let writer = std::thread::spawn(move || {
        let block = vec![b'x'; 64 * 1024];
        while sent_by_writer.load(Ordering::SeqCst) < 200 * MIB {
            if write_chunk(&mut stream, &block).is_err() {
                return;
            }
            sent_by_writer.fetch_add(block.len() as u64, Ordering::SeqCst);
        }
        let _ = write_chunk(&mut stream, b"\r\n--BOUNDARY--\r\n");
        let _ = stream.write_all(b"0\r\n\r\n");
    });

    reader
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut response = vec![0u8; 4096];
    let n = reader.read(&mut response).unwrap();
    let at_response = sent.load(Ordering::SeqCst);
    let text = String::from_utf8_lossy(&response[..n]).into_owned();
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("file_too_large"), "{text}");
    assert!(
        at_response < 64 * MIB,
        "refused after {} MiB of 200 MiB",
        at_response / MIB
    );
    assert!(
        at_response >= 30 * MIB,
        "the limit is 30 MiB, got a response after {} MiB",
        at_response / MIB
    );
    let _ = reader.shutdown(std::net::Shutdown::Both);
    writer.join().unwrap();
    assert!(work.blob_files().is_empty(), "nothing stored");
}

/// A slow-loris client that sends half a request head and then nothing: Clasp
/// drops it once the head has taken 30 s (`client_request_timeout`), and the
/// server goes on answering others meanwhile and afterwards.
#[test]
fn a_request_head_that_never_ends_is_dropped_after_30_s() {
    let work = Workdir::new();
    let server = Server::start(&work);
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut loris = TcpStream::connect(&addr).unwrap();
    loris
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: clasp\r\nX-Slow: ")
        .unwrap();
    loris
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let start = Instant::now();
    let healthy = || {
        let mut other = TcpStream::connect(&addr).unwrap();
        other
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: clasp\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        other.read_to_string(&mut answer).unwrap();
        answer.starts_with("HTTP/1.1 200")
    };
    assert!(healthy(), "served meanwhile");
    let mut answer = Vec::new();
    let _ = loris.read_to_end(&mut answer);
    let waited = start.elapsed();
    assert!(
        (Duration::from_secs(25)..Duration::from_secs(50)).contains(&waited),
        "the half head was dropped after {waited:?}"
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(healthy(), "served afterwards");
}

/// A client that sends half an upload and then nothing: Clasp cuts it off after
/// `body_idle_timeout_secs`, answers the dialect's error, and keeps nothing.
#[test]
fn a_stalled_upload_is_cut_off_and_leaves_nothing() {
    let work = Workdir::new().with_env("CLASP_BODY_IDLE_TIMEOUT_SECS", "1");
    let key = work.tenant_with_key("ws-1", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).unwrap();
    let part = b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.txt\"\r\nContent-Type: text/plain\r\n\r\nthe first bytes, and then nothing";
    let head = format!(
        "POST /v1/tickets/{TICKET}/attachments HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: multipart/form-data; boundary=BOUNDARY\r\nContent-Length: 100000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(part).unwrap();

    let started = std::time::Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // the answer closes the connection, so it ends at end of stream
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("upload_interrupted"), "{text}");
    assert!(text.contains("sent nothing for 1 s"), "{text}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(10),
        "cut off after {waited:?}"
    );
    assert!(work.blob_files().is_empty(), "nothing stored");
}

/// With `max_concurrent_uploads` reached, another upload is turned away at once
/// (503, `Retry-After`, the dialect's error body) without its body being read,
/// and admitted again once a slot is free.
#[tokio::test]
async fn uploads_beyond_the_cap_wait_outside() {
    let work = Workdir::new().with_env("CLASP_MAX_CONCURRENT_UPLOADS", "1");
    let key = work.tenant_with_key("ws-1", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let addr = server.base.trim_start_matches("http://").to_owned();

    // one upload holds the only slot, sending its body slowly
    let mut held = TcpStream::connect(&addr).unwrap();
    let head = format!(
        "POST /v1/tickets/{TICKET}/attachments HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: multipart/form-data; boundary=BOUNDARY\r\nContent-Length: 100000\r\n\r\n--BOUNDARY\r\n"
    );
    held.write_all(head.as_bytes()).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let c = client();
    let url = server.url(&format!("/v1/tickets/{TICKET}/attachments"));
    let res = c
        .post(&url)
        .bearer_auth(&key)
        .multipart(form("file", "a.txt", "text/plain", b"hello".to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["retry-after"], "1");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "too_many_uploads", "{body}");

    // reads are not uploads: still served
    let res = c.get(&url).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // the held upload gives up; its slot comes back
    drop(held);
    let mut admitted = false;
    for _ in 0..50 {
        let res = c
            .post(&url)
            .bearer_auth(&key)
            .multipart(form("file", "a.txt", "text/plain", b"hello".to_vec()))
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::CREATED {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(admitted, "the slot was given back");
}

/// Peak resident memory of a process, from /proc (Linux).
fn peak_rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

#[tokio::test]
async fn memory_stays_far_below_the_file_sizes() {
    let work = Workdir::new();
    let key = work.tenant_with_key("ws-1", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let c = client();
    let base = server.url(&format!("/v1/tickets/{TICKET}/attachments"));
    let before = peak_rss_bytes(server.pid());
    let uploads: Vec<_> = (0..4u8)
        .map(|i| {
            let (c, base, key) = (c.clone(), base.clone(), key.clone());
            tokio::spawn(async move {
                let data = vec![b'a' + i; 30 * MIB as usize];
                c.post(&base)
                    .bearer_auth(&key)
                    .multipart(form("file", "big.txt", "text/plain", data))
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for upload in uploads {
        assert_eq!(upload.await.unwrap(), StatusCode::CREATED);
    }
    let grown = peak_rss_bytes(server.pid()).saturating_sub(before);
    assert!(
        grown < 30 * MIB,
        "4 concurrent 30 MiB uploads grew peak RSS by {} MiB",
        grown / MIB
    );
}

/// A body whose delivery pauses right after the `\r\n--` that opens the
/// closing boundary stores exactly the file's bytes. actix-multipart before
/// 0.8.5 took those four bytes for the file's when they arrived alone
/// (actix-web issue #3635): a file of the largest size was refused as too
/// large, and any smaller one stored four bytes it was never sent.
#[tokio::test]
async fn a_boundary_cut_after_its_first_four_bytes_stores_exactly_the_file() {
    let work = Workdir::new();
    let key = work.tenant_with_key("ws-1", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let addr = server.base.trim_start_matches("http://").to_owned();
    let content = b"the file, and nothing after it\n".repeat(64);
    let mut first = b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; \
        filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n"
        .to_vec();
    first.extend_from_slice(&content);
    first.extend_from_slice(b"\r\n--");
    let rest = b"BOUNDARY--\r\n";
    let mut stream = TcpStream::connect(&addr).unwrap();
    let head = format!(
        "POST /v1/tickets/{TICKET}/attachments HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: multipart/form-data; boundary=BOUNDARY\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        first.len() + rest.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&first).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(rest).unwrap();
    let mut said = String::new();
    stream.read_to_string(&mut said).unwrap();
    assert!(said.starts_with("HTTP/1.1 201"), "{said}");
    let body: serde_json::Value =
        serde_json::from_str(said.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["size_bytes"], content.len(), "{body}");

    let c = client();
    let id = body["id"].as_str().unwrap();
    let url = server.url(&format!("/v1/tickets/{TICKET}/attachments/{id}/download"));
    let signed = bearer_json(&c, &url, &key).await;
    let (status, stored) = fetch(&c, signed["signed_url"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored, content);
}
