//! Limits that protect the process from slow or stalled clients, whatever the
//! dialect: a request body that stops sending is cut off instead of holding a
//! connection, a worker's attention and a half-written upload forever.

use std::io;
use std::pin::Pin;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use bytes::Bytes;
use futures::{Stream, StreamExt};

/// How long a request body may go without sending a byte.
#[derive(Debug, Clone, Copy)]
pub struct BodyIdleTimeout(pub Duration);

/// A body stream that fails once no chunk arrived for `idle`; the handler sees
/// a broken body, so the upload is aborted and nothing of it is kept.
fn idle_limited(
    payload: Payload,
    idle: Duration,
) -> impl Stream<Item = Result<Bytes, PayloadError>> {
    futures::stream::unfold(Some(payload), move |state| async move {
        let mut payload = state?;
        match tokio::time::timeout(idle, payload.next()).await {
            Ok(Some(item)) => Some((item, Some(payload))),
            Ok(None) => None,
            Err(_) => Some((
                Err(PayloadError::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the request body sent nothing for {} s", idle.as_secs_f64()),
                ))),
                None,
            )),
        }
    })
}

/// Applies the [`BodyIdleTimeout`] in the app's data to every request body.
pub async fn body_idle_timeout(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if let Some(idle) = req.app_data::<web::Data<BodyIdleTimeout>>().map(|d| d.0) {
        let limited: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
            Box::pin(idle_limited(req.take_payload(), idle));
        req.set_payload(Payload::from(limited));
    }
    next.call(req).await
}
