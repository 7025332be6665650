//! The listing workload: for tenants of growing size, the first page and a deep
//! page (keyset after 90 % of the tenant's rows) of `list_page`, sorted by each
//! sort field. Keyset paging promises the deep page costs about what the first
//! does, whatever the size; [`Report::worst_ratio`] checks the promise.

use std::time::Duration;

use anyhow::{Result, bail};
use clasp_domain::listing::{Cursor, Range, SortField, SortKey, SortOrder, TextField};
use clasp_domain::{ListQuery, TenantId};

use crate::backend::{Backend, Row};
use crate::stats::{median, ms};

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Tenant sizes, in rows; each gets a tenant of its own in one database.
    pub sizes: Vec<u64>,
    /// Timed runs per measurement (after three untimed ones).
    pub runs: usize,
    /// Records per page.
    pub limit: usize,
}

/// One measurement.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Rows of the tenant.
    pub rows: u64,
    /// Sort field.
    pub sort: SortField,
    /// Median time of the first page.
    pub first: Duration,
    /// Median time of the deep page.
    pub deep: Duration,
}

/// Every measurement of one run, and the plans of the deepest pages.
#[derive(Debug, Default)]
pub struct Report {
    /// In the order measured.
    pub measurements: Vec<Measurement>,
    /// (backend, sort, plan lines) of the deep page of the largest tenant.
    pub plans: Vec<(&'static str, SortField, Vec<String>)>,
}

/// The wire name of a sort field (the `cases` dialect's).
pub fn sort_name(sort: SortField) -> &'static str {
    match sort {
        SortField::CreatedAt => "createdDate",
        SortField::Filename => "name",
        SortField::Size => "sizeBytes",
        SortField::UpdatedAt => "updatedDate",
        SortField::Text(TextField::ContentType) => "mimeType",
        SortField::Text(TextField::Kind) => "kind",
        SortField::Text(TextField::FileFormat) => "fileFormat",
        SortField::Text(TextField::NameWithoutExtension) => "nameWithoutExtension",
        SortField::Text(TextField::CaseId) => "caseId",
        SortField::Text(TextField::Description) => "description",
        SortField::Text(TextField::Locale) => "locale",
        SortField::Text(TextField::Sha256) => "sha256",
        SortField::Id => "id",
    }
}

const SORTS: [SortField; 3] = [SortField::CreatedAt, SortField::Filename, SortField::Size];

/// The first page, or the page after row `after`, sorted by `sort` ascending.
pub(crate) fn query(sort: SortField, after: Option<Row>, limit: usize) -> ListQuery {
    let id = after.map(Row::id);
    let sort = match sort {
        SortField::CreatedAt => SortKey::CreatedAt(Range {
            after: after.map(|r| Cursor {
                value: r.created_at(),
                id,
            }),
            before: None,
        }),
        SortField::Filename => SortKey::Filename(Range {
            after: after.map(|r| Cursor {
                value: r.filename(),
                id,
            }),
            before: None,
        }),
        SortField::Size => SortKey::Size(Range {
            after: after.map(|r| Cursor {
                value: r.size(),
                id,
            }),
            before: None,
        }),
        // Seeded rows are never changed, and all of one type and extension.
        SortField::UpdatedAt => SortKey::UpdatedAt(Range {
            after: after.map(|r| Cursor {
                value: r.created_at(),
                id,
            }),
            before: None,
        }),
        SortField::Id => SortKey::Id(Range {
            after: after.map(|r| Cursor { value: r.id(), id }),
            before: None,
        }),
        SortField::Text(field) => SortKey::Text(
            field,
            Range {
                after: after.map(|r| Cursor {
                    value: match field {
                        TextField::ContentType => "application/pdf".to_owned(),
                        TextField::Kind => "application".to_owned(),
                        TextField::FileFormat => "pdf".to_owned(),
                        TextField::NameWithoutExtension => format!("file-{:08}", r.n),
                        TextField::CaseId => "case-1".to_owned(),
                        TextField::Description | TextField::Sha256 => String::new(),
                        TextField::Locale => "en_US".to_owned(),
                    },
                    id,
                }),
                before: None,
            },
        ),
    };
    ListQuery {
        sort,
        order: SortOrder::Asc,
        filters: Vec::new(),
        limit,
    }
}

/// Seeds one tenant per size on `backend`, then measures every sort field.
/// Fails if a page is not the one the seeded rows say it must be.
pub async fn run(backend: &Backend, config: &Config, report: &mut Report) -> Result<()> {
    let mut tenants: Vec<(u64, TenantId, u32)> = Vec::new();
    for (i, &rows) in config.sizes.iter().enumerate() {
        let seed = u32::try_from(i + 1)?;
        eprintln!("{}: seeding {rows} rows", backend.name());
        tenants.push((rows, backend.seed(seed, rows).await?, seed));
    }
    let repo = backend.repository();
    for &(rows, tenant, seed) in &tenants {
        let deep_from = Row {
            tenant: seed,
            n: rows * 9 / 10,
        };
        for sort in SORTS {
            let first = query(sort, None, config.limit);
            let deep = query(sort, Some(deep_from), config.limit);
            // The pages are the right ones before they are timed.
            for (q, start) in [(&first, 1), (&deep, deep_from.n + 1)] {
                let page = repo.list_page(tenant, q).await?;
                let expected: Vec<_> = (start..=rows)
                    .take(config.limit)
                    .map(|n| Row { tenant: seed, n }.id())
                    .collect();
                let got: Vec<_> = page.iter().map(|a| a.id).collect();
                if got != expected {
                    bail!(
                        "{} {} rows by {}: wrong page from row {start}",
                        backend.name(),
                        rows,
                        sort_name(sort)
                    );
                }
            }
            let first = median(3, config.runs, || repo.list_page(tenant, &first)).await?;
            let deep_time = median(3, config.runs, || repo.list_page(tenant, &deep)).await?;
            report.measurements.push(Measurement {
                backend: backend.name(),
                rows,
                sort,
                first,
                deep: deep_time,
            });
            if Some(&rows) == config.sizes.iter().max() {
                report
                    .plans
                    .push((backend.name(), sort, backend.explain(tenant, &deep).await?));
            }
        }
    }
    Ok(())
}

impl Report {
    /// deep page at the largest size / deep page at the smallest, per backend
    /// and sort field.
    pub fn ratios(&self) -> Vec<(&'static str, SortField, f64)> {
        let mut out = Vec::new();
        for m in &self.measurements {
            if out.iter().any(|(b, s, _)| *b == m.backend && *s == m.sort) {
                continue;
            }
            let same: Vec<&Measurement> = self
                .measurements
                .iter()
                .filter(|x| x.backend == m.backend && x.sort == m.sort)
                .collect();
            let small = same.iter().min_by_key(|x| x.rows);
            let large = same.iter().max_by_key(|x| x.rows);
            if let (Some(small), Some(large)) = (small, large) {
                let ratio = large.deep.as_secs_f64() / small.deep.as_secs_f64().max(1e-9);
                out.push((m.backend, m.sort, ratio));
            }
        }
        out
    }

    /// The largest of [`Report::ratios`].
    pub fn worst_ratio(&self) -> f64 {
        self.ratios().iter().map(|r| r.2).fold(0.0, f64::max)
    }

    /// The table, the ratios and the plans, as `docs/benchmarks.md` shows them.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "| backend | rows | sort | first page (ms) | deep page (ms) |\n|---|---:|---|---:|---:|\n",
        );
        for m in &self.measurements {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                m.backend,
                m.rows,
                sort_name(m.sort),
                ms(m.first),
                ms(m.deep)
            ));
        }
        out.push_str(
            "\n| backend | sort | deep page, largest / smallest tenant |\n|---|---|---:|\n",
        );
        for (backend, sort, ratio) in self.ratios() {
            out.push_str(&format!(
                "| {backend} | {} | {ratio:.2} |\n",
                sort_name(sort)
            ));
        }
        for (backend, sort, plan) in &self.plans {
            out.push_str(&format!(
                "\n{backend}, deep page by {}:\n```\n{}\n```\n",
                sort_name(*sort),
                plan.join("\n")
            ));
        }
        out
    }
}
