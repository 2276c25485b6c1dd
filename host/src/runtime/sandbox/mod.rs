//! The sandbox of one plugin: instantiate into a bounded store, keep calls
//! within their deadline, fuel and memory, and name what went wrong.
//!
//! Every call runs in a store whose memory is capped by a resource limiter
//! (`bounds`), whose wasm is interrupted at every epoch tick to check the
//! deadline and cancellation, and whose host calls are cut off by a timeout a
//! little past the deadline. Whatever fails becomes a [`CallFailure`] for that
//! call only, classified by error type and by what the limiter recorded.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Instance, InstancePre};
use wasmtime::{Store, UpdateDeadline};

use super::engine::{EPOCH_TICK, Runtime};
use super::failure::{CallFailure, CancelledByClient, DeadlineExceeded, MemoryCapExceeded};
use super::host::{CallHooks, CallState};
use super::settings::PluginSettings;
use crate::sync::lock;

/// A call running longer than this is a long call: it needs a long-call slot
/// for each further epoch tick (see `Runtime::long_calls`).
const LONG_CALL: Duration = Duration::from_millis(20);

/// One plugin's compiled component and the limits its calls run under.
pub(crate) struct Sandbox {
    pub(crate) name: Arc<str>,
    pub(crate) settings: Arc<PluginSettings>,
    runtime: Runtime,
    pre: InstancePre<CallState>,
}

impl Sandbox {
    /// A sandbox for the component `pre` was prepared from.
    pub(crate) fn new(
        name: Arc<str>,
        settings: Arc<PluginSettings>,
        runtime: Runtime,
        pre: InstancePre<CallState>,
    ) -> Self {
        Self { name, settings, runtime, pre }
    }

    /// A new store with every bound armed, and a fresh instance of the plugin in it.
    pub(crate) async fn instantiate(&self, hooks: CallHooks) -> Result<(Store<CallState>, Instance), CallFailure> {
        let state = CallState::new(self.name.clone(), self.settings.clone(), hooks, &self.runtime.shared);
        let mut store = Store::new(&self.runtime.engine, state);
        store.limiter(|state| &mut state.bounds.memory);
        let long_calls = self.runtime.long_calls.clone();
        store.epoch_deadline_callback(move |ctx| {
            let state = ctx.data();
            if Instant::now() >= state.bounds.deadline {
                return Err(wasmtime::Error::new(DeadlineExceeded));
            }
            if state.hooks().cancel.is_cancelled() {
                return Err(wasmtime::Error::new(CancelledByClient));
            }
            state.bounds.release_long_slot();
            if state.bounds.started.elapsed() < LONG_CALL {
                // Yield to the executor so a call never holds a worker thread.
                return Ok(UpdateDeadline::Yield(1));
            }
            // A long (CPU-bound) call runs its next tick only while it holds one
            // of the few long-call slots: runaway or heavy plugins take turns
            // on part of the workers, and short calls keep the rest.
            let (gate, slot) = (long_calls.clone(), state.bounds.long_slot.clone());
            Ok(UpdateDeadline::YieldCustom(
                1,
                Box::pin(async move {
                    if let Ok(permit) = gate.acquire_owned().await {
                        *lock(&slot) = Some(permit);
                    }
                }),
            ))
        });
        store.set_epoch_deadline(1);
        self.refuel(&mut store);
        match self.pre.instantiate_async(&mut store).await {
            Ok(instance) => Ok((store, instance)),
            Err(e) => Err(self.classify(e, &store, true)),
        }
    }

    /// Readies a warm instance's store for its next call, which starts `now`: new
    /// hooks, a new deadline, a full fuel tank and a new output budget.
    pub(crate) fn rearm(&self, store: &mut Store<CallState>, hooks: CallHooks, now: Instant) {
        store.data_mut().begin_call(hooks, now);
        store.set_epoch_deadline(1);
        self.refuel(store);
    }

    /// Runs `work` under the call deadline (`deadline`, or the plugin's own).
    ///
    /// The epoch callback stops wasm that computes past the deadline; this
    /// timeout also stops a call blocked inside a host function.
    pub(crate) async fn bounded<R>(
        &self,
        deadline: Option<Duration>,
        work: impl Future<Output = Result<R, CallFailure>>,
    ) -> Result<R, CallFailure> {
        let limit = deadline.unwrap_or(self.settings.deadline);
        match tokio::time::timeout(limit + EPOCH_TICK * 2, work).await {
            Ok(result) => result,
            Err(_) => Err(CallFailure::Deadline { plugin: self.name.clone(), limit }),
        }
    }

    /// Gives a store the call's fuel (when the engine meters fuel).
    fn refuel(&self, store: &mut Store<CallState>) {
        if self.runtime.fuel
            && let Err(e) = store.set_fuel(self.settings.fuel.unwrap_or(u64::MAX))
        {
            tracing::warn!(plugin = %self.name, "cannot set fuel: {e}");
        }
    }

    /// Names what went wrong in a wasm call on `store`.
    pub(crate) fn classify(
        &self,
        error: wasmtime::Error,
        store: &Store<CallState>,
        instantiating: bool,
    ) -> CallFailure {
        let plugin = self.name.clone();
        if error.is::<DeadlineExceeded>() {
            let bounds = &store.data().bounds;
            let limit = bounds.deadline.saturating_duration_since(bounds.started);
            return CallFailure::Deadline { plugin, limit };
        }
        if error.is::<CancelledByClient>() {
            return CallFailure::Cancelled { plugin };
        }
        if let Some(wasmtime::Trap::OutOfFuel) = error.downcast_ref::<wasmtime::Trap>() {
            return CallFailure::Fuel { plugin, limit: self.settings.fuel.unwrap_or(u64::MAX) };
        }
        if store.data().bounds.memory.denied() || error.is::<MemoryCapExceeded>() {
            return CallFailure::Memory { plugin, mib: self.settings.memory_mib };
        }
        tracing::debug!(plugin = %plugin, "wasm call failed: {error:?}");
        // The trap itself ("wasm `unreachable` instruction executed") says what
        // happened; the wasm backtrace is for the log, not the model.
        let message = match error.downcast_ref::<wasmtime::Trap>() {
            Some(trap) => trap.to_string(),
            None => error.root_cause().to_string(),
        };
        if instantiating { CallFailure::Instantiate { plugin, message } } else { CallFailure::Trap { plugin, message } }
    }
}
