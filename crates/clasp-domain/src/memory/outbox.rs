//! The events the in-memory stores recorded with their changes.

use std::sync::Mutex;

use crate::events::Event;

use super::lock;

/// Every event recorded, in order: what a test reads to see what the
/// services announced (the in-memory stores have no webhooks to fan out to).
#[derive(Debug, Default)]
pub struct MemoryOutbox(Mutex<Vec<Event>>);

impl MemoryOutbox {
    /// Records `event` when the change it announces was made.
    pub(super) fn record(&self, made: bool, event: Option<&Event>) {
        if let (true, Some(event)) = (made, event) {
            lock(&self.0).push(event.clone());
        }
    }

    /// The events recorded so far.
    pub fn events(&self) -> Vec<Event> {
        lock(&self.0).clone()
    }
}
