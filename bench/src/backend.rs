//! The databases a benchmark runs on: a fresh SQLite file or a fresh PostgreSQL
//! database, migrated by `clasp-db` (so the indexes are the migrations'), and
//! seeded in bulk by one `INSERT … SELECT` per tenant, which writes a million
//! rows in seconds where a million port calls would take minutes.
//!
//! Seeded rows follow formulas ([`Row`]), so a workload knows any row's sort
//! values without reading it back.

use std::ops::RangeInclusive;

use anyhow::{Context, Result};
use clasp_db::{PgSettings, PgStore, SqliteStore};
use clasp_domain::ports::AttachmentRepository;
use clasp_domain::{AttachmentId, ListQuery, TenantId};
use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use tempfile::TempDir;
use time::OffsetDateTime;
use uuid::Uuid;

/// The creation time of seeded row 0, in Unix seconds.
const BASE_SECS: i64 = 1_767_225_600;

/// Row `n` (from 1) of seeded tenant `tenant`: its values follow from `n`, and
/// every sort field has ties in pairs except the name.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// The tenant's seed number.
    pub tenant: u32,
    /// The row's number within the tenant, from 1.
    pub n: u64,
}

impl Row {
    /// Its id: increasing with `n` within a tenant.
    pub fn id(self) -> AttachmentId {
        let text = format!("{:08x}-0000-7000-8000-{:012x}", self.tenant, self.n);
        AttachmentId(Uuid::parse_str(&text).unwrap_or(Uuid::nil()))
    }

    /// Its tenant's id.
    pub fn tenant_id(tenant: u32) -> TenantId {
        TenantId(Uuid::from_u128(
            0xbe4c_0000_0000_7000_8000_0000_0000_0000 | u128::from(tenant),
        ))
    }

    /// Its creation time: one second per two rows.
    pub fn created_at(self) -> OffsetDateTime {
        let secs = BASE_SECS + i64::try_from(self.n / 2).unwrap_or(i64::MAX);
        OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// Its filename (unique, in `n` order).
    pub fn filename(self) -> String {
        format!("file-{:08}.pdf", self.n)
    }

    /// Its size: one byte more every two rows.
    pub fn size(self) -> u64 {
        self.n / 2
    }
}

/// A database under benchmark.
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite {
        /// The store under test.
        store: SqliteStore,
        /// The file's path.
        path: String,
        /// Keeps the directory.
        dir: TempDir,
    },
    /// A database of its own on a PostgreSQL server, dropped by [`Backend::close`].
    Postgres {
        /// The store under test.
        store: PgStore,
        /// A URL of the database.
        url: String,
        /// A URL of the server's maintenance database, to drop it.
        server: String,
        /// The database's name.
        name: String,
    },
}

impl Backend {
    /// A fresh, migrated SQLite file.
    pub async fn sqlite() -> Result<Backend> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("bench.db").display().to_string();
        let store = SqliteStore::open(&format!("sqlite://{path}")).await?;
        Ok(Backend::Sqlite { store, path, dir })
    }

    /// A fresh, migrated database on the PostgreSQL server of `server_url`
    /// (a URL naming any database of a user who may create databases).
    pub async fn postgres(server_url: &str) -> Result<Backend> {
        let name = format!("clasp_bench_{}", Uuid::new_v4().simple());
        let mut admin = AsyncPgConnection::establish(server_url)
            .await
            .with_context(|| format!("cannot connect to {server_url}"))?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        let url = with_database(server_url, &name);
        let store = PgStore::open(&url, &PgSettings::default()).await?;
        Ok(Backend::Postgres {
            store,
            url,
            server: server_url.to_owned(),
            name,
        })
    }

    /// `sqlite` or `postgres`.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }

    /// The repository adapter under test.
    pub fn repository(&self) -> &dyn AttachmentRepository {
        match self {
            Backend::Sqlite { store, .. } => store,
            Backend::Postgres { store, .. } => store,
        }
    }

    /// The plan the database picks for the listing `query` of `tenant`.
    pub async fn explain(&self, tenant: TenantId, query: &ListQuery) -> Result<Vec<String>> {
        Ok(match self {
            Backend::Sqlite { store, .. } => store.explain_list_page(tenant, query).await?,
            Backend::Postgres { store, .. } => store.explain_list_page(tenant, query).await?,
        })
    }

    /// Inserts rows 1 to `count` of seeded tenant `tenant` (all `Ready` PDFs on
    /// one case), then refreshes the planner's statistics as autovacuum would.
    pub async fn seed(&self, tenant: u32, count: u64) -> Result<TenantId> {
        self.seed_range(tenant..=tenant, 1..=count).await?;
        Ok(Row::tenant_id(tenant))
    }

    /// Inserts rows `rows` of every seeded tenant in `tenants` (all `Ready`
    /// PDFs on one case), then refreshes the planner's statistics.
    pub async fn seed_range(
        &self,
        tenants: RangeInclusive<u32>,
        rows: RangeInclusive<u64>,
    ) -> Result<()> {
        let (t0, t1, n0, n1) = (tenants.start(), tenants.end(), rows.start(), rows.end());
        let sql = match self {
            Backend::Sqlite { .. } => format!(
                "PRAGMA busy_timeout = 10000;
                 WITH RECURSIVE s(n) AS (SELECT {n0} UNION ALL SELECT n + 1 FROM s WHERE n < {n1}),
                     t(t) AS (SELECT {t0} UNION ALL SELECT t + 1 FROM t WHERE t < {t1})
                 INSERT INTO attachments (id, tenant_id, case_id, filename, content_type,
                     size_bytes, state, tags, locale, uploaded_by, created_at, updated_at,
                     kind, file_format, name_stem)
                 SELECT printf('%08x-0000-7000-8000-%012x', t, n),
                     printf('be4c0000-0000-7000-8000-%012x', t),
                     'case-1', printf('file-%08d.pdf', n), 'application/pdf', n / 2, 'ready',
                     '[]', 'en_US', 'bench', ({BASE_SECS} + n / 2) * 1000000,
                     ({BASE_SECS} + n / 2) * 1000000, 'application', 'pdf',
                     printf('file-%08d', n)
                 FROM t, s;"
            ),
            // The quota and numbering triggers would update each tenant's
            // quota row once per row, and a million updates of one row in one
            // transaction walk ever longer version chains (minutes instead of
            // seconds): they are off while seeding, and the usage and the last
            // number are set once afterwards, as the migrations' backfills do.
            Backend::Postgres { .. } => {
                let tenant = |t: &u32| format!("be4c0000-0000-7000-8000-{t:012x}");
                let (first, last) = (tenant(t0), tenant(t1));
                format!(
                    "BEGIN;
                     ALTER TABLE attachments DISABLE TRIGGER attachments_quota;
                     ALTER TABLE attachments DISABLE TRIGGER attachments_number;
                     INSERT INTO attachments (id, tenant_id, case_id, filename, content_type,
                         size_bytes, state, tags, locale, uploaded_by, created_at, updated_at,
                         kind, file_format, name_stem, tenant_number)
                     SELECT (lpad(to_hex(t), 8, '0') || '-0000-7000-8000-'
                             || lpad(to_hex(n), 12, '0'))::uuid,
                         ('be4c0000-0000-7000-8000-' || lpad(to_hex(t), 12, '0'))::uuid, 'case-1',
                         'file-' || lpad(n::text, 8, '0') || '.pdf', 'application/pdf', n / 2,
                         'ready', '{{}}', 'en_US', 'bench', to_timestamp({BASE_SECS} + n / 2),
                         to_timestamp({BASE_SECS} + n / 2), 'application', 'pdf',
                         'file-' || lpad(n::text, 8, '0'), n
                     FROM generate_series({t0}, {t1}) AS t,
                         generate_series({n0}::bigint, {n1}::bigint) AS n;
                     ALTER TABLE attachments ENABLE TRIGGER attachments_number;
                     ALTER TABLE attachments ENABLE TRIGGER attachments_quota;
                     INSERT INTO tenant_quotas (tenant_id, used_bytes, used_attachments, last_number)
                     SELECT tenant_id, SUM(clasp_charged_bytes(state, size_bytes)), COUNT(*),
                         MAX(tenant_number)
                     FROM attachments WHERE tenant_id BETWEEN '{first}' AND '{last}'
                     GROUP BY tenant_id
                     ON CONFLICT (tenant_id) DO UPDATE
                         SET used_bytes = EXCLUDED.used_bytes,
                             used_attachments = EXCLUDED.used_attachments,
                             last_number = EXCLUDED.last_number;
                     COMMIT;
                     ANALYZE attachments;"
                )
            }
        };
        self.batch(&sql).await
    }

    /// Runs `sql` (statements separated by `;`) on a connection of its own.
    pub async fn batch(&self, sql: &str) -> Result<()> {
        match self {
            Backend::Sqlite { path, .. } => {
                let (path, sql) = (path.clone(), sql.to_owned());
                tokio::task::spawn_blocking(move || -> Result<()> {
                    let mut conn = SqliteConnection::establish(&path)?;
                    conn.batch_execute(&sql)?;
                    Ok(())
                })
                .await??;
            }
            Backend::Postgres { url, .. } => {
                let mut conn = AsyncPgConnection::establish(url).await?;
                conn.batch_execute(sql).await?;
            }
        }
        Ok(())
    }

    /// The database's URL, as `clasp` takes it in `CLASP_DATABASE_URL`.
    pub fn url(&self) -> String {
        match self {
            Backend::Sqlite { path, .. } => format!("sqlite://{path}"),
            Backend::Postgres { url, .. } => url.clone(),
        }
    }

    /// Removes what the benchmark made: the PostgreSQL database (the SQLite
    /// directory goes with the value).
    pub async fn close(self) -> Result<()> {
        if let Backend::Postgres {
            store,
            server,
            name,
            ..
        } = self
        {
            drop(store);
            let mut admin = AsyncPgConnection::establish(&server).await?;
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await?;
        }
        Ok(())
    }
}

/// `server_url` with its database replaced by `database`.
fn with_database(server_url: &str, database: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (server_url, String::new()),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority..].find('/') {
        Some(slash) => &base[..authority + slash],
        None => base,
    };
    format!("{server}/{database}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_sort_by_their_number() {
        let (a, b) = (Row { tenant: 1, n: 9 }, Row { tenant: 1, n: 10 });
        assert!(a.id() < b.id() && a.filename() < b.filename());
        assert!(a.size() < b.size() && a.created_at() < b.created_at());
        assert_eq!(b.id().to_string(), "00000001-0000-7000-8000-00000000000a");
        assert_eq!(
            with_database("postgres://u@h:1/clasp?x=1", "b"),
            "postgres://u@h:1/b?x=1"
        );
    }
}
