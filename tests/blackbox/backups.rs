//! `clasp backup` while uploads run, and `clasp restore` into a fresh data
//! directory: every attachment the backup holds reads back whole, and URLs
//! signed before it still verify; webhooks come along, and a tus upload half
//! sent before the backup finishes on the restored instance.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::StatusCode;

use crate::harness::{
    ADMIN_TOKEN, HELPER_TICKET, Server, Workdir, bearer_json, client, fetch, form,
    ticket_read_back, ticket_signed_url, upload_to_ticket,
};
use crate::tus::{Raw, header};
use crate::webhooks::register;

/// A PDF of about 200 KiB, different for each `n`.
fn pdf(n: u32) -> Vec<u8> {
    let mut data = b"%PDF-1.7\n".to_vec();
    let mut state = 0x9e37_79b9_u64 ^ u64::from(n);
    while data.len() < 200 * 1024 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.extend_from_slice(&state.to_le_bytes());
    }
    data
}

/// Uploads `pdf(n)`; its id.
async fn upload(c: &reqwest::Client, server: &Server, key: &str, n: u32) -> String {
    let file = form("file", &format!("f{n}.pdf"), "application/pdf", pdf(n));
    upload_to_ticket(c, server, key, HELPER_TICKET, file).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_taken_under_load_restores_every_attachment_it_holds() {
    let work = Workdir::new();
    let key = work.tenant_with_key("bk", "attachments:read,attachments:write");
    let server = Arc::new(Server::start(&work));
    let c = client();
    let mut before = Vec::new();
    for n in 0..20 {
        before.push((n, upload(&c, &server, &key, n).await));
    }
    let signed_before = ticket_signed_url(&c, &server, &key, &before[0].1).await;

    // Uploads keep coming while the backup runs.
    let running = Arc::new(AtomicBool::new(true));
    let writer = {
        let (c, server, key, running) = (c.clone(), server.clone(), key.clone(), running.clone());
        tokio::spawn(async move {
            let mut during = Vec::new();
            let mut n = 1000;
            while running.load(Ordering::Relaxed) {
                during.push((n, upload(&c, &server, &key, n).await));
                n += 1;
            }
            during
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("backup");
    let out = {
        let command = work.command(&["backup", "--to", target.to_str().unwrap()]);
        tokio::task::spawn_blocking(move || {
            let mut command = command;
            command.output().unwrap()
        })
        .await
        .unwrap()
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    running.store(false, Ordering::Relaxed);
    let during = writer.await.unwrap();
    assert!(during.len() >= 2, "uploads ran beside the backup");
    drop(Arc::into_inner(server).unwrap());

    let fresh = Workdir::new();
    let restored = fresh.run(&["restore", "--from", target.to_str().unwrap()]);
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let again = fresh.run(&["restore", "--from", target.to_str().unwrap()]);
    assert!(
        !again.status.success(),
        "a restore never overwrites a database"
    );
    let server = Server::start(&fresh);

    let mut held = HashMap::new();
    for (n, id) in before.iter().chain(&during) {
        if let Some(bytes) = ticket_read_back(&c, &server, &key, id).await {
            assert_eq!(bytes, pdf(*n), "attachment {n} reads back whole");
            held.insert(*n, id.clone());
        }
    }
    for (n, _) in &before {
        assert!(
            held.contains_key(n),
            "attachment {n}, ready before the backup, is in it"
        );
    }
    let (status, bytes) = fetch(
        &c,
        &signed_before.replace(
            signed_before.split("/signed/").next().unwrap(),
            &server.url(""),
        ),
    )
    .await;
    assert_eq!(
        (status, bytes),
        (StatusCode::OK, pdf(0)),
        "the signing secret came along"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_and_resumable_uploads_in_progress_survive_a_backup() {
    const MIB: usize = 1024 * 1024;
    let work = Workdir::new().with_env("CLASP_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1");
    let key = work.tenant_with_key("bt", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let (hook, _) = register(
        &server,
        "bt",
        "http://127.0.0.1:9/hook",
        &["attachment.ready"],
    )
    .await;
    let data = crate::tus::pdf(2 * MIB, 7);
    let tus = Raw {
        server: &server,
        key: key.clone(),
    };
    let at = tus.created(data.len(), "half.pdf", "application/pdf").await;
    let (status, ..) = tus.patch(&at, 0, &data[..MIB], None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let before = work.blob_files();
    let gone = tus.created(MIB, "gone.pdf", "application/pdf").await;
    let (status, ..) = tus.patch(&gone, 0, &data[..MIB / 2], None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // as if it had finished, or been ended, between the snapshot and the copy
    for part in work
        .blob_files()
        .into_iter()
        .filter(|p| !before.contains(p))
    {
        std::fs::remove_file(part).unwrap();
    }

    let backup = tempfile::tempdir().unwrap();
    let target = backup.path().join("backup");
    let target = target.to_str().unwrap();
    let said = work.admin(&["backup", "--to", target]);
    assert!(said.contains("; 1 gone since the snapshot"), "{said}");
    let fresh = Workdir::new().with_env("CLASP_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1");
    fresh.admin(&["restore", "--from", target]);
    // what the old instance does after the snapshot is not in the backup
    let (status, ..) = tus.patch(&at, MIB, &data[MIB..], None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    drop(server);
    let server = Server::start(&fresh);

    let listed = bearer_json(
        &client(),
        &server.admin_url("/admin/v1/tenants/bt/webhooks"),
        ADMIN_TOKEN,
    )
    .await;
    assert!(
        listed.to_string().contains(&hook),
        "the webhook came along: {listed}"
    );
    let tus = Raw {
        server: &server,
        key: key.clone(),
    };
    let (status, _) = tus.head(&gone).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "an upload whose parts were gone by the copy left the backup"
    );
    let parts: Vec<_> = fresh
        .blob_files()
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".attempt-"))
        .collect();
    assert_eq!(
        parts.len(),
        1,
        "the one stored part, nothing else: {parts:?}"
    );
    let (status, headers) = tus.head(&at).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header(&headers, "upload-offset"),
        MIB.to_string(),
        "the upload stands where it stood at the backup"
    );
    let (status, headers, body) = tus.patch(&at, MIB, &data[MIB..], None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(header(&headers, "upload-offset"), data.len().to_string());
    let id = header(&headers, "clasp-attachment-id");
    let bytes = ticket_read_back(&client(), &server, &key, &id).await;
    assert_eq!(
        bytes,
        Some(data),
        "the upload finished whole after the restore"
    );
}
