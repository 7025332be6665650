//! Who answers `/api/v1`, which seeds 003 (chat: the session cookie and
//! attachment numbers) and 004 (redirect: a Bearer key and UUIDs) share: every
//! combination of cookie, Bearer, both and neither × a numeric and a UUID id,
//! on the embedded defaults and on PostgreSQL with S3. Seed 003's errors even
//! speak of "Wrong Bearer, please renew Web API Access Token", so a chat client
//! may send a Bearer header with its cookie and must still be served.

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{HELPER_TICKET, Server, Workdir, client, form, upload_to_ticket};
use crate::redirect::assert_error;
use crate::shared::{fresh_postgres_database, on_postgres_and_s3};

/// What answered: chat's file, redirect's 307, or an error body of either.
#[derive(Debug, PartialEq)]
enum Answer {
    /// 200 with the chat file's bytes.
    ChatFile,
    /// Seed 003's `{errorText, httpStatusCode}` with this status.
    Chat(u16),
    /// Seed 004's 307 with `{}`.
    Redirect,
    /// Seed 004's error body of this status.
    Redirected(u16),
}

async fn ask(server: &Server, id: &str, cookie: Option<&str>, key: Option<&str>) -> Answer {
    let mut req = client().get(server.url(&format!("/api/v1/attachments/{id}/download")));
    if let Some(cookie) = cookie {
        req = req.header("Cookie", format!("clasp_session={cookie}"));
    }
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let bytes = res.bytes().await.unwrap();
    if status == StatusCode::OK {
        assert_eq!(bytes.as_ref(), b"chat's own file");
        return Answer::ChatFile;
    }
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    if status == StatusCode::TEMPORARY_REDIRECT {
        assert_eq!(body, serde_json::json!({}));
        return Answer::Redirect;
    }
    if body.get("errorText").is_some() {
        assert_eq!(body["httpStatusCode"], status.as_u16(), "{body}");
        assert!(body.get("error").is_none(), "one shape: {body}");
        return Answer::Chat(status.as_u16());
    }
    let problem = if status == StatusCode::UNAUTHORIZED {
        "unauthorized"
    } else {
        "not_found"
    };
    assert_error(status, &body, status, problem);
    Answer::Redirected(status.as_u16())
}

async fn routing(work: Workdir) {
    let key = work.tenant_with_key("api-v1", "attachments:read,attachments:write");
    let cookie = work.admin(&[
        "admin",
        "session",
        "create",
        "--tenant",
        "api-v1",
        "--user",
        "u1",
        "--all-rooms",
    ]);
    let server = Server::start(&work);
    let c = client();
    let made = form("file", "a.txt", "text/plain", b"the key's file".to_vec());
    let uuid = upload_to_ticket(&c, &server, &key, HELPER_TICKET, made).await;
    let res = c
        .post(server.url("/api/v1/messages/5/attachments"))
        .header("Cookie", format!("clasp_session={cookie}"))
        .multipart(form(
            "files",
            "download",
            "text/plain",
            b"chat's own file".to_vec(),
        ))
        .send()
        .await
        .unwrap();
    let uploaded: Value = res.json().await.unwrap();
    let number = uploaded["attachmentIds"][0].as_i64().unwrap().to_string();
    let (cookie, key) = (Some(cookie.as_str()), Some(key.as_str()));
    let digits = "61207971309169387582445561315328".to_owned();

    use Answer::*;
    for (what, id, with_cookie, with_key, expected) in [
        // "a request carrying the session cookie and a numeric id is chat's,
        // whatever other headers come with it"
        ("cookie, number", &number, cookie, None, ChatFile),
        ("both, number", &number, cookie, key, ChatFile),
        // "a Bearer key and no session cookie is the redirect dialect's, and a
        // non-UUID id there is seed 004's 404 body"
        ("Bearer, number", &number, None, key, Redirected(404)),
        // "a UUID id is the redirect dialect's"
        ("Bearer, UUID", &uuid, None, key, Redirect),
        ("both, UUID", &uuid, cookie, key, Redirect),
        ("cookie, UUID", &uuid, cookie, None, Redirected(401)),
        // "no credentials at all: a UUID download gets seed 004's 401 body, a
        // numeric id gets chat's 401"
        ("neither, UUID", &uuid, None, None, Redirected(401)),
        ("neither, number", &number, None, None, Chat(401)),
        // 32 digits parse as a UUID without hyphens, but are a chat number
        ("cookie, 32 digits", &digits, cookie, None, Chat(404)),
        ("neither, 32 digits", &digits, None, None, Chat(401)),
    ] {
        assert_eq!(
            ask(&server, id, with_cookie, with_key).await,
            expected,
            "{what}"
        );
    }
}

#[tokio::test]
async fn api_v1_is_chat_s_by_cookie_and_number_and_redirect_s_by_key_and_uuid() {
    routing(Workdir::new()).await;
}

#[tokio::test]
async fn api_v1_routing_is_the_same_on_postgres_and_s3() {
    routing(on_postgres_and_s3(&fresh_postgres_database())).await;
}
