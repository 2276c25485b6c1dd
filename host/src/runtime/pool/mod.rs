//! A plugin's instances: fresh from wasmtime's pooling allocator, or warm and reused.
//!
//! Every call holds a permit of its plugin (bounded concurrency, bounded wait)
//! and a [`Lease`] on an instance. In `fresh` isolation the lease's instance is
//! new and dropped after the call; with `spares` set it is a spare (made ahead
//! of demand, never used) when one is ready, so the call does not wait for
//! instantiation, and both the used instance's teardown and the next spare are
//! left to a task that runs after the answer has gone (or, for a call dropped
//! before it returns because its client left, to one started as it is dropped).
//! In `reuse` isolation a healthy instance goes back to the plugin's warm list
//! after the call, unless it served its `max_calls`, failed, or the list is
//! full; stale ones are dropped on the next lease. The pool counts what it
//! does in [`PoolStats`].

mod counts;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::field::Empty;
use wasmtime::Store;
use wasmtime::component::Instance;

use super::failure::CallFailure;
use super::host::{CallHooks, CallState};
use super::sandbox::Sandbox;
use super::settings::Isolation;
use crate::sync::lock;
use crate::telemetry;

use self::counts::InUse;
pub(crate) use self::counts::{PoolCounts, PoolStats};

/// A warm instance between calls.
struct Warm {
    store: Store<CallState>,
    instance: Instance,
    calls: u64,
    last_used: Instant,
}

/// A never-used instance, made ahead of a fresh call.
///
/// Nothing of any call has touched it: taking one keeps fresh isolation's
/// promise while the call skips instantiation.
struct Spare {
    store: Store<CallState>,
    instance: Instance,
}

/// An instance serving one call, and the permit that allowed it.
///
/// Dropping a lease (the call's future was dropped) drops its instance.
struct Lease {
    store: Store<CallState>,
    instance: Instance,
    calls: u64,
    _permit: OwnedSemaphorePermit,
    _in_use: InUse,
}

/// The sandbox of a plugin, its warm instances and its concurrency limit.
pub(crate) struct InstancePool {
    sandbox: Sandbox,
    permits: Arc<Semaphore>,
    warm: Mutex<Vec<Warm>>,
    spares: Mutex<Vec<Spare>>,
    /// Whether a task is making spares now (one at a time per plugin).
    refilling: AtomicBool,
    /// Whether a used instance waits for its task to drop it (one at a time per plugin).
    retiring: AtomicBool,
    stats: Arc<PoolStats>,
}

impl InstancePool {
    /// A pool running calls in `sandbox`, at most its `max_concurrency` at once.
    pub(crate) fn new(sandbox: Sandbox) -> Self {
        let permits = Arc::new(Semaphore::new(sandbox.settings.max_concurrency.max(1)));
        Self {
            sandbox,
            permits,
            warm: Mutex::new(Vec::new()),
            spares: Mutex::new(Vec::new()),
            refilling: AtomicBool::new(false),
            retiring: AtomicBool::new(false),
            stats: Arc::default(),
        }
    }

    /// The sandbox calls run in.
    pub(crate) fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// Counters of this pool.
    pub(crate) fn stats(&self) -> &PoolStats {
        &self.stats
    }

    /// Runs `call` on a leased instance under the deadline, then returns the
    /// instance to the pool (or drops it after a failure).
    pub(crate) async fn run<R>(
        self: &Arc<Self>,
        hooks: CallHooks,
        call: impl AsyncFnOnce(&mut Store<CallState>, &Instance) -> wasmtime::Result<R>,
    ) -> Result<R, CallFailure> {
        let deadline = hooks.deadline;
        let leasing =
            telemetry::child_span!("lease instance", "berth.plugin" = &*self.sandbox.name, "berth.instance" = Empty);
        let mut lease = telemetry::traced!(leasing, self.lease(hooks, &leasing))?;
        drop(leasing);
        let abandoned = Abandoned(Some(self));
        let running = telemetry::child_span!(
            "wasm call",
            otel.status_code = Empty,
            "berth.plugin" = &*self.sandbox.name,
            "error.type" = Empty
        );
        let outcome = telemetry::traced!(
            running,
            self.sandbox.bounded(deadline, async {
                let Lease { store, instance, .. } = &mut lease;
                match call(&mut *store, instance).await {
                    Ok(value) => Ok(value),
                    Err(error) => Err(self.sandbox.classify(error, store, false)),
                }
            })
        );
        if let Err(failure) = &outcome {
            telemetry::record_error(&running, Some(failure.kind()));
        }
        lease.store.data().bounds.release_long_slot();
        self.release(lease, outcome.is_ok());
        abandoned.disarm();
        let counter = match &outcome {
            Err(CallFailure::Trap { .. }) => Some(&self.stats.traps),
            Err(CallFailure::Deadline { .. }) => Some(&self.stats.deadline_kills),
            Err(CallFailure::Memory { .. }) => Some(&self.stats.memory_kills),
            _ => None,
        };
        if let Some(counter) = counter {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        outcome
    }

    /// An instance for one call: waits (bounded) for a permit, then takes a warm
    /// instance (reuse isolation) or creates a fresh one.
    async fn lease(self: &Arc<Self>, hooks: CallHooks, span: &tracing::Span) -> Result<Lease, CallFailure> {
        let settings = &self.sandbox.settings;
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let waited = settings.queue_wait;
        // A free permit is taken at once; only a wait arms a timer.
        let free = self.permits.clone().try_acquire_owned().ok();
        let permit = match free {
            Some(permit) => Ok(Ok(permit)),
            None => tokio::time::timeout(waited, self.permits.clone().acquire_owned()).await,
        };
        let permit = match permit {
            Ok(Ok(permit)) => permit,
            _ => {
                self.stats.busy.fetch_add(1, Ordering::Relaxed);
                return Err(CallFailure::Busy {
                    plugin: self.sandbox.name.clone(),
                    limit: settings.max_concurrency,
                    waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                });
            }
        };
        if settings.isolation == Isolation::Reuse
            && let (Some(Warm { mut store, instance, calls, .. }), now) = self.take_warm()
        {
            self.sandbox.rearm(&mut store, hooks, now);
            span.record("berth.instance", "warm");
            self.stats.reuse_hits.fetch_add(1, Ordering::Relaxed);
            let in_use = InUse::new(&self.stats);
            return Ok(Lease { store, instance, calls, _permit: permit, _in_use: in_use });
        }
        if settings.isolation == Isolation::Fresh && settings.spares > 0 {
            // What is taken is replaced after the answer (`release`).
            let spare = self.take_spare();
            if let Some(Spare { mut store, instance }) = spare {
                self.sandbox.rearm(&mut store, hooks, Instant::now());
                span.record("berth.instance", "spare");
                self.stats.spare_hits.fetch_add(1, Ordering::Relaxed);
                let in_use = InUse::new(&self.stats);
                return Ok(Lease { store, instance, calls: 0, _permit: permit, _in_use: in_use });
            }
        }
        span.record("berth.instance", "fresh");
        let instantiating = telemetry::child_span!("instantiate", "berth.plugin" = &*self.sandbox.name);
        let (store, instance) = telemetry::traced!(instantiating, self.sandbox.instantiate(hooks))?;
        self.stats.instantiations.fetch_add(1, Ordering::Relaxed);
        let in_use = InUse::new(&self.stats);
        Ok(Lease { store, instance, calls: 0, _permit: permit, _in_use: in_use })
    }

    fn take_spare(&self) -> Option<Spare> {
        let mut spares = lock(&self.spares);
        let taken = spares.pop();
        self.stats.spares.store(spares.len() as u64, Ordering::Relaxed);
        taken
    }

    /// Has spares made until the plugin has its `spares`, by a task on the runtime (at load,
    /// for the first call); a no-op in `reuse` isolation, without spares, or while a refill is
    /// under way. The task holds the pool only weakly, so an unloaded plugin is not kept
    /// alive for it.
    pub(crate) fn refill(self: &Arc<Self>) {
        if self.sandbox.settings.isolation != Isolation::Fresh || self.sandbox.settings.spares == 0 {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let pool: Weak<Self> = Arc::downgrade(self);
        runtime.spawn(async move {
            if let Some(pool) = pool.upgrade() {
                pool.make_spares().await;
            }
        });
    }

    /// Instantiates spares until there are `spares`, or one fails (the calls
    /// that follow instantiate for themselves and report why).
    async fn make_spares(&self) {
        if self.refilling.swap(true, Ordering::AcqRel) {
            return;
        }
        while lock(&self.spares).len() < self.sandbox.settings.spares {
            match self.sandbox.instantiate(CallHooks::default()).await {
                Ok((store, instance)) => {
                    store.data().bounds.release_long_slot();
                    self.stats.instantiations.fetch_add(1, Ordering::Relaxed);
                    let mut spares = lock(&self.spares);
                    spares.push(Spare { store, instance });
                    self.stats.spares.store(spares.len() as u64, Ordering::Relaxed);
                }
                Err(failure) => {
                    tracing::debug!(plugin = %self.sandbox.name, "no spare instance: {failure}");
                    break;
                }
            }
        }
        self.refilling.store(false, Ordering::Release);
    }

    /// The most recently used warm instance, after the stale ones are recycled, and the
    /// moment it was taken, which the call's clock starts from (one clock read, not two).
    fn take_warm(&self) -> (Option<Warm>, Instant) {
        let mut warm = lock(&self.warm);
        let idle = self.sandbox.settings.reuse.idle;
        let before = warm.len();
        let now = Instant::now();
        warm.retain(|w| now.saturating_duration_since(w.last_used) < idle);
        let stale = (before - warm.len()) as u64;
        if stale > 0 {
            self.stats.recycles.fetch_add(stale, Ordering::Relaxed);
        }
        let taken = warm.pop();
        self.stats.idle.store(warm.len() as u64, Ordering::Relaxed);
        (taken, now)
    }

    /// Ends a call's lease: keeps a healthy instance warm (reuse isolation) or drops it
    /// (with spares, after the answer, and makes the next spare).
    fn release(self: &Arc<Self>, lease: Lease, healthy: bool) {
        let settings = &self.sandbox.settings;
        if !healthy {
            self.stats.failures.fetch_add(1, Ordering::Relaxed);
        }
        if settings.isolation != Isolation::Reuse {
            if settings.spares > 0 {
                self.retire(lease);
            }
            return;
        }
        let calls = lease.calls + 1;
        let mut warm = lock(&self.warm);
        if healthy && calls < settings.reuse.max_calls && warm.len() < settings.reuse.max_idle {
            let Lease { store, instance, .. } = lease;
            warm.push(Warm { store, instance, calls, last_used: Instant::now() });
        } else {
            self.stats.recycles.fetch_add(1, Ordering::Relaxed);
        }
        self.stats.idle.store(warm.len() as u64, Ordering::Relaxed);
    }

    /// Drops a used fresh instance and makes the next spare in a task of their own.
    ///
    /// Spawned from the call's task, tokio keeps it in that worker's next-task slot, so it
    /// normally runs when the call's task next waits: after hyper has written the answer, in
    /// the gap before the connection's next request. Tearing down
    /// the store (its slot's memory and tables reset) and instantiating the next spare there
    /// keeps both off the next call's path. On the worker that ran the call, not on a thread
    /// of their own as before: that one answered one connection no faster (BENCHMARKS.md,
    /// "Spares made after the answer"). The lease keeps its permit until dropped, so the
    /// plugin's concurrency still bounds its instances.
    ///
    /// One such task per plugin at a time: a call that ends while the last one has not run
    /// yet drops its instance here. Calls that follow each other without a gap (a task that
    /// never waits, as `berth bench` drives them) would otherwise pile up used instances
    /// behind tasks their worker does not get to.
    fn retire(self: &Arc<Self>, lease: Lease) {
        if self.retiring.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.retiring.store(false, Ordering::Release);
            return;
        };
        let pool: Weak<Self> = Arc::downgrade(self);
        runtime.spawn(async move {
            drop(lease);
            if let Some(pool) = pool.upgrade() {
                pool.retiring.store(false, Ordering::Release);
                pool.make_spares().await;
            }
        });
    }
}

/// Replaces the spare a call took if the call's future is dropped before it returns (its
/// client left, the server stopped): such a call never reaches `release`, which would have.
struct Abandoned<'a>(Option<&'a Arc<InstancePool>>);

impl Abandoned<'_> {
    /// The call returned: `release` has seen to the spares.
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        if let Some(pool) = self.0 {
            pool.refill();
        }
    }
}
