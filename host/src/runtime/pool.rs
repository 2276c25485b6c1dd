//! Instances for calls: fresh from wasmtime's pooling allocator, or warm and reused.
//!
//! Every call holds a permit of its plugin (bounded concurrency, bounded wait)
//! and a [`Lease`] on an instance. In `fresh` isolation the lease's instance is
//! new and dropped after the call. In `reuse` isolation a healthy instance goes
//! back to the plugin's warm list after the call, unless it served its
//! `max_calls`, failed, or the list is full; stale ones are dropped on the
//! next lease.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::Store;
use wasmtime::component::Instance;

use super::call::{CallFailure, CallHooks};
use super::plugin::Plugin;
use super::settings::Isolation;
use super::state::CallState;

/// Counters of one plugin's instance use, for `/metrics`.
#[derive(Debug, Default)]
pub struct PoolStats {
    /// Calls run (any outcome).
    pub calls: AtomicU64,
    /// Instances created.
    pub instantiations: AtomicU64,
    /// Calls served by a warm instance.
    pub reuse_hits: AtomicU64,
    /// Warm instances dropped (call limit, failure, idle, full list).
    pub recycles: AtomicU64,
    /// Calls that trapped, ran out of time or memory.
    pub failures: AtomicU64,
    /// Calls refused because the plugin was at its concurrency limit too long.
    pub busy: AtomicU64,
    /// Calls stopped by a trap (panic, unreachable, bad memory access).
    pub traps: AtomicU64,
    /// Calls stopped at their deadline.
    pub deadline_kills: AtomicU64,
    /// Calls stopped at their memory cap.
    pub memory_kills: AtomicU64,
    /// Instances currently serving calls.
    pub in_use: AtomicU64,
    /// Warm instances waiting.
    pub idle: AtomicU64,
}

/// A warm instance between calls.
pub(crate) struct Warm {
    store: Store<CallState>,
    instance: Instance,
    calls: u64,
    last_used: Instant,
}

/// An instance serving one call, and the permit that allowed it.
///
/// Dropping a lease (the call's future was dropped) drops its instance.
pub(crate) struct Lease {
    pub store: Store<CallState>,
    pub instance: Instance,
    calls: u64,
    _permit: OwnedSemaphorePermit,
    _in_use: InUse,
}

/// Counts an instance as in use for as long as it lives.
struct InUse(Arc<PoolStats>);

impl InUse {
    fn new(stats: &Arc<PoolStats>) -> Self {
        stats.in_use.fetch_add(1, Ordering::Relaxed);
        Self(stats.clone())
    }
}

impl Drop for InUse {
    fn drop(&mut self) {
        self.0.in_use.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The warm instances of a plugin and its concurrency limit.
pub(crate) struct InstancePool {
    permits: Arc<Semaphore>,
    warm: Mutex<Vec<Warm>>,
    pub stats: Arc<PoolStats>,
}

impl InstancePool {
    pub fn new(max_concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_concurrency.max(1))),
            warm: Mutex::new(Vec::new()),
            stats: Arc::new(PoolStats::default()),
        }
    }

    fn warm(&self) -> std::sync::MutexGuard<'_, Vec<Warm>> {
        self.warm.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Plugin {
    /// An instance for one call: waits (bounded) for a permit, then takes a warm
    /// instance (reuse isolation) or creates a fresh one.
    pub(crate) async fn lease(&self, hooks: CallHooks) -> Result<Lease, CallFailure> {
        let pool = &self.pool;
        pool.stats.calls.fetch_add(1, Ordering::Relaxed);
        let waited = self.settings.queue_wait;
        let permit = match tokio::time::timeout(waited, pool.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            _ => {
                pool.stats.busy.fetch_add(1, Ordering::Relaxed);
                return Err(CallFailure::Busy {
                    plugin: self.name.clone(),
                    limit: self.settings.max_concurrency,
                    waited_ms: waited.as_millis() as u64,
                });
            }
        };
        if self.settings.isolation == Isolation::Reuse
            && let Some(warm) = self.take_warm()
        {
            let Warm { mut store, instance, calls, .. } = warm;
            store.data_mut().begin_call(hooks);
            store.set_epoch_deadline(1);
            self.refuel(&mut store);
            pool.stats.reuse_hits.fetch_add(1, Ordering::Relaxed);
            let in_use = InUse::new(&pool.stats);
            return Ok(Lease { store, instance, calls, _permit: permit, _in_use: in_use });
        }
        let (store, instance) = self.instantiate(hooks).await?;
        pool.stats.instantiations.fetch_add(1, Ordering::Relaxed);
        let in_use = InUse::new(&pool.stats);
        Ok(Lease { store, instance, calls: 0, _permit: permit, _in_use: in_use })
    }

    fn take_warm(&self) -> Option<Warm> {
        let mut warm = self.pool.warm();
        let idle = self.settings.reuse.idle;
        let before = warm.len();
        warm.retain(|w| w.last_used.elapsed() < idle);
        let stale = (before - warm.len()) as u64;
        self.pool.stats.recycles.fetch_add(stale, Ordering::Relaxed);
        let taken = warm.pop();
        self.pool.stats.idle.store(warm.len() as u64, Ordering::Relaxed);
        taken
    }

    /// Ends a call's lease: keeps a healthy instance warm (reuse isolation) or drops it.
    pub(crate) fn release(&self, lease: Lease, healthy: bool) {
        let stats = &self.pool.stats;
        if !healthy {
            stats.failures.fetch_add(1, Ordering::Relaxed);
        }
        if self.settings.isolation != Isolation::Reuse {
            return;
        }
        let calls = lease.calls + 1;
        let mut warm = self.pool.warm();
        if healthy && calls < self.settings.reuse.max_calls && warm.len() < self.settings.reuse.max_idle {
            let Lease { store, instance, .. } = lease;
            warm.push(Warm { store, instance, calls, last_used: Instant::now() });
        } else {
            stats.recycles.fetch_add(1, Ordering::Relaxed);
        }
        stats.idle.store(warm.len() as u64, Ordering::Relaxed);
    }

    /// Counters of this plugin's instance use.
    pub fn stats(&self) -> &PoolStats {
        &self.pool.stats
    }
}
