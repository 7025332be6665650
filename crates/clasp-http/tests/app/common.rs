//! What the test modules share: services over in-memory adapters, and
//! multipart bodies.

use std::sync::Arc;

use actix_web::test::TestRequest;
use clasp_domain::memory::{ManualClock, MemoryPorts};
use clasp_domain::{AttachmentService, IdentityService, Scopes, UploadPolicy};
use clasp_http::Services;
use time::OffsetDateTime;

/// A 1×1 PNG.
pub const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

/// Services over `mem`, as the HTTP-layer tests use them.
pub fn services_over(mem: &MemoryPorts, policy: UploadPolicy) -> Services {
    Services {
        attachments: AttachmentService::new(mem.ports.clone(), policy),
        identities: IdentityService::new(mem.ports.clone()),
        redirect_url_ttl: time::Duration::minutes(15),
        webhooks: clasp_domain::webhooks::WebhookService::new(
            mem.outbox.clone(),
            &mem.ports,
            clasp_domain::webhooks::HostAllowlist::new(["127.0.0.1".to_owned()]),
        ),
    }
}

/// Services over fresh in-memory adapters.
pub fn memory_services(policy: UploadPolicy) -> (Services, MemoryPorts) {
    let mem = MemoryPorts::new("http://localhost");
    (services_over(&mem, policy), mem)
}

/// Services over fresh in-memory adapters whose time the test moves, signing
/// URLs under `base_url`.
pub fn clocked_services(
    base_url: &str,
    policy: UploadPolicy,
) -> (Services, MemoryPorts, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let mem = MemoryPorts::with_clock(base_url, clock.clone());
    (services_over(&mem, policy), mem, clock)
}

/// A multipart form of `(name, filename, bytes)` parts; parts with a filename
/// are PNG files.
pub fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "XclaspMatrixX";
    let mut body = Vec::new();
    for (name, filename, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: image/png\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Makes the tenant `slug` and a full-scope key of it; returns the key.
pub async fn tenant_with_key(services: &Services, slug: &str) -> String {
    services.identities.create_tenant(slug).await.unwrap();
    let (_, key) = services
        .identities
        .create_api_key(slug, Scopes::ALL)
        .await
        .unwrap();
    key
}

/// The keys the dialect tests use.
pub struct Keys {
    /// A full-scope key of the tenant.
    pub key: String,
    /// A key of the tenant that may only read.
    pub read_key: String,
    /// A full-scope key of another tenant.
    pub other_key: String,
}

/// Makes the tenants `slug` and `other`, and [`Keys`] of them.
pub async fn keys(services: &Services, slug: &str, other: &str) -> Keys {
    let key = tenant_with_key(services, slug).await;
    let other_key = tenant_with_key(services, other).await;
    let read = Scopes::parse("attachments:read").unwrap();
    let (_, read_key) = services
        .identities
        .create_api_key(slug, read)
        .await
        .unwrap();
    Keys {
        key,
        read_key,
        other_key,
    }
}

/// Creates tenant `slug` and a one-hour session for each of `users`; returns
/// the session cookies' values, in order.
pub async fn sessions(services: &Services, slug: &str, users: &[&str]) -> Vec<String> {
    let ids = &services.identities;
    ids.create_tenant(slug).await.unwrap();
    let mut cookies = Vec::new();
    for user in users {
        let hour = time::Duration::hours(1);
        cookies.push(
            ids.create_session(slug, user, hour, clasp_domain::Reach::AllRooms)
                .await
                .unwrap()
                .1,
        );
    }
    cookies
}

/// `req` carrying the multipart form of `parts` (see [`multipart`]).
pub fn with_form(req: TestRequest, parts: &[(&str, Option<&str>, &[u8])]) -> TestRequest {
    let (content_type, body) = multipart(parts);
    req.insert_header(("Content-Type", content_type))
        .set_payload(body)
}

/// A POST to `uri` of the multipart form of `parts`.
pub fn post_form(uri: &str, parts: &[(&str, Option<&str>, &[u8])]) -> TestRequest {
    with_form(TestRequest::post().uri(uri), parts)
}
