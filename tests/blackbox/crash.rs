//! Crash consistency on the built binary: `clasp serve` killed with SIGKILL in
//! the middle of an upload leaves nothing visible, and the sweeper of the next
//! run (here `clasp gc`) removes the orphaned row and bytes once the upload's
//! deadline has passed; a tus upload cut while it was being finished is never
//! answered as done, and is swept the same way.

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

/// A tus upload whose process dies while finishing it (here in its scan,
/// held by a clamd that never answers) is never taken for done:
/// tus-js-client, retrying, hears `423` from the next process and gives up
/// with an error, and that process's sweeper removes the upload, parts and
/// all, at its deadline. (Before, `HEAD` said the upload was at its length,
/// and the client reported success for a file that never became ready.)
#[tokio::test(flavor = "multi_thread")]
async fn a_tus_upload_cut_while_finishing_is_never_taken_for_done() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    use crate::tus::{line_starting, lines_of, part_files, pdf, tus_js_command};

    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let clamd = silent.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counting = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            counting.fetch_add(1, Ordering::SeqCst);
            held.push(conn);
        }
    });
    let work = Workdir::new()
        .with_env("CLASP_CLAMAV_ADDRESS", &format!("tcp://{clamd}"))
        .with_env("CLASP_SCAN_TIMEOUT_SECS", "60")
        .with_env("CLASP_UPLOAD_URL_TTL_SECS", "10")
        .with_env("CLASP_SWEEP_INTERVAL_SECS", "1");
    let key = work.tenant_with_key("ws-1", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("video.pdf");
    std::fs::write(&file, pdf(12 * 1024 * 1024, 9)).unwrap();

    let mut tus = tus_js_command(&server.url("/tus/"), &file, &key)
        .env("RETRY_DELAYS", "[200, 200, 200]")
        .spawn()
        .unwrap();
    let mut lines = lines_of(&mut tus);
    let url = line_starting(&mut lines, "url ");
    line_starting(&mut lines, "chunk ");
    let scans_before = accepted.load(Ordering::SeqCst);
    assert_eq!(line_starting(&mut lines, "chunk "), "10485760");
    let deadline = Instant::now() + Duration::from_secs(30);
    while accepted.load(Ordering::SeqCst) == scans_before {
        assert!(
            Instant::now() < deadline,
            "the last part's scan never began"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (listen, admin) = (server.base.clone(), server.admin_base.clone());
    drop(server); // SIGKILL, mid-scan
    let server = Server::start_with(&work, |cmd| {
        cmd.env("CLASP_LISTEN", listen.trim_start_matches("http://"))
            .env("CLASP_ADMIN_LISTEN", admin.trim_start_matches("http://"));
    });
    let rest: Vec<String> = lines.collect();
    assert!(!tus.wait().unwrap().success(), "{rest:?}");
    assert!(!rest.iter().any(|l| l.starts_with("done")), "{rest:?}");
    assert!(rest.iter().any(|l| l.starts_with("error")), "{rest:?}");

    let head = || {
        client()
            .head(&url)
            .bearer_auth(&key)
            .header("tus-resumable", "1.0.0")
            .send()
    };
    assert_eq!(head().await.unwrap().status(), StatusCode::LOCKED);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = head().await.unwrap().status();
        if status == StatusCode::NOT_FOUND && part_files(&work).is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "not swept: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(server);
}
