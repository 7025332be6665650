//! The [`Offload`] of a server: jobs run on tokio's blocking pool, at most
//! one for every two cores at a time, and only while no more large bodies
//! are being received than that, so a large upload's hashing takes a core
//! its receiving worker leaves idle, and a busy server (as many uploads as
//! cores) keeps hashing where the bytes arrive instead of paying for
//! hand-offs that free nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use clasp_domain::offload::{Arrival, Job, Offload};
use tokio::sync::Semaphore;

/// Hands jobs to tokio's blocking pool while a slot is free and few large
/// bodies are being received.
#[derive(Debug, Clone)]
pub struct SpareCores {
    slots: Arc<Semaphore>,
    most: usize,
    receiving: Arc<AtomicUsize>,
}

impl SpareCores {
    /// At most `slots` jobs at a time, and none while more than `slots`
    /// large bodies are being received; none with 0.
    pub fn new(slots: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            most: slots,
            receiving: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Half this machine's cores, rounded down: one slot on two cores, none
    /// on one, where there is no core to spare.
    pub fn of_this_machine() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, usize::from) / 2)
    }
}

/// One large body being received, counted until it drops.
struct Receiving(Arc<AtomicUsize>);

impl Drop for Receiving {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Offload for SpareCores {
    fn arrive(&self) -> Arrival {
        self.receiving.fetch_add(1, Ordering::SeqCst);
        Box::new(Receiving(self.receiving.clone()))
    }

    fn offer(&self, job: Job) -> Result<(), Job> {
        if self.receiving.load(Ordering::SeqCst) > self.most {
            return Err(job);
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(job);
        };
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            return Err(job);
        };
        runtime.spawn_blocking(move || {
            job();
            drop(slot);
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    #[tokio::test]
    async fn runs_as_many_jobs_at_once_as_it_has_slots_and_hands_back_the_rest() {
        let spare = SpareCores::new(1);
        let (release, held) = mpsc::channel::<()>();
        let (ran, done) = mpsc::channel::<&str>();
        let first = ran.clone();
        let started = spare.offer(Box::new(move || {
            let _ = held.recv();
            let _ = first.send("first");
        }));
        assert!(started.is_ok());
        let second = ran.clone();
        let refused = spare.offer(Box::new(move || {
            let _ = second.send("second");
        }));
        let Err(refused) = refused else {
            panic!("a second job was started while the only slot was taken");
        };
        release.send(()).expect("the first job waits");
        assert_eq!(done.recv().expect("the first job ran"), "first");
        refused();
        assert_eq!(done.recv().expect("handed back whole"), "second");
        let third = ran;
        let mut waited = 0;
        while let Err(job) = spare.offer(Box::new({
            let third = third.clone();
            move || {
                let _ = third.send("third");
            }
        })) {
            drop(job);
            waited += 1;
            assert!(waited < 1000, "the slot never came back");
            tokio::task::yield_now().await;
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(done.recv().expect("the slot came back"), "third");
    }

    #[tokio::test]
    async fn offers_nothing_while_more_large_bodies_arrive_than_it_has_slots() {
        let spare = SpareCores::new(1);
        let first = spare.arrive();
        let second = spare.arrive();
        assert!(
            spare.offer(Box::new(|| {})).is_err(),
            "two bodies on one slot"
        );
        drop(first);
        let (ran, done) = mpsc::channel();
        assert!(
            spare
                .offer(Box::new(move || ran.send(()).expect("waited for")))
                .is_ok(),
            "one body left"
        );
        done.recv().expect("it ran");
        drop(second);
        assert_eq!(spare.receiving.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn outside_a_runtime_or_without_slots_runs_nothing_elsewhere() {
        assert!(SpareCores::new(4).offer(Box::new(|| {})).is_err());
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let _inside = runtime.enter();
        assert!(SpareCores::new(0).offer(Box::new(|| {})).is_err());
    }
}
