//! `clasp migrate-store`: an embedded instance moved to PostgreSQL and
//! SeaweedFS, interrupted once and resumed; afterwards an instance on the new
//! stores serves every attachment, byte for byte, under its old number, and
//! honours a URL signed before the move.

use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::harness::{
    HELPER_TICKET, Server, Workdir, client, fetch, form, required, ticket_read_back,
    ticket_signed_url, upload_to_ticket,
};
use crate::shared::{SECRET, fresh_postgres_database, on_postgres_and_s3, psql};

/// Attachments moved: more than one page of the move (200), so that it can
/// be stopped between two.
const FILES: u32 = 450;

mod dialects;

fn file(n: u32) -> Vec<u8> {
    format!("attachment {n} of the move\n")
        .repeat(40)
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_embedded_instance_moves_to_postgres_and_s3_through_an_interruption() {
    let source = Workdir::new()
        .with_env("CLASP_SIGNING_SECRET", SECRET)
        .with_env("CLASP_S3_ENDPOINT", &required("CLASP_TEST_S3_ENDPOINT"))
        .with_env("CLASP_S3_REGION", &required("CLASP_TEST_S3_REGION"))
        .with_env(
            "CLASP_S3_ACCESS_KEY_ID",
            &required("CLASP_TEST_S3_ACCESS_KEY_ID"),
        )
        .with_env(
            "CLASP_S3_SECRET_ACCESS_KEY",
            &required("CLASP_TEST_S3_SECRET_ACCESS_KEY"),
        );
    let key = source.tenant_with_key(
        "moving",
        "attachments:read,attachments:write,attachments:delete",
    );
    let revoked = source.admin(&[
        "admin",
        "key",
        "create",
        "--tenant",
        "moving",
        "--scopes",
        "attachments:read",
    ]);
    let server = Server::start(&source);
    let c = client();
    let mut ids = Vec::new();
    for n in 0..FILES {
        let upload = form("file", &format!("f{n}.txt"), "text/plain", file(n));
        ids.push(upload_to_ticket(&c, &server, &key, HELPER_TICKET, upload).await);
    }
    let others = dialects::fill(&source, &server, &key, "moving").await;
    // A gap in the numbers, which the move must keep.
    let base = server.url(&format!("/v1/tickets/{HELPER_TICKET}/attachments"));
    let gone = ids.remove(2);
    let res = c
        .delete(format!("{base}/{gone}"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let signed_before = ticket_signed_url(&c, &server, &key, &ids[0]).await;
    drop(server);

    let database = fresh_postgres_database();
    let bucket = format!("s3://{}", required("CLASP_TEST_S3_BUCKET"));
    let args = [
        "migrate-store",
        "--to-database-url",
        &database,
        "--to-storage-url",
        &bucket,
    ];
    // Stopped dead once some rows, not all, have arrived.
    let mut first = source.command(&args).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let migrated = psql(
            &database,
            "SELECT count(*) FROM pg_class WHERE relname = 'attachments'",
        );
        let moved: u32 = if migrated == "1" {
            psql(&database, "SELECT count(*) FROM attachments")
                .parse()
                .unwrap()
        } else {
            0
        };
        if moved > 0 {
            assert!(moved < FILES - 1, "stopped before the end ({moved})");
            first.kill().unwrap();
            break;
        }
        assert!(
            first.try_wait().unwrap().is_none(),
            "it ended before it could be stopped"
        );
        assert!(Instant::now() < deadline, "no row arrived within 60 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    first.wait().unwrap();
    let resumed = source.run(&args);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let printed = String::from_utf8_lossy(&resumed.stdout);
    assert!(
        !printed.contains(" 0 already there"),
        "the second run resumed: {printed}"
    );
    assert!(String::from_utf8_lossy(&resumed.stderr).contains("ETA"));

    // The source lived on: an upload, a delete and a revocation since, which
    // the final catch-up run (writes stopped) carries over.
    let server = Server::start(&source);
    let late = form("file", "late.txt", "text/plain", file(FILES + 10));
    let late = upload_to_ticket(&c, &server, &key, HELPER_TICKET, late).await;
    let deleted = ids.remove(5);
    let base = server.url(&format!("/v1/tickets/{HELPER_TICKET}/attachments"));
    let res = c
        .delete(format!("{base}/{deleted}"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    drop(server);
    source.admin(&["admin", "key", "revoke", &revoked]);
    let catch_up = source.run(&args);
    assert!(
        catch_up.status.success(),
        "{}",
        String::from_utf8_lossy(&catch_up.stderr)
    );
    let printed = String::from_utf8_lossy(&catch_up.stdout);
    assert!(printed.contains(" 1 deleted since removed"), "{printed}");

    let target = on_postgres_and_s3(&database);
    let moved = Server::start(&target);
    let numbers: std::collections::HashMap<String, String> =
        psql(&database, "SELECT id, tenant_number FROM attachments")
            .lines()
            .filter_map(|l| l.split_once('|'))
            .map(|(id, n)| (id.to_owned(), n.to_owned()))
            .collect();
    for (n, id) in ids.iter().enumerate() {
        // ids lost the one at 2 (before the move) and the one at 5 (after).
        let n = match n {
            0..2 => n,
            2..5 => n + 1,
            _ => n + 2,
        } as u32;
        assert_eq!(
            numbers[id],
            (n + 1).to_string(),
            "attachment {n} keeps its number"
        );
        let bytes = ticket_read_back(&c, &moved, &key, id).await;
        assert_eq!(bytes, Some(file(n)), "attachment {n}");
        // And through the redirect dialect, for a sample.
        if n.is_multiple_of(50) {
            let url = moved.url(&format!("/api/v1/attachments/{id}/download"));
            let res = c.get(url).bearer_auth(&key).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::TEMPORARY_REDIRECT);
            let location = res.headers()["location"].to_str().unwrap().to_owned();
            assert_eq!(fetch(&c, &location).await, (StatusCode::OK, file(n)));
        }
    }
    let late_bytes = ticket_read_back(&c, &moved, &key, &late).await;
    assert_eq!(
        late_bytes,
        Some(file(FILES + 10)),
        "uploaded after the first run"
    );
    let gone = ticket_read_back(&c, &moved, &key, &deleted).await;
    assert_eq!(gone, None, "deleted after it");
    let list = moved.url(&format!("/v1/tickets/{HELPER_TICKET}/attachments"));
    let res = c.get(list).bearer_auth(&revoked).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "revoked after it");
    dialects::read_back(&moved, &key, "moving", &others).await;
    let path = &signed_before[signed_before.find("/signed/").unwrap()..];
    let (status, bytes) = fetch(&c, &moved.url(path)).await;
    assert_eq!(
        (status, bytes),
        (StatusCode::OK, file(0)),
        "a URL signed before the move"
    );
    let upload = form("file", "new.txt", "text/plain", file(9999));
    let new = upload_to_ticket(&c, &moved, &key, HELPER_TICKET, upload).await;
    let number = psql(
        &database,
        &format!("SELECT tenant_number FROM attachments WHERE id = '{new}'"),
    );
    assert_eq!(
        number,
        (FILES + 5).to_string(),
        "numbers go on after the moved ones (the tickets', the three others', the late one)"
    );
}
