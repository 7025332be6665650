//! `clasp admin …`: identities created from the command line, printed for scripts.

use anyhow::Context;
use clasp_domain::Scopes;
use serde_json::json;
use time::format_description::well_known::Rfc3339;

use clasp_domain::services::QuotaChange;
use clasp_domain::{Quota, Reach, Tenant};

use crate::cli::{AdminCommand, KeyCommand, QuotaCommand, SessionCommand, TenantCommand};
use crate::config::Config;
use crate::wiring;

/// Runs one admin command against the configured stores.
pub async fn run(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    let services = wiring::build(config, &clasp_http::ops::Metrics::new()).await?;
    let ids = &services.identities;
    match command {
        AdminCommand::Tenant(TenantCommand::Create { slug }) => {
            let t = ids.create_tenant(&slug).await?;
            let created = t
                .created_at
                .format(&Rfc3339)
                .context("formatting a timestamp")?;
            println!(
                "{}",
                json!({ "id": t.id, "slug": t.slug, "created_at": created })
            );
        }
        AdminCommand::Key(KeyCommand::Create(args)) => {
            let scopes = Scopes::parse(&args.scopes)?;
            let (_, secret) = ids.create_api_key(&args.tenant, scopes).await?;
            println!("{secret}");
        }
        AdminCommand::Key(KeyCommand::Revoke { key_prefix_or_id }) => {
            let key = ids.revoke_api_key(&key_prefix_or_id).await?;
            let revoked = rfc3339(key.revoked_at)?;
            println!(
                "{}",
                json!({ "id": key.id, "prefix": key.prefix, "revoked_at": revoked })
            );
        }
        AdminCommand::Session(SessionCommand::Create {
            tenant,
            user,
            rooms,
            all_rooms,
            ttl,
        }) => {
            let ttl = time::Duration::try_from(*ttl).context("--ttl is too long")?;
            let reach = Reach::chosen(rooms.as_deref(), all_rooms).context("--rooms")?;
            let (_, cookie) = ids.create_session(&tenant, &user, ttl, reach).await?;
            println!("{cookie}");
        }
        AdminCommand::Session(SessionCommand::Revoke {
            session_cookie_or_id,
        }) => {
            let named = match session_cookie_or_id.as_deref() {
                None | Some("-") => first_line_of_stdin()?,
                Some(value) => value.to_owned(),
            };
            let session = ids.revoke_session(&named).await?;
            let revoked = rfc3339(session.revoked_at)?;
            println!(
                "{}",
                json!({
                    "id": session.id,
                    "tenant_id": session.tenant_id,
                    "user_id": session.user_id,
                    "revoked_at": revoked,
                })
            );
        }
        AdminCommand::Quota(QuotaCommand::Set(set)) => {
            let change = QuotaChange {
                max_bytes: set.max_bytes.map(|l| l.0),
                max_attachments: set.max_attachments.map(|l| l.0),
            };
            let (tenant, quota) = ids.set_quota(&set.tenant, change).await?;
            println!("{}", quota_json(&tenant, &quota));
        }
        AdminCommand::Quota(QuotaCommand::Show { tenant }) => {
            let (tenant, quota) = ids.quota(&tenant).await?;
            println!("{}", quota_json(&tenant, &quota));
        }
    }
    Ok(())
}

/// A tenant's quota as printed: limits (`null`: unlimited) and usage.
fn quota_json(tenant: &Tenant, quota: &Quota) -> serde_json::Value {
    json!({
        "tenant_id": tenant.id,
        "slug": tenant.slug,
        "max_bytes": quota.limits.max_bytes,
        "max_attachments": quota.limits.max_attachments,
        "used_bytes": quota.usage.bytes,
        "used_attachments": quota.usage.attachments,
    })
}

/// A revocation time as printed: RFC 3339, or `null`.
fn rfc3339(at: Option<time::OffsetDateTime>) -> anyhow::Result<Option<String>> {
    at.map(|t| t.format(&Rfc3339))
        .transpose()
        .context("formatting a timestamp")
}

/// The first line of standard input, trimmed: a secret read there never stands
/// in the process list or a shell's history.
fn first_line_of_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the session cookie from standard input")?;
    Ok(line.trim().to_owned())
}
