//! Limits that protect the process from slow, stalled or greedy clients,
//! whatever the dialect: a request body that stops sending is cut off instead of
//! holding a connection and a half-written upload forever; uploads beyond a cap
//! wait outside (503) instead of exhausting memory and disk bandwidth; a
//! credential beyond its request rate is slowed down (429).

use std::hash::{BuildHasher, RandomState};
use std::io;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::ConnectionType;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::credentials;
use crate::dialects::Dialect;
use crate::problem::Problem;

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
            Box::pin(idle_limited(req.take_payload(), idle).fuse());
        req.set_payload(Payload::from(limited));
    }
    next.call(req).await
}

/// Keys Clasp tracks at most before it forgets those whose allowance is full
/// again, so a flood of random credentials cannot grow memory without bound.
const TRACKED_KEYS: usize = 100_000;

/// Why a request was turned away before its handler ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many uploads are being received at once: 503, retry shortly.
    Busy,
    /// The credential sent more requests than its rate allows: 429.
    RateLimited {
        /// Whole seconds until a request would be allowed again.
        retry_after_secs: u64,
    },
}

impl Refusal {
    /// What the refused client reads (each dialect says it in its own shape).
    pub fn message(self) -> String {
        match self {
            Refusal::Busy => "too many uploads are in progress; retry shortly".to_owned(),
            Refusal::RateLimited { retry_after_secs } => {
                format!("too many requests with these credentials; retry in {retry_after_secs} s")
            }
        }
    }

    fn retry_after_secs(self) -> u64 {
        match self {
            Refusal::Busy => 1,
            Refusal::RateLimited { retry_after_secs } => retry_after_secs,
        }
    }
}

/// Admission of requests: a cap on uploads received at once, and a per-credential
/// request rate. Shared by all workers.
pub struct Admission {
    upload_slots: Option<Arc<Semaphore>>,
    rate: Option<DefaultKeyedRateLimiter<u64>>,
    hasher: RandomState,
}

impl Admission {
    /// `max_uploads` requests with a body at once (0: no cap), and per
    /// credential `per_second` requests sustained with bursts of `burst`
    /// (`per_second` 0: no rate limit).
    pub fn new(max_uploads: usize, per_second: u32, burst: u32) -> Self {
        let rate = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        Admission {
            upload_slots: (max_uploads > 0).then(|| Arc::new(Semaphore::new(max_uploads))),
            rate,
            hasher: RandomState::new(),
        }
    }

    /// Counts one request of `credential` (a Bearer token or a session
    /// cookie, kept only as a keyed hash).
    fn check_rate(&self, credential: Option<&str>) -> Result<(), Refusal> {
        let (Some(rate), Some(credential)) = (&self.rate, credential) else {
            return Ok(());
        };
        if rate.len() > TRACKED_KEYS {
            rate.retain_recent();
        }
        rate.check_key(&self.hasher.hash_one(credential))
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Refusal::RateLimited {
                    retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                }
            })
    }

    /// A slot for one upload, held until the response is ready.
    fn upload_slot(&self) -> Result<Option<OwnedSemaphorePermit>, Refusal> {
        match &self.upload_slots {
            None => Ok(None),
            Some(slots) => slots
                .clone()
                .try_acquire_owned()
                .map(Some)
                .map_err(|_| Refusal::Busy),
        }
    }
}

/// Whether a request sends a body (an upload), by its headers.
pub(crate) fn sends_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers
        .get(header::CONTENT_LENGTH)
        .is_some_and(|len| len.as_bytes() != b"0")
        || headers.contains_key(header::TRANSFER_ENCODING)
}

/// Applies the [`Admission`] in the app's data: a rate-limited credential gets
/// 429, an upload beyond the cap 503, both with `Retry-After` and in the
/// dialect's own error shape, before any byte of the body is read. Registered
/// with every route (see [`crate::routes`]), so the dialect is the route's own.
pub async fn admit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, Error> {
    let Some(admission) = req.app_data::<web::Data<Admission>>().cloned() else {
        return Ok(next
            .call(req)
            .await?
            .map_into_boxed_body()
            .map_into_left_body());
    };
    let uploading = sends_body(&req);
    let slot = admission
        .check_rate(credentials::rate_key(req.headers()))
        .and_then(|()| {
            if uploading {
                admission.upload_slot()
            } else {
                Ok(None)
            }
        });
    match slot {
        Ok(slot) => {
            let res = next.call(req).await;
            drop(slot);
            let mut res = res?;
            if uploading && (res.status().is_client_error() || res.status().is_server_error()) {
                // A refused upload's body may be partly unread: a client reusing
                // the connection would write its next request into a socket the
                // server is about to close. Closing it now makes that a clean
                // reconnect instead of a broken pipe.
                res.response_mut()
                    .head_mut()
                    .set_connection_type(ConnectionType::Close);
            }
            Ok(res.map_into_boxed_body().map_into_left_body())
        }
        Err(refusal) => {
            let dialect = req.app_data::<Dialect>().copied().unwrap_or(Dialect::Ops);
            let mut res = dialect.respond(&Problem::from(refusal));
            if let Ok(value) = HeaderValue::from_str(&refusal.retry_after_secs().to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, value);
            }
            // the body was not read: close the connection rather than drain it
            res.head_mut().set_connection_type(ConnectionType::Close);
            Ok(req.into_response(res).map_into_right_body())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is how a test fails")]

    use super::{Admission, Refusal};

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
        assert_eq!(admission.check_rate(Some("a")), Ok(()));
        assert_eq!(admission.check_rate(Some("a")), Ok(()));
        assert_eq!(
            admission.check_rate(Some("a")),
            Err(Refusal::RateLimited {
                retry_after_secs: 1
            })
        );
        assert_eq!(admission.check_rate(Some("b")), Ok(()), "another key");
        assert_eq!(admission.check_rate(None), Ok(()), "no credential");
        let unlimited = Admission::new(0, 0, 0);
        for _ in 0..1000 {
            assert_eq!(unlimited.check_rate(Some("a")), Ok(()));
        }
    }
}
