//! Crash consistency on the built binary: `clasp serve` killed with SIGKILL in
//! the middle of an upload leaves nothing visible, and the sweeper of the next
//! run (here `clasp gc`) removes the orphaned row and bytes once the upload's
//! deadline has passed.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{Server, Workdir, client};

const TICKET: &str = "550e8400-e29b-41d4-a716-446655440000";

#[tokio::test]
async fn an_upload_cut_by_sigkill_is_invisible_and_swept_after_its_deadline() {
    let work = Workdir::new().with_env("CLASP_UPLOAD_URL_TTL_SECS", "2");
    let key = work.tenant_with_key("ws-1", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let addr = server.base.trim_start_matches("http://").to_owned();

    // 3 MiB of a declared 5 MiB file arrive, then the process dies
    let mut upload = TcpStream::connect(&addr).unwrap();
    let part = "--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\nContent-Type: text/plain\r\n\r\n";
    let head = format!(
        "POST /v1/tickets/{TICKET}/attachments HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: multipart/form-data; boundary=BOUNDARY\r\nContent-Length: {}\r\n\r\n{part}",
        part.len() + 5 * 1024 * 1024 + 14
    );
    upload.write_all(head.as_bytes()).unwrap();
    upload.write_all(&vec![b'x'; 3 * 1024 * 1024]).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(upload);
    assert!(!work.blob_files().is_empty(), "some bytes had arrived");

    // after a restart, nothing of it is visible
    let server = Server::start(&work);
    let listed: Value = client()
        .get(server.url(&format!("/v1/tickets/{TICKET}/attachments")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, serde_json::json!([]));
    server.stop();

    // before its deadline the upload is not touched; after it, it is swept
    let out = work.run(&["gc"]);
    assert!(out.status.success());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let out = work.run(&["gc"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
    let left = work.blob_files();
    assert!(left.is_empty(), "orphaned bytes left: {left:?}");
    assert_eq!(
        String::from_utf8_lossy(&work.run(&["gc"]).stdout).trim(),
        "0",
        "nothing left to sweep"
    );
    let _ = StatusCode::OK;
}
