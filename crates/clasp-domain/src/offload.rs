//! A port for CPU-bound work the services would rather not do on the thread
//! that serves requests: an upload's SHA-256 takes a core for every 1.8 GB/s,
//! so a large upload received and hashed on one thread is held to what that
//! one core can do while the others may sit idle.

/// Work handed to another thread. It blocks that thread until it is done.
pub type Job = Box<dyn FnOnce() + Send>;

/// One large body counted as being received, until this drops.
pub type Arrival = Box<dyn Send + Sync>;

/// Runs jobs on cores the serving threads leave free. An adapter decides how
/// many may run at once (no more than the cores spare, or the hand-offs cost
/// more than they free), and refuses the rest, which the services then do on
/// their own thread as before.
///
/// Contract: `offer` never waits; it starts `job` elsewhere and answers `Ok`,
/// or hands it back untouched.
pub trait Offload: Send + Sync {
    /// Counts a large body as being received until the answer drops, so that
    /// [`Offload::offer`] can weigh how many are: with as many as the
    /// serving threads, every core is already busy receiving and hashing
    /// one, and a hand-off would only add to their work.
    fn arrive(&self) -> Arrival {
        Box::new(())
    }
    /// Starts `job` on another thread, or hands it back when none is free.
    fn offer(&self, job: Job) -> Result<(), Job>;
}

/// Runs nothing elsewhere: every job is done where it arose. The default of
/// embedders that keep all their work on their own threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoOffload;

impl Offload for NoOffload {
    fn offer(&self, job: Job) -> Result<(), Job> {
        Err(job)
    }
}
