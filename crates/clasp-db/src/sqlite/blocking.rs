//! Where a [`SyncConnectionWrapper`](diesel_async::sync_connection_wrapper::SyncConnectionWrapper)
//! runs its blocking SQLite calls.
//!
//! diesel-async's default runner has two traits that break under actix-web, whose
//! workers are each a *current-thread* tokio runtime: it keeps the handle of the
//! runtime that created the connection (so a pooled connection made on one worker
//! runs its queries on another worker's blocking pool, and fails once that runtime
//! stops), and when a query future is dropped mid-flight (a client disconnects) it
//! waits for the query with `block_in_place`, which panics on a current-thread
//! runtime. [`CurrentRuntime`] uses the blocking pool of whichever runtime polls,
//! and waits for an abandoned query in a way every runtime flavour allows.

use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use diesel_async::sync_connection_wrapper::SpawnBlocking;
use futures::future::BoxFuture;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::task::{JoinError, JoinHandle};

/// Runs blocking work on the current tokio runtime's blocking pool.
pub(crate) type CurrentRuntime = Runner<false>;

/// Runs the work at once, on the calling thread: for the single-row reads by
/// key that every request makes (its API key or session, one attachment). In
/// WAL mode a reader never waits for a writer, and such a read takes a few
/// microseconds, less than the two thread wake-ups of a trip to the blocking
/// pool; profiles of the metadata benchmark showed those trips dominating
/// (docs/performance.md).
pub(crate) type Inline = Runner<true>;

/// Where blocking work runs: on the calling thread if `INLINE`, else on the
/// blocking pool of the runtime that polls.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Runner<const INLINE: bool>;

impl<const INLINE: bool> SpawnBlocking for Runner<INLINE> {
    fn spawn_blocking<'a, R>(
        &mut self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> BoxFuture<'a, Result<R, Box<dyn Error + Send + Sync + 'static>>>
    where
        R: Send + 'static,
    {
        if INLINE {
            return Box::pin(std::future::ready(Ok(task())));
        }
        match Handle::try_current() {
            Ok(handle) => {
                let running = FinishOnDrop(handle.spawn_blocking(task));
                Box::pin(async move { running.await.map_err(Into::into) })
            }
            Err(no_runtime) => Box::pin(std::future::ready(Err(no_runtime.into()))),
        }
    }

    fn get_runtime() -> Self {
        Runner
    }
}

/// A running blocking task that is waited for if abandoned: the connection's
/// transaction state must not be inspected while a query still holds it.
struct FinishOnDrop<R>(JoinHandle<R>);

impl<R> Future for FinishOnDrop<R> {
    type Output = Result<R, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl<R> Drop for FinishOnDrop<R> {
    fn drop(&mut self) {
        if self.0.is_finished() {
            return;
        }
        let task = &mut self.0;
        let wait = move || {
            // The outcome belongs to nobody any more; only the wait matters.
            let _abandoned = futures::executor::block_on(task);
        };
        match Handle::try_current().map(|h| h.runtime_flavor()) {
            // Lets the runtime move this worker's other tasks elsewhere meanwhile.
            Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait),
            // A current-thread runtime cannot hand its tasks over: it waits, for
            // at most one statement (bounded by SQLite's busy timeout).
            _ => wait(),
        }
    }
}
