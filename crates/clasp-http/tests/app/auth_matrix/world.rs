//! The world the authentication matrix attacks: a victim tenant with every
//! kind of attachment and credential, and an attacker tenant.

use super::*;

/// The victim's and the attacker's world, and the service holding them.
pub(super) struct World {
    pub(super) services: Services,
    pub(super) victim_key: String,
    pub(super) read_only_key: String,
    pub(super) revoked_key: String,
    pub(super) victim_session: String,
    pub(super) revoked_session: String,
    pub(super) expired_session: String,
    pub(super) attacker_key: String,
    pub(super) attacker_session: String,
    /// The victim's ids no answer to the attacker may contain.
    pub(super) secrets: Vec<String>,
    /// Uploaded with the tickets dialect, on a workspaces message.
    pub(super) ticket_attachment: String,
    /// Uploaded with the cases dialect.
    pub(super) case_attachment: String,
    /// Uploaded with the chat dialect: its number, its message.
    pub(super) chat_number: i64,
    pub(super) chat_message: i64,
    pub(super) chat_filename: String,
    /// A pending direct upload of the workspaces dialect.
    pub(super) pending: String,
    /// The workspaces message holding `ticket_attachment`.
    pub(super) message: String,
}

fn victim_bytes() -> Vec<u8> {
    [PNG, BYTES_MARKER.as_bytes()].concat()
}

pub(super) async fn world() -> World {
    let (services, _, clock) = clocked_services("http://localhost", UploadPolicy::default());
    let ids = &services.identities;
    let victim = ids.create_tenant(VICTIM).await.unwrap();
    ids.create_tenant(ATTACKER).await.unwrap();
    let (_, victim_key) = ids.create_api_key(VICTIM, Scopes::ALL).await.unwrap();
    let read = Scopes::parse("attachments:read").unwrap();
    let (_, read_only_key) = ids.create_api_key(VICTIM, read).await.unwrap();
    let (revoked, revoked_key) = ids.create_api_key(VICTIM, Scopes::ALL).await.unwrap();
    ids.revoke_api_key(&revoked.id.to_string()).await.unwrap();
    let hour = time::Duration::hours(1);
    let (_, victim_session) = ids
        .create_session(VICTIM, "u1", hour, clasp_domain::Reach::AllRooms)
        .await
        .unwrap();
    let (_, revoked_session) = ids
        .create_session(VICTIM, "u1", hour, clasp_domain::Reach::AllRooms)
        .await
        .unwrap();
    ids.revoke_session(&revoked_session).await.unwrap();
    let minute = time::Duration::minutes(1);
    let (_, expired_session) = ids
        .create_session(VICTIM, "u1", minute, clasp_domain::Reach::AllRooms)
        .await
        .unwrap();
    clock.advance(time::Duration::minutes(2));
    let (_, attacker_key) = ids.create_api_key(ATTACKER, Scopes::ALL).await.unwrap();
    let (_, attacker_session) = ids
        .create_session(ATTACKER, "u2", hour, clasp_domain::Reach::AllRooms)
        .await
        .unwrap();

    let app = app!(services);
    let bytes = victim_bytes();
    let tickets_name = format!("{NAME_MARKER}-t.png");
    let req = post_form(
        &format!("/v1/tickets/{TICKET}/attachments"),
        &[("file", Some(&tickets_name), &bytes)],
    );
    let (status, created, _) = call!(&app, bearer(req, &victim_key));
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let ticket_attachment = created["id"].as_str().unwrap().to_owned();

    let cases_name = format!("{NAME_MARKER}-c.png");
    let req = post_form(
        "/api-public/1.0/save_file",
        &[
            ("caseId", None, CASE.as_bytes()),
            ("file", Some(&cases_name), &bytes),
        ],
    );
    let (status, created, _) = call!(&app, bearer(req, &victim_key));
    assert_eq!(status, StatusCode::OK, "{created}");
    let case_attachment = created["id"].as_str().unwrap().to_owned();

    let chat_message = 4242;
    let chat_filename = format!("{NAME_MARKER}-m.png");
    let req = post_form(
        &format!("/api/v1/messages/{chat_message}/attachments"),
        &[("files", Some(&chat_filename), &bytes)],
    );
    let (status, created, _) = call!(&app, cookie(req, &victim_session));
    assert_eq!(status, StatusCode::OK, "{created}");
    let chat_number = created["attachmentIds"][0].as_i64().unwrap();
    let chat_uuid = created["attachments"][0]["id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_default();

    let ws =
        |req: test::TestRequest| bearer(req, &victim_key).insert_header(("x-workspace-id", VICTIM));
    let req = test::TestRequest::post()
        .uri(&format!(
            "/v1/workspaces/{VICTIM}/tickets/{TICKET}/attachments/upload-url"
        ))
        .set_json(json!({"filename": format!("{NAME_MARKER}-p.png"), "contentType": "image/png", "size": 10}));
    let (status, created, _) = call!(&app, ws(req));
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let pending = created["attachmentId"].as_str().unwrap().to_owned();

    let req = test::TestRequest::post()
        .uri(&format!(
            "/v1/workspaces/{VICTIM}/tickets/{TICKET}/messages"
        ))
        .set_json(json!({"body": "hello", "attachmentIds": [ticket_attachment]}));
    let (status, created, _) = call!(&app, ws(req));
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let message = created["id"].as_str().unwrap().to_owned();

    let mut secrets = vec![
        ticket_attachment.clone(),
        case_attachment.clone(),
        pending.clone(),
        message.clone(),
        victim.id.to_string(),
    ];
    secrets.extend((!chat_uuid.is_empty()).then_some(chat_uuid));
    World {
        services,
        victim_key,
        read_only_key,
        revoked_key,
        victim_session,
        revoked_session,
        expired_session,
        attacker_key,
        attacker_session,
        secrets,
        ticket_attachment,
        case_attachment,
        chat_number,
        chat_message,
        chat_filename,
        pending,
        message,
    }
}
