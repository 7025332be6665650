//! Chat end users reach only their rooms, on the embedded defaults and on
//! PostgreSQL with S3: a matrix of sessions (a member of the room, a member of
//! another room, a session without rooms, an all-rooms moderator) × (metadata,
//! file, delete, upload into the room), asserted to the status and to the
//! absence of the file's name and bytes in every refusal. Sessions are minted
//! both by the CLI and by the admin API.

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::harness::{ADMIN_TOKEN, HELPER_TICKET, PNG, Server, Workdir, client, form};
use crate::shared::{fresh_postgres_database, on_postgres_and_s3};

const TENANT: &str = "rooms-ws";
/// In the room's file name and bytes: no refusal may contain either.
const SECRET_NAME: &str = "room6-secret.txt";
const SECRET_BYTES: &[u8] = b"ROOM-SIX-ONLY-7f3a";

/// A `clasp admin session create` session of `user` with `flags`.
fn cli_session(work: &Workdir, user: &str, flags: &[&str]) -> String {
    let mut args = vec![
        "admin", "session", "create", "--tenant", TENANT, "--user", user,
    ];
    args.extend_from_slice(flags);
    work.admin(&args)
}

/// A session of `user` minted over the admin API with `reach` (`rooms` or
/// `all_rooms`).
async fn api_session(server: &Server, user: &str, reach: Value) -> String {
    let mut body = json!({ "user_id": user });
    body.as_object_mut()
        .unwrap()
        .extend(reach.as_object().unwrap().clone());
    let res = client()
        .post(server.admin_url(&format!("/admin/v1/tenants/{TENANT}/sessions")))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let made: Value = res.json().await.unwrap();
    made["cookie"].as_str().unwrap().to_owned()
}

/// `method url` with the session `cookie`: status and body bytes.
async fn call(
    method: reqwest::Method,
    url: String,
    cookie: &str,
    form: Option<Form>,
) -> (StatusCode, Vec<u8>) {
    let mut req = client()
        .request(method, url)
        .header("Cookie", format!("clasp_session={cookie}"));
    if let Some(form) = form {
        req = req.multipart(form);
    }
    let res = req.send().await.unwrap();
    (res.status(), res.bytes().await.unwrap().to_vec())
}

/// Uploads `name` with `bytes` into `room` (none: no room); the status and,
/// on success, the new attachment's number.
async fn post(
    server: &Server,
    cookie: &str,
    room: Option<&str>,
    name: &str,
    bytes: &[u8],
) -> (StatusCode, Option<i64>) {
    let query = room.map(|r| format!("?roomId={r}")).unwrap_or_default();
    let part = Part::bytes(bytes.to_vec())
        .file_name(name.to_owned())
        .mime_str("text/plain")
        .unwrap();
    let url = server.url(&format!("/api/v1/messages/100/attachments{query}"));
    let (status, body) = call(
        reqwest::Method::POST,
        url,
        cookie,
        Some(Form::new().part("files", part)),
    )
    .await;
    let made: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, made["attachmentIds"][0].as_i64())
}

fn reveals(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    text.contains(SECRET_NAME) || text.contains(std::str::from_utf8(SECRET_BYTES).unwrap())
}

/// Metadata, file and delete of attachment `n` named `name` with `cookie`.
async fn reach(server: &Server, cookie: &str, n: i64, name: &str) -> [StatusCode; 3] {
    let meta = call(
        reqwest::Method::GET,
        server.url(&format!("/api/v1/attachments/{n}")),
        cookie,
        None,
    )
    .await;
    let file = call(
        reqwest::Method::GET,
        server.url(&format!("/api/v1/attachments/{n}/{name}")),
        cookie,
        None,
    )
    .await;
    let delete = call(
        reqwest::Method::DELETE,
        server.url(&format!("/api/v1/attachments/{n}")),
        cookie,
        None,
    )
    .await;
    for (status, body) in [&meta, &file, &delete] {
        if !status.is_success() {
            assert!(
                !reveals(body),
                "a refusal holds the file: {}",
                String::from_utf8_lossy(body)
            );
        }
    }
    [meta.0, file.0, delete.0]
}

async fn matrix(work: Workdir) {
    let key = work.tenant_with_key(
        TENANT,
        "attachments:read,attachments:write,attachments:delete",
    );
    let alice = cli_session(&work, "alice", &["--rooms", "6"]);
    let carol = cli_session(&work, "carol", &["--rooms", "7,8"]);
    let dave = cli_session(&work, "dave", &[]);
    let server = Server::start(&work);
    let bob = api_session(&server, "bob", json!({"rooms": [6]})).await;
    let moderator = api_session(&server, "mod", json!({"all_rooms": true})).await;

    let (status, secret) = post(&server, &alice, Some("6"), SECRET_NAME, SECRET_BYTES).await;
    assert_eq!(status, StatusCode::OK);
    let secret = secret.unwrap();
    let (status, own) = post(&server, &dave, None, "dave.txt", b"dave's own").await;
    assert_eq!(status, StatusCode::OK);
    let own = own.unwrap();
    let res = client()
        .post(server.url(&format!("/v1/tickets/{HELPER_TICKET}/attachments")))
        .bearer_auth(&key)
        .multipart(form("file", "ticket.png", "image/png", PNG.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let mut ticket = None;
    for n in 1..=own + 2 {
        let (status, body) = call(
            reqwest::Method::GET,
            server.url(&format!("/api/v1/attachments/{n}")),
            &moderator,
            None,
        )
        .await;
        let meta: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if status == StatusCode::OK && meta["fileName"] == "ticket.png" {
            ticket = Some(n);
        }
    }
    let ticket = ticket.expect("the moderator reaches the tickets dialect's file by number");

    use StatusCode as S;
    let (ok, gone, forbidden) = (S::OK, S::NOT_FOUND, S::FORBIDDEN);
    // who × (metadata, file, delete) of the room's file; deletes refused here
    for (who, cookie, expected) in [
        ("a member of room 6", &bob, [ok, ok, forbidden]),
        ("a member of rooms 7 and 8", &carol, [gone, gone, gone]),
        ("a session without rooms", &dave, [gone, gone, gone]),
    ] {
        assert_eq!(
            reach(&server, cookie, secret, SECRET_NAME).await,
            expected,
            "{who}"
        );
    }
    // nobody but the moderator reaches another dialect's file by number, or
    // another user's room-less upload
    for (who, cookie) in [("alice", &alice), ("bob", &bob), ("carol", &carol)] {
        assert_eq!(
            reach(&server, cookie, ticket, "ticket.png").await,
            [gone; 3],
            "{who}: the ticket's file"
        );
        assert_eq!(
            reach(&server, cookie, own, "dave.txt").await,
            [gone; 3],
            "{who}: dave's own file"
        );
    }
    // uploads into room 6
    for (who, cookie, expected) in [
        ("a member of room 6", &bob, ok),
        ("a member of rooms 7 and 8", &carol, forbidden),
        ("a session without rooms", &dave, forbidden),
        ("the moderator", &moderator, ok),
    ] {
        assert_eq!(
            post(&server, cookie, Some("6"), "up.txt", b"up").await.0,
            expected,
            "{who}"
        );
    }
    // the metadata shows the room
    let (_, body) = call(
        reqwest::Method::GET,
        server.url(&format!("/api/v1/attachments/{secret}")),
        &bob,
        None,
    )
    .await;
    let meta: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(meta["roomId"], 6, "{meta}");
    // deletes: the uploader and the moderator may
    assert_eq!(
        reach(&server, &dave, own, "dave.txt").await,
        [ok, ok, ok],
        "dave's own file"
    );
    assert_eq!(
        reach(&server, &moderator, ticket, "ticket.png").await,
        [ok, ok, ok],
        "the moderator"
    );
    assert_eq!(
        reach(&server, &alice, secret, SECRET_NAME).await,
        [ok, ok, ok],
        "the uploader"
    );
    assert_eq!(
        reach(&server, &bob, secret, SECRET_NAME).await,
        [gone; 3],
        "deleted"
    );

    // numbers count per tenant: another tenant's first upload is its 1, however
    // many this tenant holds, and each tenant's 1 is its own file
    assert_eq!(secret, 1, "this tenant's first upload");
    work.tenant_with_key("rooms-other", "attachments:read");
    let flags = [
        "admin",
        "session",
        "create",
        "--tenant",
        "rooms-other",
        "--user",
        "erin",
    ];
    let erin = work.admin(&flags);
    let first = post(&server, &erin, None, "erin.txt", b"erin's").await;
    assert_eq!(first, (ok, Some(1)), "another tenant counts from 1");
    let (status, body) = call(
        reqwest::Method::GET,
        server.url("/api/v1/attachments/1"),
        &erin,
        None,
    )
    .await;
    assert_eq!(status, ok);
    assert!(String::from_utf8_lossy(&body).contains("erin.txt"));
}

#[tokio::test]
async fn chat_sessions_reach_only_their_rooms_on_the_embedded_defaults() {
    matrix(Workdir::new()).await;
}

#[tokio::test]
async fn chat_sessions_reach_only_their_rooms_on_postgres_and_s3() {
    matrix(on_postgres_and_s3(&fresh_postgres_database())).await;
}
