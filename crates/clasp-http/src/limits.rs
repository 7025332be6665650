//! Limits that protect the process from slow, stalled or greedy clients,
//! whatever the dialect: a request body that stops sending, or that is still
//! sending at its deadline, is cut off instead of holding a connection and a
//! half-written upload forever; uploads beyond a cap wait outside (503) instead
//! of exhausting memory and disk bandwidth, and no tenant or credential holds
//! more than its share of them; a principal beyond its request rate is slowed
//! down (429).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::ConnectionType;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use bytes::Bytes;
use clasp_domain::credentials::{Principal, PrincipalKind};
use futures::{Stream, StreamExt};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::dialects::Dialect;
use crate::problem::Problem;

/// How long a request body may go without sending a byte.
#[derive(Debug, Clone, Copy)]
pub struct BodyIdleTimeout(pub Duration);

/// How long a request body may take in all, however steadily it drips: an
/// idle timeout alone lets a byte every few seconds hold an upload for ever.
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline(pub Duration);

/// A body stream that fails once no chunk arrived for `idle`, or once
/// `deadline` passed; the handler sees a broken body, so the upload is
/// aborted and nothing of it is kept.
fn time_limited(
    payload: Payload,
    idle: Option<Duration>,
    deadline: Option<(Instant, Duration)>,
) -> impl Stream<Item = Result<Bytes, PayloadError>> {
    futures::stream::unfold(Some(payload), move |state| async move {
        let mut payload = state?;
        let idle_end = idle.map(|d| Instant::now() + d);
        let end = idle_end.into_iter().chain(deadline.map(|(at, _)| at)).min();
        let next = match end {
            Some(end) => tokio::time::timeout_at(end, payload.next()).await,
            None => Ok(payload.next().await),
        };
        match next {
            Ok(Some(item)) => Some((item, Some(payload))),
            Ok(None) => None,
            Err(_) => {
                let why = match (deadline, idle) {
                    (Some((at, whole)), _) if Instant::now() >= at => format!(
                        "the request body was still sending after {} s",
                        whole.as_secs()
                    ),
                    (_, idle) => format!(
                        "the request body sent nothing for {} s",
                        idle.unwrap_or_default().as_secs_f64()
                    ),
                };
                let cut = io::Error::new(io::ErrorKind::TimedOut, why);
                Some((Err(PayloadError::Io(cut)), None))
            }
        }
    })
}

/// Applies the [`BodyIdleTimeout`] and the [`BodyDeadline`] in the app's data
/// to every request body; the deadline counts from the end of the request head.
pub async fn body_timeouts(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let idle = req.app_data::<web::Data<BodyIdleTimeout>>().map(|d| d.0);
    let whole = req.app_data::<web::Data<BodyDeadline>>().map(|d| d.0);
    if idle.is_some() || whole.is_some() {
        let deadline = whole.map(|w| (Instant::now() + w, w));
        let limited: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
            Box::pin(time_limited(req.take_payload(), idle, deadline).fuse());
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
    /// The request's tenant or credential holds its share of the upload slots
    /// already: 503, retry shortly.
    ShareTaken,
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
            Refusal::ShareTaken => {
                "too many uploads of this account or with these credentials are in progress; \
                 retry shortly"
                    .to_owned()
            }
            Refusal::RateLimited { retry_after_secs } => {
                format!("too many requests with these credentials; retry in {retry_after_secs} s")
            }
        }
    }

    /// Whole seconds until a retry may succeed.
    pub(crate) fn retry_after_secs(self) -> u64 {
        match self {
            Refusal::Busy | Refusal::ShareTaken => 1,
            Refusal::RateLimited { retry_after_secs } => retry_after_secs,
        }
    }
}

/// Admission of requests: a cap on uploads received at once, each tenant's
/// and each credential's share of it, and a request rate per principal.
/// Shared by all workers.
pub struct Admission {
    upload_slots: Option<Arc<Semaphore>>,
    shares: Option<Arc<Shares>>,
    rate: Option<DefaultKeyedRateLimiter<u64>>,
    /// Principals tracked when the limiter next forgets those at rest.
    next_sweep: AtomicUsize,
    hasher: RandomState,
}

impl Admission {
    /// `max_uploads` requests with a body at once (0: no cap), and per
    /// principal `per_second` requests sustained with bursts of `burst`
    /// (`per_second` 0: no rate limit).
    pub fn new(max_uploads: usize, per_second: u32, burst: u32) -> Self {
        let rate = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        Admission {
            upload_slots: (max_uploads > 0).then(|| Arc::new(Semaphore::new(max_uploads))),
            shares: None,
            rate,
            next_sweep: AtomicUsize::new(TRACKED_KEYS),
            hasher: RandomState::new(),
        }
    }

    /// The same, letting one tenant hold at most `per_tenant` of the uploads at
    /// once and one credential (an API key, an end user's sessions) at most
    /// `per_credential` (0: no such cap), so that one cannot starve the others.
    #[must_use]
    pub fn with_upload_shares(mut self, per_tenant: usize, per_credential: usize) -> Self {
        self.shares = (per_tenant > 0 || per_credential > 0).then(|| {
            Arc::new(Shares {
                per_tenant,
                per_credential,
                held: Mutex::new(HashMap::new()),
            })
        });
        self
    }

    /// Admits one request of `principal`: counts it against the principal's
    /// rate and, for an upload, takes a share of its tenant's and its
    /// credential's slots, given back when the [`Share`] is dropped.
    pub(crate) fn admit(
        &self,
        principal: &Principal,
        uploading: bool,
    ) -> Result<Option<Share>, Refusal> {
        // One end user's sessions are one credential, whatever each reaches.
        let credential = match &principal.kind {
            PrincipalKind::ApiKey(id) => self.hasher.hash_one(("key", principal.tenant_id, id)),
            PrincipalKind::Session { user_id, .. } => {
                self.hasher.hash_one(("user", principal.tenant_id, user_id))
            }
        };
        self.check_rate(credential)?;
        match &self.shares {
            Some(shares) if uploading => {
                let tenant = self.hasher.hash_one(("tenant", principal.tenant_id));
                shares.take(tenant, credential).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Counts one request of the principal keyed `key`. The limiter forgets
    /// the principals whose allowance is full again once it tracks twice as
    /// many as after its last sweep (and at least [`TRACKED_KEYS`]), so each
    /// sweep is paid for by as many requests as it scans.
    fn check_rate(&self, key: u64) -> Result<(), Refusal> {
        let Some(rate) = &self.rate else {
            return Ok(());
        };
        if rate.len() > self.next_sweep.load(Ordering::Relaxed) {
            rate.retain_recent();
            let next = (2 * rate.len()).max(TRACKED_KEYS);
            self.next_sweep.store(next, Ordering::Relaxed);
        }
        rate.check_key(&key).map_err(|not_until| {
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

/// The uploads each tenant and each credential holds, by keyed hash; an entry
/// lives only while its count is above zero, so the map holds at most two
/// entries per upload in flight.
struct Shares {
    per_tenant: usize,
    per_credential: usize,
    held: Mutex<HashMap<u64, usize>>,
}

impl Shares {
    fn take(self: &Arc<Self>, tenant: u64, credential: u64) -> Result<Share, Refusal> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let full = |key: u64, cap: usize| cap > 0 && held.get(&key).is_some_and(|n| *n >= cap);
        if full(tenant, self.per_tenant) || full(credential, self.per_credential) {
            return Err(Refusal::ShareTaken);
        }
        for key in [tenant, credential] {
            *held.entry(key).or_default() += 1;
        }
        Ok(Share {
            shares: Arc::clone(self),
            keys: [tenant, credential],
        })
    }
}

/// One upload's share of its tenant's and its credential's slots.
pub(crate) struct Share {
    shares: Arc<Shares>,
    keys: [u64; 2],
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut held = self
            .shares
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for key in self.keys {
            if let Some(n) = held.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    held.remove(&key);
                }
            }
        }
    }
}

/// Whether a request sends a body (an upload), by its headers.
pub(crate) fn sends_body(headers: &header::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .is_some_and(|len| len.as_bytes() != b"0")
        || headers.contains_key(header::TRANSFER_ENCODING)
}

/// Applies the cap of the [`Admission`] in the app's data: an upload beyond it
/// gets 503 with `Retry-After`, in the dialect's own error shape, before any
/// byte of the body is read. Registered with every route (see
/// [`crate::routes`]), so the dialect is the route's own. The principal's rate
/// and shares are checked once it is authenticated (`crate::extract`).
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
    let uploading = sends_body(req.headers());
    let slot = if uploading {
        admission.upload_slot()
    } else {
        Ok(None)
    };
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
            // the body was not read: close the connection rather than drain it
            res.head_mut().set_connection_type(ConnectionType::Close);
            Ok(req.into_response(res).map_into_right_body())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is how a test fails")]

    use clasp_domain::TenantId;
    use clasp_domain::credentials::{Principal, PrincipalKind, Scopes};
    use uuid::Uuid;

    use super::{Admission, Refusal};

    fn principal(tenant: TenantId, kind: PrincipalKind) -> Principal {
        Principal {
            tenant_id: tenant,
            scopes: Scopes::ALL,
            kind,
            dialect: None,
        }
    }

    fn user(tenant: TenantId, id: &str) -> Principal {
        principal(
            tenant,
            PrincipalKind::Session {
                user_id: id.to_owned(),
                reach: clasp_domain::Reach::Own,
            },
        )
    }

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
    fn a_tenant_and_a_credential_hold_at_most_their_share() {
        let admission = Admission::new(0, 0, 0).with_upload_shares(3, 2);
        let (acme, other) = (TenantId(Uuid::now_v7()), TenantId(Uuid::now_v7()));
        let ann = || user(acme, "ann");
        let mut held = vec![
            admission.admit(&ann(), true).unwrap(),
            admission.admit(&ann(), true).unwrap(),
        ];
        let refused = admission.admit(&ann(), true).err();
        assert_eq!(refused, Some(Refusal::ShareTaken), "the credential's share");
        assert!(
            admission.admit(&ann(), false).unwrap().is_none(),
            "reads pass"
        );
        held.push(admission.admit(&user(acme, "bob"), true).unwrap());
        let refused = admission.admit(&user(acme, "cy"), true).err();
        assert_eq!(refused, Some(Refusal::ShareTaken), "the tenant's share");
        assert!(
            admission.admit(&user(other, "ann"), true).is_ok(),
            "another tenant"
        );
        held.clear();
        for _ in 0..2 {
            held.push(admission.admit(&ann(), true).unwrap());
        }
        let tracked = || {
            admission
                .shares
                .as_ref()
                .unwrap()
                .held
                .lock()
                .unwrap()
                .len()
        };
        assert_eq!(tracked(), 2, "one tenant, one credential");
        held.clear();
        assert_eq!(tracked(), 0, "given back, nothing kept");
    }

    #[test]
    fn each_principal_has_its_own_rate() {
        let admission = Admission::new(0, 1, 2);
        let acme = TenantId(Uuid::now_v7());
        let key = principal(acme, PrincipalKind::ApiKey(Uuid::now_v7()));
        assert!(admission.admit(&key, false).is_ok());
        assert!(admission.admit(&key, true).is_ok());
        assert_eq!(
            admission.admit(&key, false).err(),
            Some(Refusal::RateLimited {
                retry_after_secs: 1
            })
        );
        let same_user_elsewhere = user(TenantId(Uuid::now_v7()), "ann");
        assert!(
            admission.admit(&user(acme, "ann"), false).is_ok(),
            "another principal"
        );
        assert!(
            admission.admit(&same_user_elsewhere, false).is_ok(),
            "another tenant"
        );
        let unlimited = Admission::new(0, 0, 0);
        for _ in 0..1000 {
            assert!(unlimited.admit(&key, false).is_ok());
        }
    }

    #[test]
    fn the_limiter_forgets_principals_at_rest_in_amortised_time() {
        let admission = Admission::new(0, 1000, 1);
        let acme = TenantId(Uuid::now_v7());
        for i in 0..(super::TRACKED_KEYS + 10) {
            admission.admit(&user(acme, &i.to_string()), false).unwrap();
        }
        let next = admission
            .next_sweep
            .load(std::sync::atomic::Ordering::Relaxed);
        assert!(next >= super::TRACKED_KEYS, "{next}");
        assert!(admission.rate.as_ref().unwrap().len() <= next + 1);
    }
}
