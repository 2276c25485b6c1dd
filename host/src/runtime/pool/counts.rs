//! What a plugin's instance pool counts: calls, instantiations, reuse and spare hits,
//! failures by kind, and the instances in use, idle and spare, for `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one plugin's instance use, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct PoolStats {
    /// Calls run (any outcome).
    pub(super) calls: AtomicU64,
    /// Instances created.
    pub(super) instantiations: AtomicU64,
    /// Calls served by a warm instance.
    pub(super) reuse_hits: AtomicU64,
    /// Fresh calls served by a spare instantiated ahead of them.
    pub(super) spare_hits: AtomicU64,
    /// Warm instances dropped (call limit, failure, idle, full list).
    pub(super) recycles: AtomicU64,
    /// Calls that trapped, ran out of time or memory.
    pub(super) failures: AtomicU64,
    /// Calls refused because the plugin was at its concurrency limit too long.
    pub(super) busy: AtomicU64,
    /// Calls stopped by a trap (panic, unreachable, bad memory access).
    pub(super) traps: AtomicU64,
    /// Calls stopped at their deadline.
    pub(super) deadline_kills: AtomicU64,
    /// Calls stopped at their memory cap.
    pub(super) memory_kills: AtomicU64,
    /// Instances serving calls now.
    pub(super) in_use: AtomicU64,
    /// Warm instances waiting.
    pub(super) idle: AtomicU64,
    /// Spares waiting for a fresh call.
    pub(super) spares: AtomicU64,
}

/// One reading of a plugin's [`PoolStats`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PoolCounts {
    pub(crate) calls: u64,
    pub(crate) instantiations: u64,
    pub(crate) reuse_hits: u64,
    pub(crate) spare_hits: u64,
    pub(crate) recycles: u64,
    pub(crate) failures: u64,
    pub(crate) busy: u64,
    pub(crate) traps: u64,
    pub(crate) deadline_kills: u64,
    pub(crate) memory_kills: u64,
    pub(crate) in_use: u64,
    pub(crate) idle: u64,
    pub(crate) spares: u64,
}

impl PoolStats {
    /// The counters now.
    pub(crate) fn read(&self) -> PoolCounts {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        PoolCounts {
            calls: get(&self.calls),
            instantiations: get(&self.instantiations),
            reuse_hits: get(&self.reuse_hits),
            spare_hits: get(&self.spare_hits),
            recycles: get(&self.recycles),
            failures: get(&self.failures),
            busy: get(&self.busy),
            traps: get(&self.traps),
            deadline_kills: get(&self.deadline_kills),
            memory_kills: get(&self.memory_kills),
            in_use: get(&self.in_use),
            idle: get(&self.idle),
            spares: get(&self.spares),
        }
    }
}

/// Counts an instance as in use for as long as it lives.
pub(super) struct InUse(Arc<PoolStats>);

impl InUse {
    pub(super) fn new(stats: &Arc<PoolStats>) -> Self {
        stats.in_use.fetch_add(1, Ordering::Relaxed);
        Self(stats.clone())
    }
}

impl Drop for InUse {
    fn drop(&mut self) {
        self.0.in_use.fetch_sub(1, Ordering::Relaxed);
    }
}
