//! `clasp migrate-store --to-database-url URL --to-storage-url URL`: moves
//! everything of this instance's stores — tenants, keys, sessions, messages,
//! every attachment row as it is (id, number, state, hashes, timestamps) with
//! its bytes and thumbnail, then quota limits and number counters — into a
//! PostgreSQL database and a blob store, typically from the embedded default
//! to PostgreSQL and S3 (the S3 settings are the configuration's, as for
//! `serve`).
//!
//! Each attachment's objects are copied before its row, and each copy is read
//! back and checked by its SHA-256 (against the source's bytes, and against
//! the hash Clasp recorded at upload); so a row in the target means its bytes
//! are there, and a run that stops halfway is resumed by running it again,
//! which skips every row already moved. Progress goes to standard error.

use std::pin::Pin;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clasp_db::{Exporter, PgStore, SqliteStore, Table};
use clasp_domain::ports::{AttachmentRepository, BlobError, BlobStore, IdentityStore};
use clasp_domain::{Attachment, AttachmentId};
use clasp_storage::ObjectBlobStore;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::wiring::{self, SetupError};

/// Rows read and written at a time.
const PAGE: usize = 200;

/// How often progress is printed.
const REPORT_EVERY: Duration = Duration::from_secs(2);

/// This instance's metadata store, which the rows come from.
async fn open_source(config: &Config) -> anyhow::Result<Box<dyn Exporter>> {
    let url = config.database_url();
    Ok(
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Box::new(PgStore::open(&url, &wiring::pg_settings(config)).await?)
        } else {
            Box::new(SqliteStore::open(&url).await?)
        },
    )
}

/// Moves this instance's stores into the ones named.
pub async fn run(config: &Config, to_database: &str, to_storage: &str) -> anyhow::Result<()> {
    if !(to_database.starts_with("postgres://") || to_database.starts_with("postgresql://")) {
        return Err(SetupError(
            "--to-database-url must be a postgres:// URL: stores grow from the embedded \
             default to PostgreSQL"
                .into(),
        )
        .into());
    }
    if to_database == config.database_url() || to_storage == config.storage_url() {
        return Err(SetupError("the target stores are this instance's own".into()).into());
    }
    let source = open_source(config)
        .await
        .context("opening this instance's database")?;
    let source_blobs = wiring::blob_store(config, &config.storage_url())?;
    let target = PgStore::open(to_database, &wiring::pg_settings(config))
        .await
        .context("opening the target database")?;
    let target_blobs = wiring::blob_store(config, to_storage)?;

    for table in [
        Table::Tenants,
        Table::ApiKeys,
        Table::Sessions,
        Table::Messages,
    ] {
        copy_table(&*source, &target, table).await?;
    }
    let (count, bytes) = source.attachment_totals().await?;
    let mut progress = Progress::new(count, bytes);
    let mut after = None;
    loop {
        let page = source.attachments_after(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let ids: Vec<AttachmentId> = page.iter().map(|a| a.id).collect();
        let moved = target.existing_attachments(&ids).await?;
        let (mut new, mut changed) = (Vec::new(), Vec::new());
        for attachment in page {
            let here = moved.get(&attachment.id);
            if here.is_some_and(|at| *at >= attachment.updated_at) {
                progress.skipped(attachment.size_bytes);
                continue;
            }
            progress.copied(copy_objects(&attachment, &source_blobs, &target_blobs).await?);
            if here.is_some() {
                &mut changed
            } else {
                &mut new
            }
            .push(attachment);
        }
        target.import_attachments(&new).await?;
        progress.refreshed += target.refresh_attachments(&changed).await?;
        progress.report(false);
    }
    progress.report(true);
    let removed = prune_attachments(&*source, &target, &target_blobs).await?;
    let tenants_removed = prune_tenants(&*source, &target).await?;
    copy_table(&*source, &target, Table::Quotas).await?;
    println!(
        "moved {} attachments ({} bytes copied, {} already there, {} changed since \
         written over, {} deleted since removed, {} tenants deleted since removed) to {}",
        progress.done,
        progress.bytes_copied,
        progress.skipped,
        progress.refreshed,
        removed,
        tenants_removed,
        to_storage
    );
    Ok(())
}

/// Removes from the target the attachments the source no longer has (deleted
/// since an earlier run): their objects, then their rows. How many.
async fn prune_attachments(
    source: &dyn Exporter,
    target: &PgStore,
    target_blobs: &ObjectBlobStore,
) -> anyhow::Result<usize> {
    let (mut after, mut removed) = (None, 0);
    loop {
        let page = target.attachments_after(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let ids: Vec<AttachmentId> = page.iter().map(|a| a.id).collect();
        let kept = source.existing_attachments(&ids).await?;
        for gone in page.iter().filter(|a| !kept.contains_key(&a.id)) {
            for key in gone.object_keys() {
                target_blobs.delete(&key).await?;
            }
            AttachmentRepository::delete(target, gone.tenant_id, gone.id, None).await?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Removes from the target the tenants the source no longer has (purged
/// since an earlier run), with their keys and sessions. How many.
async fn prune_tenants(source: &dyn Exporter, target: &PgStore) -> anyhow::Result<usize> {
    let (mut after, mut removed) = (None::<String>, 0);
    loop {
        let page = target.list_tenants(after.as_deref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.slug.clone());
        for tenant in &page {
            if source.tenant_by_id(tenant.id).await?.is_none() {
                target.delete_tenant(tenant.id).await?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// Copies the rows of `table` not in the target yet.
async fn copy_table(source: &dyn Exporter, target: &PgStore, table: Table) -> anyhow::Result<()> {
    let (mut after, mut new) = (None, 0usize);
    loop {
        let page = source.export_page(table, after, PAGE).await?;
        let Some(last) = page.last else { break };
        after = Some(last);
        new += target.import_page(&page).await?;
    }
    eprintln!("migrate-store: {}: {new} new rows", table.name());
    Ok(())
}

/// Copies the bytes and the thumbnail of `attachment` that the source has,
/// each checked by reading it back; the bytes copied.
async fn copy_objects(
    attachment: &Attachment,
    from: &ObjectBlobStore,
    to: &ObjectBlobStore,
) -> anyhow::Result<u64> {
    let mut copied = 0;
    let bytes_key = attachment.blob_key();
    for key in attachment.object_keys() {
        // What Clasp recorded at upload is the hash of the bytes, not of the thumbnail.
        let recorded = attachment.sha256.clone().filter(|_| key == bytes_key);
        let reader = match from.get(&key).await {
            Ok(reader) => reader,
            // Attachments that never got bytes (refused, abandoned) have none.
            Err(BlobError::NotFound) => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {key}")),
        };
        let (mut body, hashed) = hashing(reader.stream);
        copied += to
            .put(&key, &mut body)
            .await
            .with_context(|| format!("writing {key}"))?;
        let sent = hashed.finish();
        let stored = sha256_of(to.get(&key).await?.stream).await?;
        if stored != sent || recorded.as_ref().is_some_and(|r| r != &stored) {
            bail!(
                "{key}: the copy's SHA-256 is {stored}, the source's {sent}{}",
                recorded
                    .map(|r| format!(", recorded {r}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(copied)
}

/// The hash of what went through a stream, read once it has ended.
struct Hashed(std::sync::Arc<std::sync::Mutex<Sha256>>);

impl Hashed {
    fn finish(self) -> String {
        let hasher = self.0.lock().map(|h| h.clone()).unwrap_or_default();
        hex::encode(hasher.finalize())
    }
}

type PutStream =
    Pin<Box<dyn Stream<Item = Result<Bytes, clasp_domain::inspect::BodyError>> + Send>>;

/// `stream` as a put body that hashes what it passes on.
fn hashing(stream: clasp_domain::ports::BlobStream) -> (PutStream, Hashed) {
    let hasher = std::sync::Arc::new(std::sync::Mutex::new(Sha256::new()));
    let seen = hasher.clone();
    let body = stream.map(move |chunk| {
        let chunk = chunk.map_err(|e| {
            clasp_domain::inspect::BodyError::Interrupted(format!("reading the source: {e}"))
        })?;
        if let Ok(mut h) = seen.lock() {
            h.update(&chunk);
        }
        Ok(chunk)
    });
    (Box::pin(body), Hashed(hasher))
}

/// The SHA-256 of everything `stream` yields, in hex.
async fn sha256_of(mut stream: clasp_domain::ports::BlobStream) -> anyhow::Result<String> {
    let mut hasher = Sha256::new();
    while let Some(chunk) = stream.next().await {
        hasher.update(&chunk?);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Counts, bytes, and an estimate of the time left.
struct Progress {
    total: u64,
    total_bytes: u64,
    done: u64,
    skipped: u64,
    refreshed: usize,
    bytes_copied: u64,
    bytes_done: u64,
    started: Instant,
    last_report: Instant,
}

impl Progress {
    fn new(total: u64, total_bytes: u64) -> Progress {
        let now = Instant::now();
        Progress {
            total,
            total_bytes,
            done: 0,
            skipped: 0,
            refreshed: 0,
            bytes_copied: 0,
            bytes_done: 0,
            started: now,
            last_report: now,
        }
    }

    fn copied(&mut self, bytes: u64) {
        self.done += 1;
        self.bytes_copied += bytes;
        self.bytes_done += bytes;
    }

    fn skipped(&mut self, bytes: u64) {
        self.done += 1;
        self.skipped += 1;
        self.bytes_done += bytes;
    }

    /// Prints a line every few seconds, and the last one when `last`.
    fn report(&mut self, last: bool) {
        if !last && self.last_report.elapsed() < REPORT_EVERY {
            return;
        }
        self.last_report = Instant::now();
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = self.bytes_copied as f64 / elapsed.max(1e-3);
        let left = self.total_bytes.saturating_sub(self.bytes_done) as f64;
        let eta = if rate > 0.0 {
            format!("{:.0} s", left / rate)
        } else {
            "unknown".into()
        };
        eprintln!(
            "migrate-store: attachments {}/{} ({} of {} bytes), {:.1} MiB/s, ETA {eta}",
            self.done,
            self.total,
            self.bytes_done,
            self.total_bytes,
            rate / 1_048_576.0
        );
    }
}
