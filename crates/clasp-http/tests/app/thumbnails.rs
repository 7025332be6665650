//! The thumbnail queue: a turn is taken before an image is read for its
//! thumbnail, so a burst of image uploads holds at most the queue's turns of
//! images in memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test;
use async_trait::async_trait;
use bytes::Bytes;
use clasp_domain::UploadPolicy;
use clasp_domain::memory::MemoryPorts;
use clasp_domain::ports::{ThumbnailError, Thumbnailer};
use clasp_http::FrontDoor;
use tokio::sync::Semaphore;

use crate::common::{PNG, post_form, services_over, sessions};

/// A thumbnailer that counts the images it was handed (each one read whole
/// into memory by then) and finishes none until the test opens its gate.
struct Gated {
    handed: AtomicUsize,
    gate: Semaphore,
}

#[async_trait]
impl Thumbnailer for Gated {
    async fn thumbnail(&self, image: Bytes, _: &str) -> Result<Bytes, ThumbnailError> {
        self.handed.fetch_add(1, Ordering::SeqCst);
        let _pass = self.gate.acquire().await;
        Ok(image.slice(..4))
    }
}

#[actix_web::test]
async fn a_burst_of_images_waits_for_turns_before_any_is_read() {
    let gated = Arc::new(Gated {
        handed: AtomicUsize::new(0),
        gate: Semaphore::new(0),
    });
    let mut mem = MemoryPorts::new("http://localhost");
    mem.ports.thumbnailer = gated.clone();
    let services = services_over(&mem, UploadPolicy::default());
    let session = sessions(&services, "acme", &["u-1"]).await.remove(0);
    let app = test::init_service(
        FrontDoor::new(services)
            .unwrap()
            .with_thumbnail_turns(1)
            .app(),
    )
    .await;
    let images: [(&str, Option<&str>, &[u8]); 3] = [
        ("files", Some("a.png"), PNG),
        ("files", Some("b.png"), PNG),
        ("files", Some("c.png"), PNG),
    ];
    for message in 1..=2 {
        let req = post_form(&format!("/api/v1/messages/{message}/attachments"), &images)
            .insert_header(("Cookie", format!("clasp_session={session}")))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        gated.handed.load(Ordering::SeqCst),
        1,
        "six images uploaded, one turn: one read"
    );
    gated.gate.add_permits(6);
    for _ in 0..50 {
        if gated.handed.load(Ordering::SeqCst) == 6 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "only {} of six thumbnails were made once the gate opened",
        gated.handed.load(Ordering::SeqCst)
    );
}
