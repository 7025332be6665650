//! A real browser against the built binary: headless Chromium (Debian's, driven
//! by playwright-core; `scripts/browser.sh` installs both and `./scripts/test.sh`
//! exports where they are) plays an MP4 that Clasp serves and seeks to its end,
//! which only works when byte ranges do.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{Server, Workdir, client, form};

const TICKET: &str = "550e8400-e29b-41d4-a716-446655440000";

/// A two-second H.264 clip (see tests/browser/README.md for how it was made).
const CLIP: &[u8] = include_bytes!("../browser/clip.mp4");

fn required(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: run the suite with ./scripts/test.sh, which installs \
             Chromium and playwright-core (or `eval \"$(scripts/browser.sh)\"` first)"
        )
    })
}

#[tokio::test]
async fn a_video_served_by_clasp_plays_and_seeks_to_its_end() {
    let chromium = required("CLASP_TEST_CHROMIUM");
    let playwright = required("CLASP_TEST_PLAYWRIGHT");
    let work = Workdir::new();
    let key = work.tenant_with_key("ws-1", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let c = client();
    let base = server.url(&format!("/v1/tickets/{TICKET}/attachments"));
    let res = c
        .post(&base)
        .bearer_auth(&key)
        .multipart(form("file", "clip.mp4", "video/mp4", CLIP.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    let dl: Value = c
        .get(format!(
            "{base}/{}/download",
            created["id"].as_str().unwrap()
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = dl["signed_url"].as_str().unwrap().to_owned();

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
    let metrics = c
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.lines().any(
            |l| l.starts_with("clasp_http_requests_total{dialect=\"signed\"")
                && l.contains("status=\"206\"")
        ),
        "{metrics}"
    );
}
