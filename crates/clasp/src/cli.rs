//! The command line, as the operator contract in DESIGN.md fixes it.

use clap::{Args, Parser, Subcommand};

/// Clasp: an attachments service that speaks five attachment APIs.
#[derive(Debug, Parser)]
#[command(name = "clasp", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve every dialect over HTTP on CLASP_LISTEN (migrating the database first).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage tenants, API keys and sessions.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Delete abandoned direct uploads (pending past their upload URL's expiry)
    /// with their bytes, once; prints how many. `clasp serve` also does this
    /// every sweep_interval_secs.
    Gc,
}

/// `clasp admin …`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Tenants (workspaces).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Chat sessions.
    #[command(subcommand)]
    Session(SessionCommand),
}

/// `clasp admin tenant …`
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; prints it as one JSON object.
    Create {
        /// The name clients use in paths, e.g. ws-123.
        #[arg(long)]
        slug: String,
    },
}

/// `clasp admin key …`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key; prints the key (ixk_…) alone. It is not stored and cannot be shown again.
    Create(KeyCreate),
    /// Revoke an API key by its id, its 12-character prefix (ixk_…) or the whole key.
    Revoke {
        /// Key id, prefix or key.
        key_prefix_or_id: String,
    },
}

/// Arguments of `clasp admin key create`.
#[derive(Debug, Args)]
pub struct KeyCreate {
    /// Slug of the tenant the key acts in.
    #[arg(long)]
    pub tenant: String,
    /// Comma-separated scopes: attachments:read, attachments:write, attachments:delete.
    #[arg(
        long,
        default_value = "attachments:read,attachments:write,attachments:delete"
    )]
    pub scopes: String,
}

/// `clasp admin session …`
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Create a chat session; prints the clasp_session cookie value alone.
    Create {
        /// Slug of the tenant.
        #[arg(long)]
        tenant: String,
        /// The host product's user id.
        #[arg(long)]
        user: String,
        /// Lifetime, e.g. 30m, 1h, 7d.
        #[arg(long, default_value = "1h")]
        ttl: humantime::Duration,
    },
    /// Revoke a chat session by its id or its cookie value; prints the session
    /// (id, tenant, user, revoked_at) as one JSON object.
    Revoke {
        /// Session id, or the clasp_session cookie value (which may start
        /// with `-`: base64url).
        #[arg(allow_hyphen_values = true)]
        session_cookie_or_id: String,
    },
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{AdminCommand, Cli, Command, SessionCommand};

    /// Session cookies are base64url, so one in 64 starts with `-`.
    #[test]
    fn a_cookie_starting_with_a_hyphen_is_a_value() {
        let cli = Cli::try_parse_from(["clasp", "admin", "session", "revoke", "-TQYNK_x"])
            .expect("parsed");
        assert!(matches!(
            cli.command,
            Command::Admin(AdminCommand::Session(SessionCommand::Revoke { session_cookie_or_id }))
                if session_cookie_or_id == "-TQYNK_x"
        ));
    }
}
