//! Managed S3 as deployments meet it: credentials from the AWS chain with a
//! session token, and presigned URLs naming the address clients reach the
//! store at rather than the one Clasp uses.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;

use crate::harness::{PNG, Server, Workdir, upload_and_sign};
use crate::shared::{fresh_postgres_database, on_postgres_and_s3, s3_endpoint};

#[tokio::test(flavor = "multi_thread")]
async fn presigned_urls_name_the_public_endpoint() {
    let internal = s3_endpoint();
    let public = internal.replace("127.0.0.1", "localhost");
    assert_ne!(public, internal);
    let work = on_postgres_and_s3(&fresh_postgres_database())
        .with_env("CLASP_S3_PUBLIC_ENDPOINT", &public);
    let key = work.tenant_with_key("public", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let presigned = upload_and_sign(&server, &key, "a.png", "image/png", PNG).await;
    assert!(presigned.starts_with(&format!("{public}/")), "{presigned}");
    let res = reqwest::get(&presigned).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "signed for the host it names");
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);
}

/// `work` with its configured S3 key pair moved into the standard AWS
/// variables, where the AWS credential chain finds it.
fn keys_in_the_aws_environment(mut work: Workdir) -> Workdir {
    let mut take = |key: &str| {
        let at = work.env.iter().position(|(k, _)| k == key).unwrap();
        work.env.remove(at).1
    };
    let (id, secret) = (
        take("CLASP_S3_ACCESS_KEY_ID"),
        take("CLASP_S3_SECRET_ACCESS_KEY"),
    );
    work.with_env("AWS_ACCESS_KEY_ID", &id)
        .with_env("AWS_SECRET_ACCESS_KEY", &secret)
}

#[tokio::test(flavor = "multi_thread")]
async fn without_configured_keys_the_aws_chain_provides_them() {
    let work = keys_in_the_aws_environment(on_postgres_and_s3(&fresh_postgres_database()));
    let key = work.tenant_with_key("chain", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let presigned = upload_and_sign(&server, &key, "a.png", "image/png", PNG).await;
    let res = reqwest::get(&presigned).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);
}

/// An S3 endpoint that answers every request `200` with an `ETag`, and
/// keeps each request's head, lower-cased: what Clasp sends, where the test
/// SeaweedFS (which refuses session tokens it did not issue) cannot say.
fn recording_endpoint() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let heads = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&heads);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let kept = Arc::clone(&kept);
            std::thread::spawn(move || answer_each(stream, &kept));
        }
    });
    (url, heads)
}

fn answer_each(stream: TcpStream, heads: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut head = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(n) = lower.strip_prefix("content-length:") {
                length = n.trim().parse().unwrap_or(0);
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&lower);
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        heads.lock().unwrap().push(head);
        let answer = "HTTP/1.1 200 OK\r\nETag: \"e\"\r\nContent-Length: 0\r\n\r\n";
        if reader.get_mut().write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_token_goes_with_every_request_and_every_presigned_url() {
    let (endpoint, heads) = recording_endpoint();
    let token = "clasp-test-session-token";
    let work = keys_in_the_aws_environment(on_postgres_and_s3(&fresh_postgres_database()))
        .with_env("CLASP_S3_ENDPOINT", &endpoint)
        .with_env("AWS_SESSION_TOKEN", token);
    let key = work.tenant_with_key("token", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let presigned = upload_and_sign(&server, &key, "a.png", "image/png", PNG).await;
    assert!(
        presigned.contains(&format!("X-Amz-Security-Token={token}")),
        "{presigned}"
    );
    let heads = heads.lock().unwrap().clone();
    assert!(
        heads.iter().any(|h| h.starts_with("put ")),
        "the upload was sent: {heads:?}"
    );
    for head in &heads {
        assert!(
            head.contains(&format!("x-amz-security-token: {token}")),
            "{head}"
        );
    }
}
