//! Failures a test arms in the in-memory adapters: before or after a write, in
//! the middle of a read, or a write that waits until the test lets it go. The
//! adapters of one [`super::MemoryPorts`] share one [`Faults`], so a test of a
//! front end injects failures without wrapping every port.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::lock::{Mutex as AsyncMutex, MutexGuard};

use super::lock;

/// A point where an in-memory adapter fails once, when armed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `put` fails before storing anything.
    PutBeforeWrite,
    /// `put` stores the object, then reports a failure (a lost reply).
    PutAfterWrite,
    /// `put` waits until the test lets puts go ([`Faults::hold_puts`]), then works.
    PutWaits,
    /// `get`, `get_range` and `head` fail.
    GetFails,
    /// `get` opens, then the stream breaks after half the first chunk.
    GetMidStream,
    /// `delete` of an object fails, keeping it.
    BlobDeleteFails,
    /// `insert` fails, storing nothing.
    InsertFails,
    /// `update` fails before changing anything.
    UpdateBeforeApply,
    /// `update` changes the row, then reports a failure (a lost commit reply).
    UpdateAfterApply,
    /// `delete` of a row fails, keeping it.
    RowDeleteFails,
}

/// The armed faults of a set of in-memory adapters; each fires once.
#[derive(Default)]
pub struct Faults {
    armed: Mutex<Vec<Fault>>,
    puts: AsyncMutex<()>,
    waiting: AtomicUsize,
}

impl Faults {
    /// Arms `fault`: the next operation it names fails (or waits).
    pub fn arm(&self, fault: Fault) {
        lock(&self.armed).push(fault);
    }

    /// Disarms every fault.
    pub fn clear(&self) {
        lock(&self.armed).clear();
    }

    /// The faults armed and not fired yet.
    pub fn armed(&self) -> Vec<Fault> {
        lock(&self.armed).clone()
    }

    /// Holds every put that [`Fault::PutWaits`] stops until the guard is
    /// dropped.
    pub async fn hold_puts(&self) -> MutexGuard<'_, ()> {
        self.puts.lock().await
    }

    /// How many puts wait for the test to let them go.
    pub fn waiting_puts(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Whether `fault` was armed (and disarms it).
    pub(super) fn fire(&self, fault: Fault) -> bool {
        let mut armed = lock(&self.armed);
        let at = armed.iter().position(|f| *f == fault);
        at.map(|i| armed.remove(i)).is_some()
    }

    /// Waits while a test holds puts.
    pub(super) async fn pass_puts(&self) {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        drop(self.puts.lock().await);
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The message of an injected failure.
pub(super) fn injected(what: &str) -> String {
    format!("injected fault: {what}")
}
