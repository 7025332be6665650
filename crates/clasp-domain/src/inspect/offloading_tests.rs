//! The hashing of a large body on a spare core: the same digests as on the
//! receiving thread, bounded memory when the hashing falls behind, and a
//! failure, never a hang or a wrong digest, when the hashing thread is lost.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::executor::block_on;
use futures::{FutureExt, StreamExt};
use sha2::{Digest, Sha256};

use super::digests::{BATCH_BYTES, HASHED_HERE_FIRST, WAITING_BATCHES};
use super::*;
use crate::memory::ThreadOffload;
use crate::offload::{Job, NoOffload, Offload};

const CHUNK: usize = 64 << 10;

fn chunks(total: usize) -> Vec<Bytes> {
    (0..total.div_ceil(CHUNK))
        .map(|i| {
            let len = CHUNK.min(total - i * CHUNK);
            Bytes::from(
                (0..len)
                    .map(|j| ((i * 31 + j * 7) % 251) as u8)
                    .collect::<Vec<_>>(),
            )
        })
        .collect()
}

fn body(chunks: &[Bytes]) -> BodyStream {
    Box::pin(futures::stream::iter(chunks.to_vec()).map(Ok))
}

fn expected(chunks: &[Bytes]) -> (String, String) {
    let (mut sha, mut md5) = (Sha256::new(), <md5::Md5 as md5::Digest>::new());
    for c in chunks {
        sha.update(c);
        md5::Digest::update(&mut md5, c);
    }
    (
        hex::encode(sha.finalize()),
        hex::encode(md5::Digest::finalize(md5)),
    )
}

fn inspected(chunks: &[Bytes], offload: Arc<dyn Offload>) -> Result<Inspected, BodyError> {
    let mut i = Inspector::new(body(chunks), 64 << 20, "application/octet-stream")
        .with_md5()
        .offloading(offload);
    let mut passed = 0;
    block_on(async {
        while let Some(c) = i.next().await {
            passed += c?.len();
        }
        Ok::<_, BodyError>(())
    })?;
    assert_eq!(passed, chunks.iter().map(Bytes::len).sum::<usize>());
    Ok(i.summary().expect("a clean end has a summary"))
}

#[test]
fn a_large_body_is_hashed_on_a_spare_core_to_the_same_digests() {
    let bytes = chunks(5 * 1024 * 1024 + 12_345);
    let (sha256, md5) = expected(&bytes);
    let spare = Arc::new(ThreadOffload::default());
    let found = inspected(&bytes, spare.clone()).expect("a clean body");
    assert_eq!(spare.started(), 1, "handed over once");
    assert_eq!(found.sha256, sha256);
    assert_eq!(found.md5.as_deref(), Some(md5.as_str()));
    assert_eq!(
        found.size,
        bytes.iter().map(|c| c.len() as u64).sum::<u64>()
    );
}

#[test]
fn a_small_body_or_no_spare_core_is_hashed_where_it_arrives() {
    let small = chunks(HASHED_HERE_FIRST as usize - 1);
    let spare = Arc::new(ThreadOffload::default());
    let found = inspected(&small, spare.clone()).expect("a clean body");
    assert_eq!(spare.started(), 0);
    assert_eq!(found.sha256, expected(&small).0);
    let large = chunks(3 << 20);
    let found = inspected(&large, Arc::new(NoOffload)).expect("a clean body");
    assert_eq!(found.sha256, expected(&large).0);
}

/// Accepts every job and runs none until a test says so.
#[derive(Default)]
struct Held(Mutex<Vec<Job>>);

impl Offload for Held {
    fn offer(&self, job: Job) -> Result<(), Job> {
        self.0.lock().expect("not poisoned").push(job);
        Ok(())
    }
}

impl Held {
    fn take(&self) -> Vec<Job> {
        std::mem::take(&mut *self.0.lock().expect("not poisoned"))
    }
}

/// An inspector of `bytes` whose hashing job waits in the returned [`Held`].
fn held_back(bytes: &[Bytes]) -> (Arc<Held>, Inspector) {
    let held = Arc::new(Held::default());
    let inspector =
        Inspector::new(body(bytes), 64 << 20, "application/octet-stream").offloading(held.clone());
    (held, inspector)
}

#[test]
fn a_hashing_thread_that_falls_behind_holds_the_body_back_not_memory() {
    let bytes = chunks(8 << 20);
    let (held, mut i) = held_back(&bytes);
    let mut passed = 0;
    while let Some(Some(chunk)) = i.next().now_or_never() {
        passed += chunk.expect("clean").len();
    }
    let most = HASHED_HERE_FIRST as usize + (WAITING_BATCHES + 2) * BATCH_BYTES + CHUNK;
    assert!(
        passed <= most,
        "{passed} bytes went on while none was hashed (at most {most})"
    );
    assert!(
        passed >= HASHED_HERE_FIRST as usize,
        "only {passed} went on"
    );
    let jobs = held.take();
    assert_eq!(jobs.len(), 1);
    let hashing = std::thread::spawn(move || jobs.into_iter().for_each(|job| job()));
    block_on(async {
        while let Some(chunk) = i.next().await {
            passed += chunk.expect("clean").len();
        }
    });
    hashing.join().expect("the hashing thread ended");
    assert_eq!(passed, 8 << 20);
    assert_eq!(i.summary().expect("summary").sha256, expected(&bytes).0);
}

#[test]
fn a_hashing_thread_lost_fails_the_body_as_the_service_s_fault() {
    let bytes = chunks(4 << 20);
    let (held, mut i) = held_back(&bytes);
    let mut failure = None;
    block_on(async {
        while let Some(chunk) = i.next().await {
            if let Err(e) = chunk {
                failure = Some(e);
            }
            drop(held.take());
        }
    });
    assert!(
        matches!(failure, Some(BodyError::Unavailable(_))),
        "{failure:?}"
    );
    assert!(i.summary().is_none());
    assert!(matches!(i.failure(), Some(BodyError::Unavailable(_))));
}

#[test]
fn a_body_dropped_midway_lets_its_hashing_thread_go() {
    let bytes = chunks(4 << 20);
    let (held, mut i) = held_back(&bytes);
    for _ in 0..20 {
        assert!(matches!(i.next().now_or_never(), Some(Some(Ok(_)))));
    }
    let jobs = held.take();
    assert_eq!(jobs.len(), 1);
    drop(i);
    let hashing = std::thread::spawn(move || jobs.into_iter().for_each(|job| job()));
    hashing.join().expect("the job ends once its body is gone");
}
