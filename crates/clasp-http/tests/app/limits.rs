//! Admission over in-memory adapters: upload slots, per-credential rates, and
//! refusals in each dialect's error shape.

use actix_web::http::StatusCode;
use actix_web::test as http;
use clasp_domain::{Scopes, UploadPolicy};
use clasp_http::FrontDoor;
use clasp_http::limits::Admission;
use serde_json::Value;

use crate::common::memory_services;

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
        FrontDoor::new(services)
            .unwrap()
            .with_admission(Admission::new(0, 1, 1))
            .app(),
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
