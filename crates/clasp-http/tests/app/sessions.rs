//! The chat dialect's session cookie, as a browser sends it: one cookie or a
//! refusal, and no change from a page of another site.

use actix_web::http::StatusCode;
use actix_web::test;
use clasp_domain::UploadPolicy;
use clasp_http::FrontDoor;
use serde_json::Value;

use crate::common::{PNG, memory_services, post_form, sessions};

const OURS: &str = "https://app.example";
const EVIL: &str = "https://evil.example";

/// An app trusting `OURS` (a CORS origin) and `https://clasp.example` (its
/// own public URL), and two sessions of one tenant.
async fn world() -> (FrontDoor, String, String) {
    let (services, _) = memory_services(UploadPolicy::default());
    let [one, two] =
        <[String; 2]>::try_from(sessions(&services, "acme", &["u-1", "u-2"]).await).unwrap();
    let front = FrontDoor::new(services)
        .unwrap()
        .with_cors(vec![OURS.to_owned(), "*".to_owned()])
        .with_public_url("https://clasp.example/");
    (front, one, two)
}

fn upload(session: &str) -> test::TestRequest {
    post_form(
        "/api/v1/messages/7/attachments",
        &[("files", Some("a.png"), PNG)],
    )
    .insert_header(("Cookie", format!("clasp_session={session}")))
}

#[actix_web::test]
async fn two_session_cookies_are_refused_not_resolved_by_order() {
    let (front, one, two) = world().await;
    let app = test::init_service(front.app()).await;
    for req in [
        test::TestRequest::get()
            .uri("/api/v1/attachments/1")
            .insert_header((
                "Cookie",
                format!("clasp_session={one}; clasp_session={two}"),
            )),
        test::TestRequest::get()
            .uri("/api/v1/attachments/1")
            .append_header(("Cookie", format!("clasp_session={one}")))
            .append_header(("Cookie", format!("clasp_session={two}"))),
    ] {
        let res = test::call_service(&app, req.to_request()).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let body: Value = test::read_body_json(res).await;
        assert_eq!(body["httpStatusCode"], 400, "{body}");
        assert!(
            body["errorText"]
                .as_str()
                .is_some_and(|t| t.contains("several clasp_session cookies")),
            "{body}"
        );
    }
}

#[actix_web::test]
async fn a_page_of_another_site_changes_nothing_with_the_session() {
    let (front, one, _) = world().await;
    let app = test::init_service(front.app()).await;
    let refused: [(&str, &str); 4] = [
        ("Origin", EVIL),
        ("Origin", "null"),
        ("Sec-Fetch-Site", "cross-site"),
        ("Origin", "https://app.example.evil.example"),
    ];
    for (name, value) in refused {
        let res =
            test::call_service(&app, upload(&one).insert_header((name, value)).to_request()).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        let body: Value = test::read_body_json(res).await;
        assert_eq!(body["httpStatusCode"], 403, "{body}");
    }
    let uploaded = |res: actix_web::dev::ServiceResponse<_>| {
        assert_eq!(res.status(), StatusCode::OK);
        res
    };
    for headers in [
        vec![],
        vec![("Origin", OURS)],
        vec![("Origin", "https://clasp.example")],
        vec![("Sec-Fetch-Site", "same-origin"), ("Origin", OURS)],
        vec![("Sec-Fetch-Site", "same-site")],
    ] {
        let req = headers
            .iter()
            .fold(upload(&one), |req, h| req.insert_header(*h));
        let res = uploaded(test::call_service(&app, req.to_request()).await);
        let body: Value = test::read_body_json(res).await;
        assert_eq!(body["httpStatusCode"], 200, "{headers:?}: {body}");
    }

    // reading needs no such care (CORS keeps the answer from the other page);
    // deleting does
    let read = test::TestRequest::get()
        .uri("/api/v1/attachments/1")
        .insert_header(("Cookie", format!("clasp_session={one}")))
        .insert_header(("Origin", EVIL));
    let res = test::call_service(&app, read.to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let delete = |origin: &str| {
        test::TestRequest::delete()
            .uri("/api/v1/attachments/1")
            .insert_header(("Cookie", format!("clasp_session={one}")))
            .insert_header(("Origin", origin.to_owned()))
            .to_request()
    };
    let res = test::call_service(&app, delete(EVIL)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = test::call_service(&app, delete(OURS)).await;
    assert_eq!(res.status(), StatusCode::OK);
}
