//! Admission over in-memory adapters: upload slots, per-credential rates, and
//! refusals in each dialect's error shape.

use actix_web::http::StatusCode;
use actix_web::test as http;
use clasp_domain::{Scopes, UploadPolicy};
use clasp_http::limits::Admission;
use clasp_http::ops::Metrics;
use clasp_http::{FrontDoor, Services};
use serde_json::Value;

use crate::common::{memory_services, sessions, tenant_with_key};

/// The app over `services`, letting each principal one request a second.
fn one_request_a_second(services: Services) -> FrontDoor {
    FrontDoor::new(services)
        .unwrap()
        .with_admission(Admission::new(0, 1, 1))
}

#[actix_web::test]
async fn refusals_come_in_the_dialect_s_error_shape() {
    let (services, _) = memory_services(UploadPolicy::default());
    let key = tenant_with_key(&services, "acme").await;
    let app = http::init_service(one_request_a_second(services).app()).await;
    let get = |uri: &str| {
        http::TestRequest::get()
            .uri(uri)
            .insert_header(("Authorization", format!("Bearer {key}")))
            .insert_header(("x-workspace-id", "acme"))
            .to_request()
    };
    let tickets = "/v1/tickets/550e8400-e29b-41d4-a716-446655440000/attachments";
    let res = http::call_service(&app, get(tickets)).await;
    assert_eq!(res.status(), StatusCode::OK);

    let res = http::call_service(&app, get(tickets)).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers().get("retry-after").unwrap(), "1");
    let body: Value = http::read_body_json(res).await;
    assert_eq!(body["error"], "rate_limited", "{body}");

    let res = http::call_service(
        &app,
        get("/v1/workspaces/acme/attachments/00000000-0000-0000-0000-000000000000/download"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = http::read_body_json(res).await;
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
}

/// A way of writing a credential: its name, its headers, the dialect that
/// should answer it.
type CredentialForm = (&'static str, Vec<(&'static str, String)>, &'static str);

/// Whichever way a request writes its credential — `bearer`, `BEARER`, a
/// session cookie, or a key and a cookie together — the dialect that answers
/// it, the error shape of its rate-limit refusal and its metrics label agree.
#[actix_web::test]
async fn dialect_refusal_shape_and_metrics_label_agree_for_every_credential_form() {
    let (services, _) = memory_services(UploadPolicy::default());
    let cookies = sessions(&services, "acme", &["u-1", "u-2"]).await;
    let [session, other_session] = <[String; 2]>::try_from(cookies).unwrap();
    let mut keys = Vec::new();
    for _ in 0..3 {
        let ids = &services.identities;
        keys.push(ids.create_api_key("acme", Scopes::ALL).await.unwrap().1);
    }
    let metrics = Metrics::new();
    let front = one_request_a_second(services).with_metrics(metrics.clone());
    let app = http::init_service(front.app()).await;
    // a number: a cookie makes it chat's, whatever else comes with it
    let path = "/api/v1/attachments/999999/download";
    let forms: [CredentialForm; 4] = [
        (
            "bearer",
            vec![("Authorization", format!("bearer {}", keys[0]))],
            "redirect",
        ),
        (
            "BEARER",
            vec![("Authorization", format!("BEARER {}", keys[1]))],
            "redirect",
        ),
        (
            "cookie",
            vec![("Cookie", format!("clasp_session={session}"))],
            "chat",
        ),
        (
            "both",
            vec![
                ("Authorization", format!("Bearer {}", keys[2])),
                ("Cookie", format!("clasp_session={other_session}")),
            ],
            "chat",
        ),
    ];
    for (form, headers, dialect) in &forms {
        let request = || {
            headers
                .iter()
                .fold(http::TestRequest::get().uri(path), |req, h| {
                    req.insert_header(h.clone())
                })
                .to_request()
        };
        let first = http::call_service(&app, request()).await;
        assert_eq!(first.status(), StatusCode::NOT_FOUND, "{form}");
        let body: Value = http::read_body_json(first).await;
        let shape = if *dialect == "chat" {
            body["errorText"].is_string() && body.get("error").is_none()
        } else {
            body["problem"] == "not_found" && body["code"] == 404
        };
        assert!(shape, "{form}: answered by {dialect}: {body}");

        let refused = http::call_service(&app, request()).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "{form}");
        let body: Value = http::read_body_json(refused).await;
        let shape = if *dialect == "chat" {
            body["httpStatusCode"] == 429 && body["errorText"].is_string()
        } else {
            body["problem"] == "rate_limited" && body["code"] == 429
        };
        assert!(shape, "{form}: refused by {dialect}: {body}");
    }
    let text = metrics.encode_text().unwrap();
    for (route, dialect, count) in [
        ("/api/v1/attachments/{attachmentId}/download", "redirect", 2),
        (
            "/api/v1/attachments/{attachmentId}/{attachmentFileName}",
            "chat",
            2,
        ),
    ] {
        for status in [404, 429] {
            let line = format!(
                "clasp_http_requests_total{{dialect=\"{dialect}\",route=\"{route}\",method=\"GET\",status=\"{status}\"}} {count}"
            );
            assert!(text.contains(&line), "missing {line:?} in:\n{text}");
        }
    }
}

/// The rate is the principal's, not its header text's: two sessions of one end
/// user share one allowance, and credentials nobody holds are never counted.
#[actix_web::test]
async fn an_end_user_s_sessions_share_one_rate() {
    let (services, _) = memory_services(UploadPolicy::default());
    let cookies = sessions(&services, "acme", &["u-1", "u-1", "u-2"]).await;
    let [first, second, another_user] = <[String; 3]>::try_from(cookies).unwrap();
    let app = http::init_service(one_request_a_second(services).app()).await;
    let get = |cookie: &str| {
        http::TestRequest::get()
            .uri("/api/v1/attachments/1")
            .insert_header(("Cookie", format!("clasp_session={cookie}")))
            .to_request()
    };
    for _ in 0..3 {
        let res = http::call_service(&app, get("not-a-session")).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = http::call_service(&app, get(&first)).await;
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "unknown credentials took no allowance"
    );
    let res = http::call_service(&app, get(&second)).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "the same user");
    let res = http::call_service(&app, get(&another_user)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "another user");
}
