//! The `workspaces` dialect (seed 000): `/v1/workspaces/{workspaceId}/…`, Bearer
//! API keys plus `x-workspace-id`, direct uploads (upload URL → PUT → confirm),
//! messages that link confirmed attachments (Clasp's addition), download as a
//! JSON URL or a 302, camelCase objects.
//!
//! Errors are `{"error": {"code": "<code>", "message": "<text>"}}`: 400 (bad
//! request), 401 (no or bad key), 403 (workspace mismatch, missing scope), 404
//! (no such attachment in this workspace — also for ids that are not UUIDs),
//! 409/410/422 (the upload's state), 500. `docs/dialects/workspaces.md` lists
//! every code.

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::web::{self, Data};
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use clasp_domain::services::Lookup;
use clasp_domain::{
    Attachment, AttachmentId, ErrorKind, IdentityError, LinkRefusal, Principal, Scope, SubjectRef,
};
use futures::future::LocalBoxFuture;
use serde::Serialize;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use uuid::Uuid;

use crate::dialects::Dialect;
use crate::extract::{
    AttachmentIdParam, Bearer, MessageId, PathParam, TicketId, path_param, services,
};
use crate::json::seconds;
use crate::openapi::Refusals;
use crate::problem::{Problem, ProblemKind};
use crate::routes::{Group, handlers};
use crate::wire::{ApiError, Reply, Wire, WireDialect, standard};
use crate::{Services, body};

mod json;
mod uploads;

use json::{AttachmentJson, ConfirmRequest, DownloadJson, DownloadQuery, ErrorDetail, ErrorJson};

/// How long a download URL stays valid: the seed says nothing; as long as an
/// upload URL, and as the `redirect` dialect's presigned URLs.
const DOWNLOAD_URL_TTL: time::Duration = time::Duration::minutes(15);

/// The header naming the workspace, which must agree with the path.
const WORKSPACE_HEADER: &str = "x-workspace-id";

/// Largest JSON request body read (a message body of 64 KiB, escaped, plus ids).
const MAX_JSON_BYTES: usize = 512 * 1024;

/// The `workspaces` dialect: the states of a direct upload and of linking
/// each have their own code.
pub struct Workspaces;

impl WireDialect for Workspaces {
    const DIALECT: Dialect = Dialect::Workspaces;
    type Caller = Caller;

    fn wire(problem: &Problem) -> Wire {
        use ErrorKind as E;
        use StatusCode as S;
        let ProblemKind::Domain(kind) = problem.kind else {
            return standard(problem);
        };
        match kind {
            E::ChecksumMismatch | E::ETagMismatch => {
                Wire::new(S::UNPROCESSABLE_ENTITY, "checksum_mismatch")
            }
            E::VerificationFailed => Wire::new(S::UNPROCESSABLE_ENTITY, "verification_failed"),
            E::NotUploaded => Wire::new(S::CONFLICT, "not_uploaded"),
            E::UploadExpired => Wire::new(S::GONE, "upload_expired"),
            E::NotPending | E::InvalidState => Wire::new(S::CONFLICT, "invalid_state"),
            E::NotLinkable(LinkRefusal::Unknown) => {
                Wire::new(S::UNPROCESSABLE_ENTITY, "attachment_not_found")
            }
            E::NotLinkable(LinkRefusal::NotReady) => {
                Wire::new(S::UNPROCESSABLE_ENTITY, "attachment_not_ready")
            }
            E::NotLinkable(LinkRefusal::OtherTicket) => {
                Wire::new(S::UNPROCESSABLE_ENTITY, "attachment_on_other_ticket")
            }
            E::NotLinkable(LinkRefusal::AlreadyLinked) => {
                Wire::new(S::UNPROCESSABLE_ENTITY, "attachment_already_linked")
            }
            E::NotLinkable(LinkRefusal::Changed) => Wire::new(S::CONFLICT, "attachment_changed"),
            E::ScanFailed => standard(problem)
                .saying("the file could not be scanned for viruses; confirm again later"),
            _ => standard(problem),
        }
    }

    fn body<'a>(_: &'a Problem, wire: &'a Wire, message: &'a str) -> impl Serialize + 'a {
        ErrorJson {
            error: ErrorDetail {
                code: &wire.code,
                message,
            },
        }
    }
}

/// The seed's six endpoints and Clasp's message endpoint.
pub(crate) fn routes() -> Group {
    Group::new(
        Dialect::Workspaces,
        handlers![
            download,
            confirm,
            delete,
            list_message,
            list_ticket,
            upload_url in uploads,
            post_message in uploads
        ],
    )
}

/// The authenticated principal, once the key, the `x-workspace-id` header and
/// the path's workspace all name the same tenant; and that workspace's slug. A
/// mismatch is answered alike whether or not the workspace exists.
pub struct Caller {
    principal: Principal,
    workspace: String,
}

impl std::ops::Deref for Caller {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.principal
    }
}

impl FromRequest for Caller {
    type Error = ApiError<Workspaces>;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let principal = Bearer::<Workspaces>::extract(&req).await?.0;
            let workspace = req
                .match_info()
                .get("workspace_id")
                .unwrap_or_default()
                .to_owned();
            let mismatch = || {
                Problem::new(
                    ProblemKind::WorkspaceMismatch,
                    "the credentials do not grant access to this workspace",
                )
            };
            let named = req
                .headers()
                .get(WORKSPACE_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    Problem::new(
                        ProblemKind::MissingWorkspace,
                        "the x-workspace-id header is required",
                    )
                })?;
            if named != workspace {
                return Err(mismatch().into());
            }
            match services::<Workspaces>(&req)?
                .identities
                .tenant(&workspace)
                .await
            {
                Ok(tenant) if tenant.id == principal.tenant_id => Ok(Caller {
                    principal,
                    workspace,
                }),
                Ok(_) | Err(IdentityError::UnknownTenant(_)) => Err(mismatch().into()),
                Err(e) => Err(Problem::new(
                    ProblemKind::Domain(ErrorKind::Internal),
                    e.to_string(),
                )
                .into()),
            }
        })
    }
}

/// A request body of the dialect: its JSON type, and what an empty body means.
pub(crate) trait JsonBody: serde::de::DeserializeOwned + 'static {
    /// The body an empty request stands for, if it may be empty.
    fn when_empty() -> Option<Self> {
        None
    }
}

/// A write by the workspace's caller and its JSON body, read (at most
/// 512 KiB) only once the caller is authenticated and may write.
pub struct Written<T> {
    caller: Caller,
    body: T,
}

impl<T: JsonBody> FromRequest for Written<T> {
    type Error = ApiError<Workspaces>;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            let caller = Caller::extract(&req).await?;
            services::<Workspaces>(&req)?
                .attachments
                .authorize(&caller, Scope::Write)?;
            let body = body::read_json(payload, MAX_JSON_BYTES, T::when_empty()).await?;
            Ok(Written { caller, body })
        })
    }
}

impl IntoParams for Caller {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let slug = ObjectBuilder::new().schema_type(Type::String).into();
        vec![path_param(
            "workspace_id",
            "The workspace slug; must equal `x-workspace-id`",
            slug,
        )]
    }
}

type Ticket = PathParam<Uuid, TicketId, Workspaces>;
type Attached = PathParam<AttachmentId, AttachmentIdParam, Workspaces>;

fn attachments_json(found: &[Attachment], workspace: &str) -> HttpResponse {
    HttpResponse::Ok().json(
        found
            .iter()
            .map(|a| AttachmentJson::new(a, workspace))
            .collect::<Vec<_>>(),
    )
}

#[utoipa::path(get, path = "/v1/workspaces/{workspace_id}/tickets/{ticket_id}/attachments", params(Caller, Ticket), responses(
    (status = 200, description = "The attachments of every message on the ticket", body = [json::AttachmentJson]),
    (status = 400, description = "A bad request, or no `x-workspace-id` (`missing_workspace_id`)", body = json::ErrorJson),
    Refusals<json::ErrorJson>,
))]
/// Lists a ticket's attachments.
async fn list_ticket(c: Caller, ticket: Ticket, services: Data<Services>) -> Reply<Workspaces> {
    let found = services
        .attachments
        .list(&c, &SubjectRef::Ticket(ticket.to_string()))
        .await?;
    Ok(attachments_json(&found, &c.workspace))
}

#[utoipa::path(get, path = "/v1/workspaces/{workspace_id}/messages/{message_id}/attachments", params(Caller, PathParam<Uuid, MessageId, Workspaces>), responses(
    (status = 200, description = "The message's attachments", body = [json::AttachmentJson]),
    (status = 400, description = "A bad request, or no `x-workspace-id` (`missing_workspace_id`)", body = json::ErrorJson),
    Refusals<json::ErrorJson>,
))]
/// Lists a message's attachments.
async fn list_message(
    c: Caller,
    message: PathParam<Uuid, MessageId, Workspaces>,
    services: Data<Services>,
) -> Reply<Workspaces> {
    let found = services
        .attachments
        .list(&c, &SubjectRef::Message(message.to_string()))
        .await?;
    Ok(attachments_json(&found, &c.workspace))
}

#[utoipa::path(post, path = "/v1/workspaces/{workspace_id}/attachments/{attachment_id}/confirm", params(Caller, Attached), request_body(content = json::ConfirmRequest, content_type = "application/json", description = "May be empty"), responses(
    (status = 200, description = "The verified attachment", body = json::AttachmentJson),
    (status = 409, description = "Not uploaded yet, or not pending", body = json::ErrorJson),
    (status = 410, description = "The upload URL expired (`upload_expired`)", body = json::ErrorJson),
    (status = 413, description = "The JSON body is too large", body = json::ErrorJson),
    (status = 422, description = "Verification or checksum failed, or the virus scanner found malware (`infected_file`)", body = json::ErrorJson),
    (status = 503, description = "The virus scanner gave no verdict (`scanner_unavailable`); the attachment stays pending", body = json::ErrorJson),
    (status = 400, description = "A bad request, or no `x-workspace-id` (`missing_workspace_id`)", body = json::ErrorJson),
    Refusals<json::ErrorJson>,
))]
/// Confirms a direct upload once its bytes are stored; verifies them.
async fn confirm(
    w: Written<ConfirmRequest>,
    id: Attached,
    services: Data<Services>,
) -> Reply<Workspaces> {
    let etag = w.body.s3_etag.as_deref();
    let confirmed = services
        .attachments
        .confirm(&w.caller, &Lookup::id(id.0), etag)
        .await?;
    Ok(HttpResponse::Ok().json(AttachmentJson::new(&confirmed, &w.caller.workspace)))
}

#[utoipa::path(get, path = "/v1/workspaces/{workspace_id}/attachments/{attachment_id}/download", params(Caller, Attached, ("redirect" = Option<bool>, Query, description = "`true`: answer 302 to the URL instead of JSON")), responses(
    (status = 200, description = "A download URL valid for 15 minutes", body = json::DownloadJson),
    (status = 302, description = "Redirect to the download URL (`?redirect=true`)", headers(("Location" = String, description = "The download URL"))),
    (status = 400, description = "A bad request, or no `x-workspace-id` (`missing_workspace_id`)", body = json::ErrorJson),
    Refusals<json::ErrorJson>,
))]
/// A download URL as JSON, or a 302 to it with `?redirect=true`.
async fn download(
    c: Caller,
    id: Attached,
    req: HttpRequest,
    services: Data<Services>,
) -> Reply<Workspaces> {
    let query = web::Query::<DownloadQuery>::from_query(req.query_string())
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    let redirect = match query.redirect.as_deref() {
        None | Some("false" | "0") => false,
        Some("true" | "1" | "") => true,
        Some(other) => {
            return Err(Problem::bad_request(format!(
                "redirect must be true or false, not {other:?}"
            ))
            .into());
        }
    };
    let (_, url) = services
        .attachments
        .download_url(&c, &Lookup::id(id.0), DOWNLOAD_URL_TTL)
        .await?;
    let mut res = if redirect {
        let mut found = HttpResponse::Found();
        found.insert_header((header::LOCATION, url.url.as_str()));
        found
    } else {
        HttpResponse::Ok()
    };
    // The URL is a bearer credential for the file: never cache it.
    res.insert_header((header::CACHE_CONTROL, "no-store"));
    Ok(if redirect {
        res.finish()
    } else {
        res.json(DownloadJson {
            url: url.url,
            expires_at: seconds(url.expires_at),
        })
    })
}

#[utoipa::path(delete, path = "/v1/workspaces/{workspace_id}/attachments/{attachment_id}", params(Caller, Attached), responses(
    (status = 204, description = "Deleted"),
    (status = 400, description = "A bad request, or no `x-workspace-id` (`missing_workspace_id`)", body = json::ErrorJson),
    Refusals<json::ErrorJson>,
))]
/// Deletes an attachment and its bytes.
async fn delete(c: Caller, id: Attached, services: Data<Services>) -> Reply<Workspaces> {
    services.attachments.delete(&c, &Lookup::id(id.0)).await?;
    Ok(HttpResponse::NoContent().finish())
}
