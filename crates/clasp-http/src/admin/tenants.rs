//! Tenants and their quotas.

use actix_web::web::{Data, Query};
use actix_web::{HttpRequest, HttpResponse};
use clasp_domain::services::QuotaChange;
use clasp_domain::{IdentityError, TenantPolicy};

use super::json::{
    DeletingJson, NewTenant, PolicyJson, QuotaJson, TenantDetailJson, TenantJson, TenantPage,
    TenantsJson,
};
use super::{Admin, AdminCaller, Posted, Slug};
use crate::Services;
use crate::own::ErrorJson;
use crate::problem::{Problem, ProblemKind};
use crate::wire::Reply;

/// How many tenants a page holds when the request does not say.
const DEFAULT_PAGE: usize = 100;

#[utoipa::path(post, path = "/admin/v1/tenants", request_body(content = NewTenant, content_type = "application/json"), responses(
    (status = 201, description = "The tenant", body = TenantJson),
    (status = 400, description = "The slug is not acceptable, or the body is not the JSON expected", body = ErrorJson),
    super::TokenRefusal,
    (status = 409, description = "A tenant with that slug exists", body = ErrorJson),
    (status = 413, description = "The body is too large", body = ErrorJson),
))]
/// Creates a tenant.
pub(super) async fn create_tenant(
    body: Posted<NewTenant>,
    services: Data<Services>,
) -> Reply<Admin> {
    let tenant = services.identities.create_tenant(&body.0.slug).await?;
    Ok(HttpResponse::Created().json(TenantJson::from(&tenant)))
}

#[utoipa::path(get, path = "/admin/v1/tenants", params(TenantPage), responses(
    (status = 200, description = "One page of tenants, in slug order", body = TenantsJson),
    (status = 400, description = "A bad query parameter", body = ErrorJson),
    super::TokenRefusal,
))]
/// Lists the tenants, a page at a time.
pub(super) async fn list_tenants(
    _: AdminCaller,
    req: HttpRequest,
    services: Data<Services>,
) -> Reply<Admin> {
    let page = Query::<TenantPage>::from_query(req.query_string())
        .map_err(|e| Problem::new(ProblemKind::InvalidParameter, e.to_string()))?
        .into_inner();
    let limit = page.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=clasp_domain::services::MAX_TENANTS_LISTED).contains(&limit) {
        return Err(Problem::new(
            ProblemKind::InvalidParameter,
            format!(
                "limit must be between 1 and {}",
                clasp_domain::services::MAX_TENANTS_LISTED
            ),
        )
        .at("limit")
        .into());
    }
    let (tenants, next) = services
        .identities
        .tenants(page.after.as_deref(), limit)
        .await?;
    Ok(HttpResponse::Ok().json(TenantsJson::new(&tenants, next)))
}

#[utoipa::path(get, path = "/admin/v1/tenants/{slug}", params(Slug), responses(
    (status = 200, description = "The tenant, its quota and what it uses", body = TenantDetailJson),
    super::TenantRefusals,
))]
/// A tenant, with its quota and usage.
pub(super) async fn get_tenant(
    _: AdminCaller,
    slug: Slug,
    services: Data<Services>,
) -> Reply<Admin> {
    let (tenant, quota) = services.identities.quota(&slug).await?;
    Ok(HttpResponse::Ok().json(TenantDetailJson::new(&tenant, &quota)))
}

/// How many batches of a tenant's purge run before its `DELETE` answers; the
/// rest runs on after a 202.
const INLINE_PURGE_BATCHES: usize = 2;

#[utoipa::path(delete, path = "/admin/v1/tenants/{slug}", params(Slug), responses(
    (status = 204, description = "The tenant is gone: every attachment's bytes and row, its messages, quota, keys and sessions"),
    (status = 202, description = "Its keys and sessions are revoked and its purge goes on in the background (resumed after a restart); `GET` answers 404 from now on", body = DeletingJson),
    super::TenantRefusals,
))]
/// Deletes a tenant and everything of it.
pub(super) async fn delete_tenant(
    _: AdminCaller,
    slug: Slug,
    services: Data<Services>,
) -> Reply<Admin> {
    let attachments = services.attachments.clone();
    let tenant = attachments.begin_tenant_deletion(&slug).await?;
    if attachments
        .purge_tenant(tenant.id, INLINE_PURGE_BATCHES)
        .await?
    {
        return Ok(HttpResponse::NoContent().finish());
    }
    actix_web::rt::spawn(async move {
        if let Err(e) = attachments.finish_tenant_purge(tenant.id).await {
            tracing::warn!(tenant = %tenant.id, error = %e, "purging a deleted tenant failed; the sweeper resumes it");
        }
    });
    Ok(HttpResponse::Accepted().json(DeletingJson {
        slug: tenant.slug,
        deleting: true,
    }))
}

#[utoipa::path(get, path = "/admin/v1/tenants/{slug}/quota", params(Slug), responses(
    (status = 200, description = "The tenant's limits (`null`: unlimited)", body = QuotaJson),
    super::TenantRefusals,
))]
/// A tenant's quota.
pub(super) async fn get_quota(
    _: AdminCaller,
    slug: Slug,
    services: Data<Services>,
) -> Reply<Admin> {
    let (_, quota) = services.identities.quota(&slug).await?;
    Ok(HttpResponse::Ok().json(QuotaJson::from(quota.limits)))
}

#[utoipa::path(put, path = "/admin/v1/tenants/{slug}/quota", params(Slug), request_body(content = QuotaJson, content_type = "application/json"), responses(
    (status = 200, description = "The tenant's limits as set", body = QuotaJson),
    (status = 400, description = "The body is not the JSON expected", body = ErrorJson),
    super::TenantRefusals,
    (status = 413, description = "The body is too large", body = ErrorJson),
))]
/// Sets a tenant's quota; limits below its usage refuse new attachments
/// until enough are deleted.
pub(super) async fn put_quota(
    slug: Slug,
    body: Posted<QuotaJson>,
    services: Data<Services>,
) -> Reply<Admin> {
    let change = QuotaChange {
        max_bytes: Some(body.0.max_bytes),
        max_attachments: Some(body.0.max_attachments),
    };
    let (_, quota) = services.identities.set_quota(&slug, change).await?;
    Ok(HttpResponse::Ok().json(QuotaJson::from(quota.limits)))
}

#[utoipa::path(get, path = "/admin/v1/tenants/{slug}/policy", params(Slug), responses(
    (status = 200, description = "The tenant's upload rules (`null`: the instance's)", body = PolicyJson),
    super::TenantRefusals,
))]
/// A tenant's upload policy.
pub(super) async fn get_policy(
    _: AdminCaller,
    slug: Slug,
    services: Data<Services>,
) -> Reply<Admin> {
    let tenant = services.identities.tenant(&slug).await?;
    Ok(HttpResponse::Ok().json(PolicyJson::from(&tenant.policy)))
}

#[utoipa::path(put, path = "/admin/v1/tenants/{slug}/policy", params(Slug), request_body(content = PolicyJson, content_type = "application/json"), responses(
    (status = 200, description = "The tenant's upload rules as set", body = PolicyJson),
    (status = 400, description = "Not a media type, none or more than 100, a type without a magic-byte rule and no `trust_declared_types`, a size out of bounds, or not the JSON expected", body = ErrorJson),
    super::TenantRefusals,
    (status = 413, description = "The body is too large", body = ErrorJson),
))]
/// Sets a tenant's upload policy: from the next upload on, in every dialect,
/// and at the confirm of a direct upload begun before.
pub(super) async fn put_policy(
    slug: Slug,
    body: Posted<PolicyJson>,
    services: Data<Services>,
) -> Reply<Admin> {
    let asked = body.0;
    let policy = TenantPolicy::new(
        asked.allowed_types.as_deref(),
        asked.max_upload_bytes,
        asked.trust_declared_types,
    )
    .map_err(IdentityError::from)?;
    let tenant = services.identities.set_policy(&slug, policy).await?;
    Ok(HttpResponse::Ok().json(PolicyJson::from(&tenant.policy)))
}
