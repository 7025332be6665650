//! Admission over in-memory adapters: upload slots, per-credential rates, and
//! refusals in each dialect's error shape.

use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{App, test as http, web};
use clasp_domain::{Scopes, UploadPolicy};
use serde_json::Value;

use super::{Admission, Refusal, admit};
use crate::configure;
use crate::tests::memory_services;

#[test]
fn upload_slots_are_capped_and_given_back() {
    let admission = Admission::new(2, 0, 0);
    let first = admission.upload_slot().unwrap();
    let second = admission.upload_slot().unwrap();
    assert_eq!(admission.upload_slot().err(), Some(Refusal::Busy));
    drop(first);
    assert!(admission.upload_slot().is_ok());
    drop(second);
    assert!(
        Admission::new(0, 0, 0).upload_slot().unwrap().is_none(),
        "no cap"
    );
}

#[test]
fn each_credential_has_its_own_rate() {
    let admission = Admission::new(0, 1, 2);
    assert_eq!(admission.check_rate(Some(b"Bearer a")), Ok(()));
    assert_eq!(admission.check_rate(Some(b"Bearer a")), Ok(()));
    assert_eq!(
        admission.check_rate(Some(b"Bearer a")),
        Err(Refusal::RateLimited {
            retry_after_secs: 1
        })
    );
    assert_eq!(
        admission.check_rate(Some(b"Bearer b")),
        Ok(()),
        "another key"
    );
    assert_eq!(admission.check_rate(None), Ok(()), "no credential");
    let unlimited = Admission::new(0, 0, 0);
    for _ in 0..1000 {
        assert_eq!(unlimited.check_rate(Some(b"Bearer a")), Ok(()));
    }
}

#[actix_web::test]
async fn refusals_come_in_the_dialect_s_error_shape() {
    let (services, _) = memory_services(UploadPolicy::default());
    services.identities.create_tenant("acme").await.unwrap();
    let (_, key) = services
        .identities
        .create_api_key("acme", Scopes::ALL)
        .await
        .unwrap();
    let app = http::init_service(
        App::new()
            .wrap(from_fn(admit))
            .app_data(web::Data::new(Admission::new(0, 1, 1)))
            .configure(configure(services)),
    )
    .await;
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
        get("/v1/workspaces/acme/attachments/00000000-0000-0000-0000-000000000000"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = http::read_body_json(res).await;
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
}
