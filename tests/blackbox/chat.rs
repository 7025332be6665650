//! The `chat` dialect end to end, on the embedded defaults: session cookies
//! (expiry, revocation, tenants), multi-file uploads kept all or none, declared
//! checksums, downloads by name, thumbnails and a decompression bomb.

use std::io::Cursor;
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::harness::{Server, Workdir, client};

pub(crate) mod support;

use support::*;

#[tokio::test]
async fn two_files_in_one_message_metadata_download_and_delete() {
    let work = Workdir::new();
    let s = session(&work, "chat-1", "user-7");
    let server = Server::start(&work);
    let c = client();
    let text = b"hello chat".to_vec();
    let pdf = b"%PDF-1.7\n% a tiny pdf\n".to_vec();
    let form = Form::new()
        .part("files", file("notes.txt", "text/plain", text.clone()))
        .part(
            "files",
            file("Document.pdf", "application/pdf", pdf.clone()),
        );
    let before = time_ms();
    let (status, body) = upload(
        &c,
        &server,
        "/api/v1/messages/1234567/attachments?roomId=6",
        &s,
        form,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["httpStatusCode"], 200);
    let ids: Vec<i64> = body["attachmentIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(body["attachments"].as_array().unwrap().len(), 2);
    assert_eq!(body["attachments"][1]["fileName"], "Document.pdf");

    let (status, meta) = metadata(&c, &server, &s, ids[1]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(meta["attachmentId"], ids[1]);
    assert_eq!(
        meta["attachmentState"],
        "ReadyForDownloadFromServerToClient"
    );
    assert_eq!(meta["fileChecksum"], sha256_hex(&pdf));
    assert_eq!(meta["fileName"], "Document.pdf");
    assert_eq!(meta["fileSize"], pdf.len());
    assert_eq!(meta["hasThumbnail"], false);
    assert_eq!(meta["roomId"], 6);
    assert_eq!(meta["textMessageId"], 1_234_567);
    let created = meta["createdUtc"].as_i64().unwrap();
    assert!(
        created >= before - 1000 && created <= time_ms() + 1000,
        "{created}"
    );
    assert!(meta["lastModifiedUtc"].as_i64().unwrap() >= created);
    assert_eq!(
        meta, body["attachments"][1],
        "the upload answers the same objects"
    );

    let res = fetch(
        &c,
        server.url(&format!("/api/v1/attachments/{}/notes.txt", ids[0])),
        &s,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/plain");
    assert_eq!(
        res.headers()["content-length"],
        text.len().to_string().as_str()
    );
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"notes.txt\""
    );
    assert_eq!(res.bytes().await.unwrap().to_vec(), text);

    let res = fetch(
        &c,
        server.url(&format!("/api/v1/attachments/{}/other.txt", ids[0])),
        &s,
    )
    .await;
    let status = res.status();
    assert_error(status, &res.json().await.unwrap(), StatusCode::NOT_FOUND);

    let res = c
        .delete(server.url(&format!("/api/v1/attachments/{}", ids[0])))
        .header("cookie", cookie(&s))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        serde_json::json!({"httpStatusCode": 200})
    );
    let (status, body) = metadata(&c, &server, &s, ids[0]).await;
    assert_error(status, &body, StatusCode::NOT_FOUND);
    let res = fetch(
        &c,
        server.url(&format!("/api/v1/attachments/{}/notes.txt", ids[0])),
        &s,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let (status, _) = metadata(&c, &server, &s, ids[1]).await;
    assert_eq!(status, StatusCode::OK, "the other file stays");
}

fn time_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

#[tokio::test]
async fn one_refused_file_refuses_the_whole_upload_and_keeps_nothing() {
    let work = Workdir::new().with_env("CLASP_MAX_UPLOAD_BYTES", "1000");
    let s = session(&work, "chat-2", "user-1");
    let server = Server::start(&work);
    let c = client();
    let path = "/api/v1/messages/5/attachments";

    let cases = [
        (
            file("evil.exe", "application/x-msdownload", b"MZ...".to_vec()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "evil.exe",
        ),
        (
            file("big.txt", "text/plain", vec![b'a'; 1001]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "big.txt",
        ),
        (
            file("fake.png", "image/png", b"GIF89a not a png".to_vec()),
            StatusCode::BAD_REQUEST,
            "fake.png",
        ),
    ];
    for (bad, want, name) in cases {
        let form = Form::new()
            .part("files", file("fine.txt", "text/plain", b"fine".to_vec()))
            .part("files", bad)
            .part("files", file("after.txt", "text/plain", b"after".to_vec()));
        let (status, body) = upload(&c, &server, path, &s, form).await;
        assert_error(status, &body, want);
        assert!(body["errorText"].as_str().unwrap().contains(name), "{body}");
        assert!(work.blob_files().is_empty(), "{name}: no bytes kept");
    }

    let mut many = Form::new();
    for i in 0..21 {
        many = many.part(
            "files",
            file(&format!("f{i}.txt"), "text/plain", b"x".to_vec()),
        );
    }
    let (status, body) = upload(&c, &server, path, &s, many).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST);
    assert!(body["errorText"].as_str().unwrap().contains("20"), "{body}");
    assert!(work.blob_files().is_empty());

    let none = Form::new().text("other", "x");
    let (status, body) = upload(&c, &server, path, &s, none).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST);
    for bad_path in [
        "/api/v1/messages/abc/attachments",
        "/api/v1/messages/5/attachments?roomId=x",
    ] {
        let form = Form::new().part("files", file("a.txt", "text/plain", b"a".to_vec()));
        let (status, body) = upload(&c, &server, bad_path, &s, form).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST);
    }

    // nothing of the refused uploads was numbered visibly
    let form = Form::new().part("files", file("ok.txt", "text/plain", b"ok".to_vec()));
    let (status, body) = upload(&c, &server, path, &s, form).await;
    assert_eq!(status, StatusCode::OK);
    let ok = body["attachmentIds"][0].as_i64().unwrap();
    for n in 1..ok {
        assert_eq!(
            metadata(&c, &server, &s, n).await.0,
            StatusCode::NOT_FOUND,
            "#{n}"
        );
    }
    assert_eq!(work.blob_files().len(), 1);
}

#[tokio::test]
async fn declared_checksums_are_verified_while_streaming() {
    let work = Workdir::new();
    let s = session(&work, "chat-3", "user-1");
    let server = Server::start(&work);
    let c = client();
    let good = b"checked by digest".to_vec();
    let bad = b"not what was declared".to_vec();
    let mut digest = HeaderMap::new();
    let b64 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&good));
    digest.insert(
        "content-digest",
        HeaderValue::from_str(&format!("sha-512=:AAAA:, sha-256=:{b64}:")).unwrap(),
    );
    let form = Form::new()
        .part(
            "files",
            file("good.txt", "text/plain", good.clone()).headers(digest),
        )
        .text("fileChecksum", sha256_hex(b"something else"))
        .part("files", file("bad.txt", "text/plain", bad.clone()))
        .text("roomId", "9");
    let (status, body) = upload(&c, &server, "/api/v1/messages/77/attachments", &s, form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ids = body["attachmentIds"].as_array().unwrap().clone();
    let (good_id, bad_id) = (ids[0].as_i64().unwrap(), ids[1].as_i64().unwrap());

    let (_, meta) = metadata(&c, &server, &s, good_id).await;
    assert_eq!(
        meta["attachmentState"],
        "ReadyForDownloadFromServerToClient"
    );
    assert_eq!(
        meta["roomId"], 9,
        "a roomId field after the files applies too"
    );
    let res = fetch(
        &c,
        server.url(&format!("/api/v1/attachments/{good_id}/good.txt")),
        &s,
    )
    .await;
    assert_eq!(res.bytes().await.unwrap().to_vec(), good);

    let (status, meta) = metadata(&c, &server, &s, bad_id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        meta["attachmentState"],
        "ChecksumVerificationOnServerSideMismatch"
    );
    assert_eq!(
        meta["fileChecksum"],
        sha256_hex(&bad),
        "what the server received"
    );
    let res = fetch(
        &c,
        server.url(&format!("/api/v1/attachments/{bad_id}/bad.txt")),
        &s,
    )
    .await;
    let status = res.status();
    assert_error(status, &res.json().await.unwrap(), StatusCode::NOT_FOUND);
    assert_eq!(
        work.blob_files().len(),
        1,
        "the mismatching bytes are not kept"
    );

    let mut malformed = HeaderMap::new();
    malformed.insert(
        "content-digest",
        HeaderValue::from_static("sha-256=:bm9wZQ==:"),
    );
    let form = Form::new().part(
        "files",
        file("m.txt", "text/plain", b"m".to_vec()).headers(malformed),
    );
    let (status, body) = upload(&c, &server, "/api/v1/messages/77/attachments", &s, form).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn sessions_must_be_valid_unexpired_unrevoked_and_see_only_their_tenant() {
    // a revocation by `clasp admin` is seen within `credential_cache_secs`,
    // which the sleep below outlasts
    let work = Workdir::new().with_env("CLASP_CREDENTIAL_CACHE_SECS", "1");
    let s = session(&work, "chat-4", "user-1");
    let other = session(&work, "chat-5", "user-2");
    let short = work.admin(&[
        "admin", "session", "create", "--tenant", "chat-4", "--user", "u", "--ttl", "1s",
    ]);
    let doomed = work.admin(&[
        "admin",
        "session",
        "create",
        "--tenant",
        "chat-4",
        "--user",
        "u",
        "--all-rooms",
    ]);
    let server = Server::start(&work);
    let c = client();
    let form = Form::new().part("files", file("a.txt", "text/plain", b"a".to_vec()));
    let (_, body) = upload(&c, &server, "/api/v1/messages/1/attachments", &s, form).await;
    let n = body["attachmentIds"][0].as_i64().unwrap();
    assert_eq!(metadata(&c, &server, &doomed, n).await.0, StatusCode::OK);

    let revoked: Value =
        serde_json::from_str(&work.admin(&["admin", "session", "revoke", &doomed])).unwrap();
    assert_eq!(revoked["user_id"], "u");
    assert!(revoked["revoked_at"].as_str().is_some());
    let again = work.admin(&[
        "admin",
        "session",
        "revoke",
        revoked["id"].as_str().unwrap(),
    ]);
    let again: Value = serde_json::from_str(&again).unwrap();
    assert_eq!(
        again["revoked_at"], revoked["revoked_at"],
        "revoking twice keeps the first time"
    );
    let unknown = work.run(&["admin", "session", "revoke", "no-such-cookie"]);
    assert!(!unknown.status.success());
    assert!(
        !String::from_utf8_lossy(&unknown.stderr).contains("no-such-cookie"),
        "secrets are not echoed"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let endpoints = [
        ("GET", format!("/api/v1/attachments/{n}")),
        ("GET", format!("/api/v1/attachments/{n}/a.txt")),
        ("DELETE", format!("/api/v1/attachments/{n}")),
        ("POST", "/api/v1/messages/1/attachments".to_owned()),
    ];
    for (method, path) in &endpoints {
        for (why, value) in [
            ("none", None),
            ("unknown", Some("not-a-session")),
            ("expired", Some(short.as_str())),
            ("revoked", Some(doomed.as_str())),
        ] {
            let mut req = c.request(method.parse().unwrap(), server.url(path));
            if let Some(v) = value {
                req = req.header("cookie", cookie(v));
            }
            if *method == "POST" {
                req = req.multipart(
                    Form::new().part("files", file("b.txt", "text/plain", b"b".to_vec())),
                );
            }
            let res = req.send().await.unwrap();
            let status = res.status();
            let expiring = res.headers().get("set-cookie").cloned();
            let body: Value = res.json().await.unwrap();
            assert_error(status, &body, StatusCode::UNAUTHORIZED);
            if value.is_some() {
                let set = expiring.unwrap_or_else(|| panic!("{why}: the dead cookie is expired"));
                let set = set.to_str().unwrap();
                assert!(
                    set.starts_with("clasp_session=;")
                        && set.contains("Max-Age=0")
                        && set.contains("HttpOnly")
                        && set.contains("SameSite=Lax"),
                    "{set}"
                );
            }
        }
        if *method != "POST" {
            // another tenant's session: not found, as an unknown number is
            let res = c
                .request(method.parse().unwrap(), server.url(path))
                .header("cookie", cookie(&other))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{method} {path}");
        }
    }
    assert_eq!(
        metadata(&c, &server, &s, n).await.0,
        StatusCode::OK,
        "still there"
    );
    assert_eq!(
        work.blob_files().len(),
        1,
        "the refused upload kept nothing"
    );
}

#[tokio::test]
async fn images_get_thumbnails_and_a_decompression_bomb_breaks_nothing() {
    let work = Workdir::new();
    let s = session(&work, "chat-6", "user-1");
    let server = Server::start(&work);
    let c = client();
    let bomb = png_bomb();
    assert!(bomb.len() < 3 << 20, "{} bytes", bomb.len());
    let form = Form::new()
        .part("files", file("bomb.png", "image/png", bomb))
        .part(
            "files",
            file("photo.png", "image/png", png_picture(640, 400)),
        );
    let (status, body) = upload(&c, &server, "/api/v1/messages/3/attachments", &s, form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["attachments"][1]["hasThumbnail"], false,
        "made after the answer"
    );
    let bomb_id = body["attachmentIds"][0].as_i64().unwrap();
    let photo_id = body["attachmentIds"][1].as_i64().unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, meta) = metadata(&c, &server, &s, photo_id).await;
        if meta["hasThumbnail"] == true {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no thumbnail within 10 s: {meta}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let res = fetch(
        &c,
        server.url(&format!("/api/v1/attachments/{photo_id}/thumbnail")),
        &s,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/webp");
    let thumb = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (256, 160));

    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, meta) = metadata(&c, &server, &s, bomb_id).await;
    assert_eq!(
        meta["attachmentState"],
        "ReadyForDownloadFromServerToClient"
    );
    assert_eq!(meta["hasThumbnail"], false);
    let res = fetch(
        &c,
        server.url(&format!("/api/v1/attachments/{bomb_id}/thumbnail")),
        &s,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let health = c.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    // deleting removes the thumbnail's bytes too
    let before = work.blob_files().len();
    c.delete(server.url(&format!("/api/v1/attachments/{photo_id}")))
        .header("cookie", cookie(&s))
        .send()
        .await
        .unwrap();
    assert_eq!(work.blob_files().len(), before - 2);
}

#[tokio::test]
async fn the_download_path_is_a_file_named_download_for_a_session() {
    let work = Workdir::new();
    let s = session(&work, "chat-7", "user-1");
    let server = Server::start(&work);
    let c = client();
    let form = Form::new().part(
        "files",
        file("download", "text/plain", b"named download".to_vec()),
    );
    let (_, body) = upload(&c, &server, "/api/v1/messages/4/attachments", &s, form).await;
    let n = body["attachmentIds"][0].as_i64().unwrap();
    let res = fetch(
        &c,
        server.url(&format!("/api/v1/attachments/{n}/download")),
        &s,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"named download");
}

#[tokio::test]
async fn on_postgres_and_s3_too() {
    let work = crate::shared::on_postgres_and_s3(&crate::shared::fresh_postgres_database());
    let s = session(&work, "chat-8", "user-1");
    let server = Server::start(&work);
    let c = client();
    let picture = png_picture(300, 600);
    let form = Form::new()
        .part("files", file("a.txt", "text/plain", b"on s3".to_vec()))
        .part("files", file("p.png", "image/png", picture.clone()));
    let (status, body) = upload(&c, &server, "/api/v1/messages/11/attachments", &s, form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let png = body["attachmentIds"][1].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while metadata(&c, &server, &s, png).await.1["hasThumbnail"] != true {
        assert!(Instant::now() < deadline, "no thumbnail within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let res = fetch(
        &c,
        server.url(&format!("/api/v1/attachments/{png}/thumbnail")),
        &s,
    )
    .await;
    let thumb = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (128, 256));
    let res = fetch(
        &c,
        server.url(&format!("/api/v1/attachments/{png}/p.png")),
        &s,
    )
    .await;
    assert_eq!(res.bytes().await.unwrap().to_vec(), picture);
    let res = c
        .delete(server.url(&format!("/api/v1/attachments/{png}")))
        .header("cookie", cookie(&s))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        metadata(&c, &server, &s, png).await.0,
        StatusCode::NOT_FOUND
    );
}
