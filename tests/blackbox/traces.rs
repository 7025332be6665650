//! OpenTelemetry traces of the built binary, received by an OTLP/HTTP endpoint
//! this test runs on loopback: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, a
//! request carrying a W3C `traceparent` is a span of the caller's trace, and
//! the database calls, store calls and virus scan it made are spans under it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{HELPER_TICKET, PNG, Server, Workdir, client, form, required};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER: &str = "00f067aa0ba902b7";

/// What an endpoint received: each request's path and body.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// An OTLP/HTTP endpoint on loopback keeping every body posted to it.
fn receiver() -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let keep = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let keep = keep.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                // one request after another on a kept-alive connection
                loop {
                    let mut head = String::new();
                    let mut line = String::new();
                    let mut length = 0;
                    while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                        if let Some((name, value)) = line.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap();
                        }
                        head.push_str(&line);
                        line.clear();
                    }
                    if head.is_empty() {
                        return;
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let path = head
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or_default()
                        .to_owned();
                    keep.lock().unwrap().push((path, body));
                    let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                    if stream.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (base, received)
}

/// Every span received, by span id, each with its resource's service name.
fn spans(received: &[(String, Vec<u8>)]) -> HashMap<String, (Value, String)> {
    let mut all = HashMap::new();
    for (path, body) in received {
        assert_eq!(path, "/v1/traces");
        let export: Value = serde_json::from_slice(body).unwrap();
        for resource in export["resourceSpans"].as_array().unwrap() {
            let service = resource["resource"]["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["key"] == "service.name")
                .map(|a| a["value"]["stringValue"].as_str().unwrap().to_owned())
                .unwrap_or_default();
            for scope in resource["scopeSpans"].as_array().unwrap() {
                for span in scope["spans"].as_array().unwrap() {
                    let id = span["spanId"].as_str().unwrap().to_owned();
                    all.insert(id, (span.clone(), service.clone()));
                }
            }
        }
    }
    all
}

#[tokio::test]
async fn a_request_joins_its_callers_trace_with_its_database_store_and_scan_calls() {
    let (endpoint, received) = receiver();
    let work = Workdir::new()
        .with_env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .with_env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
        .with_env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .with_env("CLASP_CLAMAV_ADDRESS", &required("CLASP_TEST_CLAMAV_TCP"));
    let key = work.tenant_with_key("acme", "attachments:read,attachments:write");
    let server = Server::start(&work);
    let res = client()
        .post(server.url(&format!("/v1/tickets/{HELPER_TICKET}/attachments")))
        .bearer_auth(&key)
        .header("traceparent", format!("00-{TRACE}-{CALLER}-01"))
        .multipart(form("file", "a.png", "image/png", PNG.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    // Stopping sends the spans still batched.
    assert!(server.stop().success());

    let spans = spans(&received.lock().unwrap());
    let name = |span: &Value| span["name"].as_str().unwrap_or_default().to_owned();
    let attribute = |span: &Value, key: &str| {
        span["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
            .map(|a| a["value"].clone())
    };
    let route = "/v1/tickets/{ticket_id}/attachments";
    let (request, service) = spans
        .values()
        .find(|(s, _)| attribute(s, "http.route").is_some_and(|r| r["stringValue"] == route))
        .unwrap_or_else(|| panic!("no request span in {spans:#?}"));
    assert_eq!(service, "clasp");
    assert_eq!(name(request), "POST");
    assert_eq!(request["kind"], 2, "a server span");
    assert_eq!(
        attribute(request, "http.response.status_code").unwrap()["intValue"],
        "201"
    );
    assert!(attribute(request, "request_id").is_some());
    assert_eq!(request["traceId"], TRACE, "the caller's trace goes on");
    assert_eq!(request["parentSpanId"], CALLER, "under the caller's span");
    // each call the request made is a span of the same trace under it
    let under_request = |wanted: &str| {
        spans.values().any(|(s, _)| {
            name(s) == wanted && s["traceId"] == TRACE && s["parentSpanId"] == request["spanId"]
        })
    };
    for wanted in [
        "database insert",
        "database update",
        "store put",
        "virus scan",
    ] {
        assert!(under_request(wanted), "no {wanted} span: {spans:#?}");
    }
}
