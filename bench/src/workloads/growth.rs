//! Cost as work grows, on PostgreSQL (the store of the deployments that grow):
//! a database grown step by step to each size, in two layouts — every
//! attachment in one tenant, and the same count spread over many tenants —
//! and at each step:
//!
//! - a metadata lookup by id and by the tenant's number, and the first and a
//!   deep listing page, each of another row or tenant every time (median and
//!   99th percentile), through the adapter `clasp serve` uses;
//! - `clasp gc` (the sweeper's pass) with nothing to sweep, and with
//!   abandoned uploads past their deadline beside every ready row;
//! - what the table and its indexes take on disk, per attachment.
//!
//! [`quotas`] adds upload throughput with a tenant's quota on and off.
//! The lookups are the database's share of a request: what grows with the
//! data. The HTTP share is constant, and measured by the transfer workload.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clasp_domain::listing::SortField;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::backend::{Backend, Row};
use crate::procs::{ClaspCli, Storage};
use crate::stats::{Spread, ms, spread};
use crate::workloads::listing;

pub mod quotas;

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// A PostgreSQL server (a URL of any database of a user who may create
    /// databases).
    pub postgres_url: String,
    /// The `clasp` binary whose `gc` is timed.
    pub clasp_bin: PathBuf,
    /// Attachments in the database at each step, ascending.
    pub sizes: Vec<u64>,
    /// Tenants of the spread layout; each size is split evenly among them.
    pub tenants: u32,
    /// Timed lookups per figure (after ten untimed ones).
    pub lookups: usize,
    /// Abandoned uploads the timed sweep removes.
    pub abandoned: u64,
    /// Records per listing page.
    pub limit: usize,
}

/// How the attachments of a step are spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Every attachment in one tenant.
    OneTenant,
    /// The same count split evenly among this many tenants.
    Spread(u32),
}

impl Layout {
    fn tenants(self) -> u32 {
        match self {
            Layout::OneTenant => 1,
            Layout::Spread(n) => n.max(1),
        }
    }

    /// The layout's name in the table.
    pub fn label(self) -> String {
        match self {
            Layout::OneTenant => "1 tenant".into(),
            Layout::Spread(n) => format!("{n} tenants"),
        }
    }
}

/// The figures of one step.
#[derive(Debug, Clone)]
pub struct Step {
    /// How the attachments are spread.
    pub layout: Layout,
    /// Attachments in the database (ready, all of them).
    pub attachments: u64,
    /// Bytes of the attachments table with its indexes.
    pub table_bytes: u64,
    /// Seeding this step's new rows took this long.
    pub seeded_in: Duration,
    /// A lookup by id.
    pub by_id: Spread,
    /// A lookup by the tenant's number (the chat dialect's file number).
    pub by_number: Spread,
    /// The first listing page, by creation time.
    pub first_page: Spread,
    /// The page after 90 % of a tenant's rows.
    pub deep_page: Spread,
    /// `clasp gc` with nothing abandoned (the median of three): what each of
    /// the sweeper's ticks costs, plus a process start and a connection.
    pub idle_gc: Duration,
    /// `clasp gc` removing [`Config::abandoned`] abandoned uploads.
    pub sweep_gc: Duration,
}

/// Every step, and the quota figures.
#[derive(Debug, Default)]
pub struct Report {
    /// In the order measured.
    pub steps: Vec<Step>,
    /// Abandoned uploads each timed sweep removed.
    pub abandoned: u64,
    /// Uploads with the quota on and off.
    pub quotas: Vec<quotas::QuotaCost>,
}

/// Grows a database in each layout through `config.sizes`, measuring each step.
pub async fn run(config: &Config, work: &Path, report: &mut Report) -> Result<()> {
    report.abandoned = config.abandoned;
    for layout in [Layout::OneTenant, Layout::Spread(config.tenants)] {
        // One layout's database at a time: at 10⁷ rows one takes tens of GB.
        let backend = Backend::postgres(&config.postgres_url).await?;
        let outcome = grow(config, work, layout, &backend, report).await;
        backend.close().await?;
        outcome?;
    }
    Ok(())
}

async fn grow(
    config: &Config,
    work: &Path,
    layout: Layout,
    backend: &Backend,
    report: &mut Report,
) -> Result<()> {
    let tenants = layout.tenants();
    let url = backend.url();
    let dir = work.join(format!("gc-{tenants}"));
    std::fs::create_dir_all(&dir)?;
    let gc = ClaspCli::new(&config.clasp_bin, &dir, &Storage::Local, Some(&url));
    let mut seeded = 0;
    for &size in &config.sizes {
        let per_tenant = size / u64::from(tenants);
        if per_tenant <= seeded {
            bail!("size {size} is not larger than the last, or smaller than {tenants} tenants");
        }
        eprintln!("growth, {}: seeding to {size} attachments", layout.label());
        let start = Instant::now();
        backend
            .seed_range(1..=tenants, seeded + 1..=per_tenant)
            .await?;
        let seeded_in = start.elapsed();
        seeded = per_tenant;
        let (by_id, by_number, first_page, deep_page) =
            lookups(config, backend, tenants, per_tenant).await?;
        let mut idle = [timed_gc(&gc, 0)?, timed_gc(&gc, 0)?, timed_gc(&gc, 0)?];
        idle.sort();
        let idle_gc = idle[1];
        backend
            .batch(&abandon(Row::tenant_id(1), config.abandoned))
            .await?;
        let sweep_gc = timed_gc(&gc, config.abandoned)?;
        let step = Step {
            layout,
            attachments: per_tenant * u64::from(tenants),
            table_bytes: table_bytes(&url).await?,
            seeded_in,
            by_id,
            by_number,
            first_page,
            deep_page,
            idle_gc,
            sweep_gc,
        };
        eprintln!(
            "  by id {} ms, first page {} ms, deep page {} ms, gc {} / {} ms",
            ms(step.by_id.p50),
            ms(step.first_page.p50),
            ms(step.deep_page.p50),
            ms(step.idle_gc),
            ms(step.sweep_gc)
        );
        report.steps.push(step);
    }
    Ok(())
}

/// Row `i` of a figure: another tenant and another row each time, spread
/// over all of them by a multiplicative hash (the same rows in every run).
fn pick(i: usize, tenants: u32, rows: u64) -> Row {
    let i = i as u64;
    let tenant = i.wrapping_mul(7_919) % u64::from(tenants) + 1;
    Row {
        tenant: u32::try_from(tenant).unwrap_or(1),
        n: i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % rows + 1,
    }
}

/// The four lookups' spreads; fails when one misses its row.
async fn lookups(
    config: &Config,
    backend: &Backend,
    tenants: u32,
    rows: u64,
) -> Result<(Spread, Spread, Spread, Spread)> {
    let repo = backend.repository();
    let runs = config.lookups;
    let by_id = spread(10, runs, |i| async move {
        let row = pick(i, tenants, rows);
        match repo.get(Row::tenant_id(row.tenant), row.id()).await? {
            Some(found) if found.id == row.id() => Ok(()),
            _ => bail!("row {} of tenant {} not found by id", row.n, row.tenant),
        }
    })
    .await?;
    let by_number = spread(10, runs, |i| async move {
        let row = pick(i, tenants, rows);
        let number = i64::try_from(row.n)?;
        match repo
            .get_by_number(Row::tenant_id(row.tenant), number)
            .await?
        {
            Some(found) if found.id == row.id() => Ok(()),
            _ => bail!("row {} of tenant {} not found by number", row.n, row.tenant),
        }
    })
    .await?;
    let limit = config.limit;
    let page = |deep: bool| {
        move |i| async move {
            let row = pick(i, tenants, rows);
            let after = deep.then_some(Row {
                tenant: row.tenant,
                n: rows * 9 / 10,
            });
            let query = listing::query(SortField::CreatedAt, after, limit);
            let page = repo.list_page(Row::tenant_id(row.tenant), &query).await?;
            let first = after.map_or(1, |r| r.n + 1);
            match page.first() {
                Some(a) if a.id == (Row { n: first, ..row }).id() => Ok(()),
                _ if first > rows => Ok(()),
                _ => bail!("tenant {}: wrong page from row {first}", row.tenant),
            }
        }
    };
    let first_page = spread(10, runs, page(false)).await?;
    let deep_page = spread(10, runs, page(true)).await?;
    Ok((by_id, by_number, first_page, deep_page))
}

/// Inserts `count` uploads of `tenant` that died an hour before their
/// deadline passed (state `uploading`), through the quota and numbering
/// triggers as a real upload's row.
fn abandon(tenant: clasp_domain::TenantId, count: u64) -> String {
    format!(
        "INSERT INTO attachments (id, tenant_id, case_id, filename, content_type,
             size_bytes, state, tags, locale, uploaded_by, created_at, updated_at,
             kind, file_format, name_stem, upload_expires_at)
         SELECT ('00000001-0001-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, '{tenant}',
             'case-1', 'abandoned-' || n || '.pdf', 'application/pdf', 0, 'uploading', '{{}}',
             'en_US', 'bench', now() - interval '2 hours', now() - interval '2 hours',
             'application', 'pdf', 'abandoned-' || n, now() - interval '1 hour'
         FROM generate_series(1::bigint, {count}::bigint) AS n;",
        tenant = tenant.0
    )
}

/// Times `clasp gc`; fails unless it removed `expected` uploads.
fn timed_gc(gc: &ClaspCli, expected: u64) -> Result<Duration> {
    let start = Instant::now();
    let removed = gc.run(&["gc"])?;
    let took = start.elapsed();
    if removed != expected.to_string() {
        bail!("clasp gc removed {removed} uploads, not {expected}");
    }
    Ok(took)
}

/// Bytes of the attachments table with its indexes and TOAST.
async fn table_bytes(url: &str) -> Result<u64> {
    use diesel_async::RunQueryDsl;
    let mut conn = AsyncPgConnection::establish(url).await?;
    let bytes: i64 = diesel::select(diesel::dsl::sql::<BigInt>(
        "pg_total_relation_size('attachments')",
    ))
    .get_result(&mut conn)
    .await?;
    Ok(u64::try_from(bytes)?)
}

impl Report {
    /// The tables, as `docs/performance.md` shows them.
    pub fn render(&self) -> String {
        let mut out = format!(
            "| layout | attachments | on disk (table + indexes) | per attachment | seeding this step (s) | by id p50 / p99 (ms) | by number p50 / p99 (ms) | first page p50 / p99 (ms) | deep page p50 / p99 (ms) | `clasp gc`, nothing to sweep (ms) | `clasp gc`, {} abandoned (ms) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            self.abandoned
        );
        let both = |s: Spread| format!("{} / {}", ms(s.p50), ms(s.p99));
        for s in &self.steps {
            out.push_str(&format!(
                "| {} | {} | {:.1} MiB | {} B | {:.0} | {} | {} | {} | {} | {} | {} |\n",
                s.layout.label(),
                s.attachments,
                s.table_bytes as f64 / (1024.0 * 1024.0),
                s.table_bytes / s.attachments.max(1),
                s.seeded_in.as_secs_f64(),
                both(s.by_id),
                both(s.by_number),
                both(s.first_page),
                both(s.deep_page),
                ms(s.idle_gc),
                ms(s.sweep_gc)
            ));
        }
        if !self.quotas.is_empty() {
            out.push('\n');
            out.push_str(&quotas::render(&self.quotas));
        }
        out
    }
}
