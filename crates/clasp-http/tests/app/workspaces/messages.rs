//! The workspaces dialect after the upload: messages, downloads, deletes.

use super::*;

#[actix_web::test]
async fn messages_link_only_ready_attachments_of_their_ticket() {
    let f = fixture().await;
    let app = app!(f.services);
    let post = |ticket: &str, ids: Value| {
        json_req(
            ws("POST", &f.key, &format!("/tickets/{ticket}/messages")),
            json!({"body": "hi", "attachmentIds": ids}),
        )
    };
    let ready = upload_url!(&app, &f, "a.txt", "text/plain", 3);
    let ready_id = ready["attachmentId"].as_str().unwrap().to_owned();
    call!(&app, put(&ready["url"], b"abc"));
    call!(
        &app,
        ws("POST", &f.key, &format!("/attachments/{ready_id}/confirm"))
    );
    let pending = upload_url!(&app, &f, "b.txt", "text/plain", 3);
    let pending_id = pending["attachmentId"].as_str().unwrap();

    let refusals = [
        (
            TICKET,
            json!([ready_id, pending_id]),
            "attachment_not_ready",
        ),
        (
            OTHER_TICKET,
            json!([ready_id]),
            "attachment_on_other_ticket",
        ),
        (
            TICKET,
            json!([ready_id, uuid::Uuid::now_v7().to_string()]),
            "attachment_not_found",
        ),
    ];
    for (ticket, ids, expected) in refusals {
        let (status, body) = call!(&app, post(ticket, ids));
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, expected)
        );
    }
    let (status, body) = call!(&app, post(TICKET, json!(["nope"])));
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let (_, listed) = call!(
        &app,
        ws("GET", &f.key, &format!("/tickets/{TICKET}/attachments"))
    );
    assert_eq!(listed[0]["messageId"], Value::Null, "nothing was linked");

    let (status, message) = call!(&app, post(TICKET, json!([ready_id])));
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = call!(&app, post(TICKET, json!([ready_id])));
    assert_eq!(
        (status, code(&body)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "attachment_already_linked"
        )
    );
    // another workspace's key cannot list this message
    let path = format!(
        "/v1/workspaces/ws-456/messages/{}/attachments",
        message["id"].as_str().unwrap()
    );
    let (status, listed) = call!(
        &app,
        test::TestRequest::get()
            .uri(&path)
            .insert_header(("Authorization", format!("Bearer {}", f.other_key)))
            .insert_header(("x-workspace-id", "ws-456")),
    );
    assert_eq!((status, listed), (StatusCode::OK, json!([])));
}

#[actix_web::test]
async fn download_is_json_unless_a_redirect_is_asked_for() {
    let f = fixture().await;
    let app = app!(f.services);
    let begun = upload_url!(&app, &f, "a.txt", "text/plain", 3);
    let id = begun["attachmentId"].as_str().unwrap().to_owned();
    let dl = format!("/attachments/{id}/download");
    let (status, _) = call!(&app, ws("GET", &f.key, &dl));
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "pending: nothing to download"
    );
    call!(&app, put(&begun["url"], b"abc"));
    let (status, _) = call!(&app, ws("GET", &f.key, &dl));
    assert_eq!(status, StatusCode::NOT_FOUND, "uploaded but unconfirmed");
    call!(
        &app,
        ws("POST", &f.key, &format!("/attachments/{id}/confirm"))
    );

    for query in ["", "?redirect=false", "?redirect=0"] {
        let res = test::call_service(
            &app,
            ws("GET", &f.key, &format!("{dl}{query}")).to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK, "{query}");
        assert_eq!(hdr(&res, "content-type"), "application/json");
    }
    for query in ["?redirect=true", "?redirect=1"] {
        let res = test::call_service(
            &app,
            ws("GET", &f.key, &format!("{dl}{query}")).to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::FOUND, "{query}");
        assert!(hdr(&res, "location").starts_with("http://clasp.test/signed/"));
    }
    let (status, body) = call!(&app, ws("GET", &f.key, &format!("{dl}?redirect=maybe")));
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
}

#[actix_web::test]
async fn deleting_a_pending_upload_removes_its_bytes() {
    let f = fixture().await;
    let app = app!(f.services);
    let begun = upload_url!(&app, &f, "a.txt", "text/plain", 3);
    call!(&app, put(&begun["url"], b"abc"));
    assert_eq!(f.mem.blobs.len(), 1);
    let id = begun["attachmentId"].as_str().unwrap();
    let res = test::call_service(
        &app,
        ws("DELETE", &f.key, &format!("/attachments/{id}")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(f.mem.blobs.is_empty());
    let (status, body) = call!(&app, put(&begun["url"], b"abc"));
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}
