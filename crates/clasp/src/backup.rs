//! `clasp backup --to DIR` and `clasp restore --from DIR`, for the embedded
//! default (SQLite and a local directory), taken while `clasp serve` runs.
//!
//! A backup is the database as of one moment (SQLite's `VACUUM INTO`) and the
//! bytes its attachments refer to, copied after it: bytes are written once
//! under a fresh key and never changed, so every attachment of the snapshot
//! finds its bytes, except one deleted between the snapshot and the copy,
//! which leaves the backup too (it was deleted in any case). The generated
//! signing secret goes along, so signed URLs keep verifying after a restore.
//! A resumable (tus) upload in progress goes along with the parts it had
//! stored at the snapshot, so its client carries on from there after a
//! restore; one that moved on since (finished, or ended) leaves the backup.
//! For PostgreSQL and S3, docs/operations.md describes the backups of each.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clasp_db::SqliteStore;
use clasp_domain::ports::AttachmentRepository;
use clasp_domain::resumable::{Progress, ResumableStore};
use clasp_domain::{Attachment, AttachmentState};

use crate::config::Config;
use crate::wiring::SetupError;

/// Attachments read from the snapshot at a time.
const PAGE: usize = 500;

/// The database file and the blob directory of the embedded default; an
/// error for any other store.
fn embedded(config: &Config) -> anyhow::Result<(PathBuf, PathBuf)> {
    let (database, storage) = (config.database_url(), config.storage_url());
    match (
        database.strip_prefix("sqlite://"),
        storage.strip_prefix("file://"),
    ) {
        (Some(db), Some(blobs)) => Ok((PathBuf::from(db), PathBuf::from(blobs))),
        _ => Err(SetupError(
            "backup and restore are for the embedded default (sqlite:// and file://); \
             with PostgreSQL or S3, back up each store with its own tools \
             (docs/operations.md)"
                .into(),
        )
        .into()),
    }
}

/// What a backup holds, as printed.
#[derive(Debug, Default)]
struct Copied {
    attachments: u64,
    files: u64,
    bytes: u64,
    gone: u64,
}

/// Takes a backup into `to`, which must not exist or be empty.
pub async fn backup(config: &Config, to: &Path) -> anyhow::Result<()> {
    let (database, blobs) = embedded(config)?;
    if to.exists() && std::fs::read_dir(to)?.next().is_some() {
        bail!(
            "{} is not empty: back up into a new directory",
            to.display()
        );
    }
    create_private_dir(to)?;
    let live = SqliteStore::open_with(&format!("sqlite://{}", database.display()), false)
        .await
        .context("opening the database")?;
    let snapshot = to.join("clasp.db");
    live.snapshot_into(&snapshot.display().to_string())
        .await
        .context("copying the database")?;
    let copy = SqliteStore::open(&format!("sqlite://{}", snapshot.display()))
        .await
        .context("opening the copy")?;
    let mut copied = Copied::default();
    let mut after = None;
    loop {
        let page = copy.attachments_after(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for attachment in &page {
            copy_bytes(attachment, &blobs, &to.join("blobs"), &copy, &mut copied).await?;
        }
    }
    let secret = config.secret_path();
    if secret.exists() {
        copy_file(&secret, &to.join("signing.key"))?;
    }
    println!(
        "backed up {} attachments ({} files, {} bytes) to {}{}",
        copied.attachments,
        copied.files,
        copied.bytes,
        to.display(),
        if copied.gone > 0 {
            format!(
                "; {} gone since the snapshot (deleted, or uploads in progress that \
                 finished or ended) left it",
                copied.gone
            )
        } else {
            String::new()
        }
    );
    Ok(())
}

/// Copies the bytes and thumbnail of `attachment` into `dest`, or the stored
/// parts of a resumable upload in progress; one whose bytes were deleted
/// after the snapshot is deleted from the copy too.
async fn copy_bytes(
    attachment: &Attachment,
    blobs: &Path,
    dest: &Path,
    copy: &SqliteStore,
    copied: &mut Copied,
) -> anyhow::Result<()> {
    if attachment.state == AttachmentState::Uploading
        && let Some(progress) = copy.progress(attachment.tenant_id, attachment.id).await?
    {
        return copy_parts(attachment, &progress, blobs, dest, copy, copied).await;
    }
    // The attachment's own bytes come first: a ready one without them was
    // deleted since the snapshot, before anything of it was copied.
    for key in attachment.object_keys() {
        match copy_if_present(&blobs.join(&key), &dest.join(&key))? {
            Some(bytes) => {
                copied.bytes += bytes;
                copied.files += 1;
            }
            None if attachment.state == AttachmentState::Ready && key == attachment.blob_key() => {
                copy.delete(attachment.tenant_id, attachment.id, None)
                    .await?;
                copied.gone += 1;
                return Ok(());
            }
            // Attachments that never got bytes (refused, abandoned) have none.
            None => {}
        }
    }
    copied.attachments += 1;
    Ok(())
}

/// Copies the parts a resumable upload had stored at the snapshot. Parts are
/// written once and deleted only when the upload finishes or ends, so a part
/// missing now means it has done either since: it leaves the copy, as a
/// deleted attachment does.
async fn copy_parts(
    attachment: &Attachment,
    progress: &Progress,
    blobs: &Path,
    dest: &Path,
    copy: &SqliteStore,
    copied: &mut Copied,
) -> anyhow::Result<()> {
    let (mut parts, mut bytes) = (Vec::new(), 0);
    for key in progress.part_keys(attachment) {
        let to = dest.join(&key);
        let Some(size) = copy_if_present(&blobs.join(&key), &to)? else {
            for part in &parts {
                std::fs::remove_file(part)?;
            }
            copy.forget_resumable(attachment.tenant_id, attachment.id)
                .await?;
            copy.delete(attachment.tenant_id, attachment.id, None)
                .await?;
            copied.gone += 1;
            return Ok(());
        };
        parts.push(to);
        bytes += size;
    }
    copied.files += parts.len() as u64;
    copied.bytes += bytes;
    copied.attachments += 1;
    Ok(())
}

/// Restores the backup in `from` into this instance's data directory, which
/// must hold no database yet.
pub async fn restore(config: &Config, from: &Path) -> anyhow::Result<()> {
    let (database, blobs) = embedded(config)?;
    let snapshot = from.join("clasp.db");
    if !snapshot.is_file() {
        bail!("{} holds no backup (no clasp.db)", from.display());
    }
    if database.exists() {
        bail!(
            "{} exists: restore into a data directory without a database",
            database.display()
        );
    }
    let mut files = 0u64;
    let from_blobs = from.join("blobs");
    if from_blobs.is_dir() {
        for entry in walkdir::WalkDir::new(&from_blobs) {
            let entry = entry?;
            if entry.file_type().is_file() {
                let relative = entry.path().strip_prefix(&from_blobs)?;
                copy_file(entry.path(), &blobs.join(relative))?;
                files += 1;
            }
        }
    }
    let secret = from.join("signing.key");
    if secret.is_file() && config.signing_secret.is_none() {
        copy_file(&secret, &config.secret_path())?;
    }
    copy_file(&snapshot, &database)?;
    // Opening applies the migrations a newer Clasp has, as serving would.
    SqliteStore::open(&format!("sqlite://{}", database.display()))
        .await
        .context("opening the restored database")?;
    println!(
        "restored {} files and the database from {}",
        files,
        from.display()
    );
    Ok(())
}

/// Copies `from` to `to` as [`copy_file`] does, or nothing when `from` is
/// not there (never written, or deleted since the snapshot was taken).
fn copy_if_present(from: &Path, to: &Path) -> anyhow::Result<Option<u64>> {
    match copy_file(from, to) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Copies `from` to `to` (its directory created), synced; its size.
fn copy_file(from: &Path, to: &Path) -> anyhow::Result<u64> {
    if let Some(dir) = to.parent() {
        create_private_dir(dir)?;
    }
    let bytes = std::fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    std::fs::File::open(to)?.sync_all()?;
    Ok(bytes)
}

/// `dir` and its parents, the new ones readable by the owner alone (a backup
/// holds every tenant's files and the signing secret).
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}
