//! The command line, as the operator contract in DESIGN.md fixes it.

use clap::{ArgGroup, Args, Parser, Subcommand};

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
    /// Back up the embedded default (SQLite and the blob directory) into a new
    /// directory, while serving: a consistent database snapshot and every file
    /// it refers to, with the generated signing secret.
    Backup {
        /// The directory to create (it must not exist, or be empty).
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Restore a backup of `clasp backup` into this instance's data directory,
    /// which must hold no database yet.
    Restore {
        /// The backup's directory.
        #[arg(long)]
        from: std::path::PathBuf,
    },
    /// Move everything of this instance's stores (tenants, keys, sessions,
    /// attachments with their bytes, quotas) into a PostgreSQL database and a
    /// blob store, checking each object by its SHA-256; run it again to resume
    /// after an interruption, or to catch up (docs/operations.md).
    MigrateStore {
        /// The PostgreSQL database to move to (it is migrated first).
        #[arg(long)]
        to_database_url: String,
        /// The blob store to move to: s3://BUCKET (with the s3_* settings) or file://PATH.
        #[arg(long)]
        to_storage_url: String,
    },
    /// Probe this instance, for container and orchestrator health checks:
    /// GET /healthz on `listen`, or with --ready /readyz on `admin_listen`;
    /// exit 0 on 200, 1 otherwise, within 5 s.
    Healthcheck {
        /// Probe readiness (database and store answer) instead of liveness.
        #[arg(long)]
        ready: bool,
    },
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
    /// Per-tenant quotas: the most bytes and attachments a tenant may hold.
    #[command(subcommand)]
    Quota(QuotaCommand),
}

/// `clasp admin quota …`
#[derive(Debug, Subcommand)]
pub enum QuotaCommand {
    /// Set a tenant's limits (the ones not given stay as they are); prints its
    /// quota, limits and usage, as one JSON object. A limit below the usage
    /// refuses new uploads until enough attachments are deleted.
    Set(QuotaSet),
    /// Print a tenant's quota, limits (null: unlimited) and usage, as one JSON
    /// object.
    Show {
        /// Slug of the tenant.
        #[arg(long)]
        tenant: String,
    },
}

/// Arguments of `clasp admin quota set`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("limit").required(true).multiple(true).args(["max_bytes", "max_attachments"])))]
pub struct QuotaSet {
    /// Slug of the tenant.
    #[arg(long)]
    pub tenant: String,
    /// The most bytes of attachments the tenant may hold, or `none` (unlimited).
    #[arg(long, value_parser = parse_limit)]
    pub max_bytes: Option<Limit>,
    /// The most attachments the tenant may hold, or `none` (unlimited).
    #[arg(long, value_parser = parse_limit)]
    pub max_attachments: Option<Limit>,
}

/// A quota limit as given on the command line: a number, or `none` for unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub Option<u64>);

/// Reads a [`Limit`]: a non-negative integer, or `none`.
fn parse_limit(value: &str) -> Result<Limit, String> {
    if value.eq_ignore_ascii_case("none") {
        return Ok(Limit(None));
    }
    value
        .parse::<u64>()
        .map(|n| Limit(Some(n)))
        .map_err(|_| format!("expected a whole number or `none`, not {value:?}"))
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
        /// The chat rooms the user is in, comma-separated integer ids: the
        /// session reads their attachments and posts into them. Without
        /// `--rooms` or `--all-rooms`, only its own uploads.
        #[arg(long, value_delimiter = ',', conflicts_with = "all_rooms")]
        rooms: Option<Vec<String>>,
        /// A moderator's or a service's session: every chat attachment of the tenant.
        #[arg(long)]
        all_rooms: bool,
        /// Lifetime, e.g. 30m, 1h, 7d.
        #[arg(long, default_value = "1h")]
        ttl: humantime::Duration,
    },
    /// Revoke a chat session by its id or its cookie value; prints the session
    /// (id, tenant, user, revoked_at) as one JSON object. Without an argument,
    /// or with `-`, the cookie value (or id) is read from standard input, so it
    /// never stands in `ps` or a shell's history.
    Revoke {
        /// Session id, or the clasp_session cookie value (which may start
        /// with `-`: base64url); `-` or nothing: read it from standard input.
        #[arg(allow_hyphen_values = true)]
        session_cookie_or_id: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{AdminCommand, Cli, Command, Limit, QuotaCommand, SessionCommand};

    #[test]
    fn quota_limits_are_numbers_or_none_and_at_least_one_is_given() {
        let cli = Cli::try_parse_from([
            "clasp",
            "admin",
            "quota",
            "set",
            "--tenant",
            "t",
            "--max-bytes",
            "1024",
            "--max-attachments",
            "none",
        ])
        .expect("parsed");
        let Command::Admin(AdminCommand::Quota(QuotaCommand::Set(set))) = cli.command else {
            panic!("not quota set");
        };
        assert_eq!(set.max_bytes, Some(Limit(Some(1024))));
        assert_eq!(set.max_attachments, Some(Limit(None)));
        for refused in [
            "clasp admin quota set --tenant t",
            "clasp admin quota set --tenant t --max-bytes -1",
            "clasp admin quota set --tenant t --max-bytes 10MB",
        ] {
            let args = refused.split(' ');
            assert!(Cli::try_parse_from(args).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn a_session_names_rooms_or_all_rooms_not_both() {
        let cli = Cli::try_parse_from(
            "clasp admin session create --tenant t --user u --rooms 6,7".split(' '),
        )
        .expect("parsed");
        assert!(matches!(
            cli.command,
            Command::Admin(AdminCommand::Session(SessionCommand::Create { rooms: Some(rooms), all_rooms: false, .. }))
                if rooms == ["6", "7"]
        ));
        let both = "clasp admin session create --tenant t --user u --rooms 6 --all-rooms";
        assert!(Cli::try_parse_from(both.split(' ')).is_err());
    }

    /// Session cookies are base64url, so one in 64 starts with `-`.
    #[test]
    fn a_cookie_starting_with_a_hyphen_is_a_value() {
        let cli = Cli::try_parse_from(["clasp", "admin", "session", "revoke", "-TQYNK_x"])
            .expect("parsed");
        assert!(matches!(
            cli.command,
            Command::Admin(AdminCommand::Session(SessionCommand::Revoke { session_cookie_or_id }))
                if session_cookie_or_id.as_deref() == Some("-TQYNK_x")
        ));
    }
}
