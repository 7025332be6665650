//! How full the connection pools are, for the saturation metrics: a pool
//! whose connections are all in use, with requests waiting for one, is where
//! a busy instance queues.

/// One connection pool's use at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolUse {
    /// Which pool: `sqlite_writes`, `sqlite_reads` or `postgres`.
    pub pool: &'static str,
    /// The most connections it opens.
    pub max: usize,
    /// Connections open now.
    pub open: usize,
    /// Open connections no query holds.
    pub idle: usize,
    /// Queries waiting for a connection.
    pub waiting: usize,
}

impl PoolUse {
    /// The use of `pool`, named `name`, from deadpool's status.
    pub(crate) fn of(pool: &'static str, status: deadpool::Status) -> Self {
        Self {
            pool,
            max: status.max_size,
            open: status.size,
            idle: status.available,
            waiting: status.waiting,
        }
    }
}
