//! An audit trail kept in memory, so tests can read what the services recorded.

use std::sync::Mutex;

use crate::audit::AuditRecord;
use crate::ports::AuditLog;

use super::lock;

/// Every record, in the order the services made them.
#[derive(Debug, Default)]
pub struct MemoryAudit(Mutex<Vec<AuditRecord>>);

impl MemoryAudit {
    /// The records so far.
    pub fn records(&self) -> Vec<AuditRecord> {
        lock(&self.0).clone()
    }
}

impl AuditLog for MemoryAudit {
    fn record(&self, record: AuditRecord) {
        lock(&self.0).push(record);
    }
}
