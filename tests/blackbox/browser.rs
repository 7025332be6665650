//! A real browser against the built binary: headless Chromium (Debian's, driven
//! by playwright-core; `scripts/browser.sh` installs both and `./scripts/test.sh`
//! exports where they are) plays an MP4 that Clasp serves and seeks to its end,
//! which only works when byte ranges do.

use std::process::Command;

use serde_json::Value;

use crate::harness::{Server, Workdir, required, upload_and_sign};

/// A two-second H.264 clip (see tests/browser/README.md for how it was made).
const CLIP: &[u8] = include_bytes!("../browser/clip.mp4");

#[tokio::test]
async fn a_video_served_by_clasp_plays_and_seeks_to_its_end() {
    let chromium = required("CLASP_TEST_CHROMIUM");
    let playwright = required("CLASP_TEST_PLAYWRIGHT");
    let work = Workdir::new();
    let key = work.tenant_with_key("ws-1", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let url = upload_and_sign(&server, &key, "clip.mp4", "video/mp4", CLIP).await;

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/browser/seek.js");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .arg(&url)
            .env("CLASP_TEST_CHROMIUM", chromium)
            .env("CLASP_TEST_PLAYWRIGHT", playwright)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let played: Value = serde_json::from_str(stdout.trim()).unwrap();
    let duration = played["duration"].as_f64().unwrap();
    assert!((1.5..3.0).contains(&duration), "{played}");
    assert_eq!(played["ended"], true, "{played}");
    assert!(
        played["currentTime"].as_f64().unwrap() >= duration - 0.05,
        "{played}"
    );

    // Chromium fetched the video in byte ranges
    let metrics = server.metrics().await;
    assert!(
        metrics.lines().any(
            |l| l.starts_with("clasp_http_requests_total{dialect=\"signed\"")
                && l.contains("status=\"206\"")
        ),
        "{metrics}"
    );
}
