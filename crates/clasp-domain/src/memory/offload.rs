//! An offload that runs every job on a thread of its own, and counts them, so
//! tests take the path a production adapter takes when a core is spare.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::offload::{Job, Offload};

/// Starts a thread for every job offered; refuses none.
#[derive(Debug, Default)]
pub struct ThreadOffload {
    started: AtomicUsize,
}

impl ThreadOffload {
    /// How many jobs it has started.
    pub fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }
}

impl Offload for ThreadOffload {
    fn offer(&self, job: Job) -> Result<(), Job> {
        self.started.fetch_add(1, Ordering::SeqCst);
        std::thread::spawn(job);
        Ok(())
    }
}
