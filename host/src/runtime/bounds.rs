//! The bounds one store runs under: its deadline, its turn on the long-call
//! slots, and its memory cap, which records when it said no.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OwnedSemaphorePermit;
use wasmtime::ResourceLimiter;

use super::failure::MemoryCapExceeded;
use crate::sync::lock;

/// Instances, tables and memories one store may create (toolchain components
/// hold several core modules: shims, adapters).
const MAX_INSTANCES: usize = 64;
const MAX_TABLES: usize = 64;
const MAX_MEMORIES: usize = 8;

/// The sandbox's bookkeeping inside one store.
pub(crate) struct Bounds {
    /// When the current call must be done.
    pub(crate) deadline: Instant,
    /// When the current call started (long calls take turns, see `sandbox`).
    pub(crate) started: Instant,
    /// The long-call slot this call holds between two epoch ticks, if any.
    pub(crate) long_slot: Arc<Mutex<Option<OwnedSemaphorePermit>>>,
    /// The memory cap, wasmtime's resource limiter for this store.
    pub(crate) memory: MemoryCap,
}

impl Bounds {
    /// Bounds for a call that starts now and may run for `deadline`, in at most `memory_bytes`.
    pub(crate) fn new(deadline: Duration, memory_bytes: usize) -> Self {
        let started = Instant::now();
        Self { deadline: started + deadline, started, long_slot: Arc::default(), memory: MemoryCap::new(memory_bytes) }
    }

    /// Starts the clock again, at `now`, for the next call on a warm instance.
    pub(crate) fn restart(&mut self, deadline: Duration, now: Instant) {
        self.started = now;
        self.deadline = now + deadline;
    }

    /// Gives back the long-call slot, if the call holds one (at every tick and when it ends).
    pub(crate) fn release_long_slot(&self) {
        lock(&self.long_slot).take();
    }
}

/// A store's memory cap: refuses growth past `limit` and remembers that it did,
/// so a killed call is reported as a memory kill by what happened, not by
/// what an error message happens to say.
pub(crate) struct MemoryCap {
    limit: usize,
    denied: bool,
}

impl MemoryCap {
    fn new(limit: usize) -> Self {
        Self { limit, denied: false }
    }

    /// Whether this store was ever refused memory.
    pub(crate) fn denied(&self) -> bool {
        self.denied
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.denied = true;
            // An error (not `Ok(false)`) traps the call instead of letting
            // `memory.grow` return -1 to a plugin that may not check it.
            return Err(MemoryCapExceeded { desired, limit: self.limit }.into());
        }
        Ok(true)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        // Growth within the cap that still failed (the module's own maximum,
        // the pool's slot size): the call ends as a memory kill too.
        self.denied = true;
        Err(error)
    }

    fn table_growing(&mut self, _current: usize, _desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use crate::runtime::bounds::*;

    #[test]
    fn the_cap_records_its_denial() {
        let mut cap = MemoryCap::new(1 << 20);
        assert!(cap.memory_growing(0, 1 << 20, None).is_ok_and(|ok| ok));
        assert!(!cap.denied());
        let refused = cap.memory_growing(1 << 20, 2 << 20, None).expect_err("over the cap");
        assert!(refused.is::<MemoryCapExceeded>());
        assert!(cap.denied());
    }
}
