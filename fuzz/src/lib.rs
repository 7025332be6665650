//! What the fuzz targets share: the real actix app of every dialect over the
//! in-memory adapters, with one tenant and one API key, driven on one actix
//! system per fuzzing process (building the app per input would drown the
//! handlers' cost in set-up).

use std::cell::OnceCell;
use std::future::Future;

use actix_service::ServiceExt;
use actix_service::boxed::{self, RcService};
use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::{Error, test};
use clasp_domain::memory::MemoryPorts;
use clasp_domain::webhooks::{HostAllowlist, WebhookService};
use clasp_domain::{AttachmentService, IdentityService, Scopes, UploadPolicy};
use clasp_http::{FrontDoor, Services};

/// Largest file the fuzzed app accepts: small, so the fuzzer reaches the limit.
pub const MAX_BYTES: u64 = 4096;

/// The app under test and what a target needs to check its answers.
pub struct Harness {
    /// The app, as `actix_web::test` serves it.
    pub app: RcService<actix_http::Request, ServiceResponse<BoxBody>, Error>,
    /// The in-memory adapters behind it, to look at stored bytes.
    pub mem: MemoryPorts,
    /// The services, to seed data.
    pub services: Services,
    /// A full-scope API key of the one tenant.
    pub key: String,
}

thread_local! {
    static SYSTEM: actix_rt::SystemRunner = actix_rt::System::new();
    static HARNESS: OnceCell<&'static Harness> = const { OnceCell::new() };
}

/// Runs `f` against the harness on the process's actix system; the first call
/// builds the app (leaked: it lives as long as the fuzzing process) and runs
/// `seed` on it.
pub fn with_harness<F, Fut, S, SFut>(seed: S, f: F)
where
    S: FnOnce(&'static Harness) -> SFut,
    SFut: Future<Output = ()>,
    F: FnOnce(&'static Harness) -> Fut,
    Fut: Future<Output = ()>,
{
    SYSTEM.with(|system| {
        let harness = HARNESS.with(|cell| {
            *cell.get_or_init(|| {
                let h: &'static Harness = Box::leak(Box::new(system.block_on(build())));
                system.block_on(seed(h));
                h
            })
        });
        system.block_on(f(harness));
    });
}

async fn build() -> Harness {
    let mem = MemoryPorts::new("http://localhost");
    let services = Services {
        attachments: AttachmentService::new(
            mem.ports.clone(),
            UploadPolicy {
                max_bytes: MAX_BYTES,
                ..UploadPolicy::default()
            },
        ),
        identities: IdentityService::new(mem.ports.clone()),
        redirect_url_ttl: time::Duration::minutes(15),
        webhooks: WebhookService::new(mem.outbox.clone(), &mem.ports, HostAllowlist::default()),
    };
    let ids = &services.identities;
    ids.create_tenant("fuzz").await.expect("tenant");
    let (_, key) = ids
        .create_api_key("fuzz", Scopes::ALL)
        .await
        .expect("api key");
    let front = FrontDoor::new(services.clone()).expect("route table");
    let app = test::init_service(front.app()).await;
    let app = boxed::rc_service(app.map(ServiceResponse::map_into_boxed_body));
    Harness {
        app,
        mem,
        services,
        key,
    }
}
