//! One sandboxed call: a fresh instance, armed limits, and how failures are told apart.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use wasmtime::component::Instance;
use wasmtime::{Store, UpdateDeadline};

use super::bindings::types::LogLevel;
use super::plugin::Plugin;
use super::state::CallState;

/// Something a plugin reported while its call ran.
#[derive(Debug, Clone)]
pub enum PluginEvent {
    /// A `host.log` line.
    Log { level: LogLevel, message: String },
    /// A `host.progress` report.
    Progress { progress: f64, total: Option<f64>, message: Option<String> },
}

/// Hooks a transport hands to a call: where events go and how to cancel it.
#[derive(Clone, Default)]
pub struct CallHooks {
    /// Receives the call's log and progress events, if anyone listens.
    pub events: Option<Arc<dyn Fn(PluginEvent) + Send + Sync>>,
    /// Set to true to cancel the call; the plugin sees it through
    /// `host.cancelled()` and the host stops it at its next epoch tick.
    pub cancelled: Arc<AtomicBool>,
}

impl CallHooks {
    pub(crate) fn emit(&self, event: PluginEvent) {
        if let Some(events) = &self.events {
            events(event);
        }
    }
}

/// Why a call produced no answer from the plugin.
///
/// These are the plugin's own failures: they end only this call, and are
/// reported to the client as a tool error (`isError`), not a protocol error.
#[derive(Debug, thiserror::Error)]
pub enum CallFailure {
    /// The call ran past its wall-clock deadline.
    #[error("plugin {plugin:?} did not finish within its {} ms deadline and was stopped", .limit.as_millis())]
    Deadline { plugin: Arc<str>, limit: Duration },
    /// The client cancelled the call.
    #[error("the call to plugin {plugin:?} was cancelled")]
    Cancelled { plugin: Arc<str> },
    /// The plugin tried to grow its memory past the cap.
    #[error("plugin {plugin:?} exceeded its memory limit of {mib} MiB and was stopped")]
    Memory { plugin: Arc<str>, mib: u64 },
    /// The plugin trapped (panic, `unreachable`, bad memory access, ...).
    #[error("plugin {plugin:?} failed: {message}")]
    Trap { plugin: Arc<str>, message: String },
    /// No instance could be created (pool exhausted, instantiation trap).
    #[error("plugin {plugin:?} could not start: {message}")]
    Instantiate { plugin: Arc<str>, message: String },
    /// The plugin was at its concurrency limit for longer than the queue wait.
    #[error(
        "plugin {plugin:?} is busy: {limit} calls were running and none finished within {waited_ms} ms; retry later"
    )]
    Busy { plugin: Arc<str>, limit: usize, waited_ms: u64 },
    /// The call used up its fuel.
    #[error("plugin {plugin:?} used up its fuel ({limit} units) and was stopped")]
    Fuel { plugin: Arc<str>, limit: u64 },
    /// The plugin's answer was larger than the operator allows.
    #[error("plugin {plugin:?} returned {size} bytes, more than its limit of {limit} bytes")]
    Output { plugin: Arc<str>, size: usize, limit: usize },
}

/// Marker error the epoch callback raises at the deadline.
#[derive(Debug, thiserror::Error)]
#[error("deadline exceeded")]
struct DeadlineExceeded;

/// Marker error the epoch callback raises once the call is cancelled.
#[derive(Debug, thiserror::Error)]
#[error("cancelled")]
struct CancelledByClient;

impl Plugin {
    /// A new store with limits armed, and a fresh instance of this plugin in it.
    pub(crate) async fn instantiate(&self, hooks: CallHooks) -> Result<(Store<CallState>, Instance), CallFailure> {
        let state = CallState::new(
            self.name.clone(),
            self.settings.clone(),
            hooks,
            self.runtime.signals.clone(),
            self.runtime.kv.clone(),
        );
        let mut store = Store::new(&self.runtime.engine, state);
        store.limiter(|state| &mut state.limits);
        let long_calls = self.runtime.long_calls.clone();
        store.epoch_deadline_callback(move |ctx| {
            let state = ctx.data();
            if Instant::now() >= state.deadline {
                return Err(wasmtime::Error::new(DeadlineExceeded));
            }
            if state.hooks.cancelled.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(wasmtime::Error::new(CancelledByClient));
            }
            state.release_long_slot();
            if state.started.elapsed() < super::engine::LONG_CALL {
                // Yield to the executor so a call never holds a worker thread.
                return Ok(UpdateDeadline::Yield(1));
            }
            // A long (CPU-bound) call runs its next tick only while it holds one
            // of the few long-call slots: runaway or heavy plugins take turns
            // on part of the workers, and short calls keep the rest.
            let (gate, slot) = (long_calls.clone(), state.long_slot.clone());
            Ok(UpdateDeadline::YieldCustom(
                1,
                Box::pin(async move {
                    if let Ok(permit) = gate.acquire_owned().await {
                        *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(permit);
                    }
                }),
            ))
        });
        store.set_epoch_deadline(1);
        self.refuel(&mut store);
        match self.pre.instantiate_async(&mut store).await {
            Ok(instance) => Ok((store, instance)),
            Err(e) => Err(self.classify(e, true)),
        }
    }

    /// Runs `work` under the call deadline, turning any failure into a [`CallFailure`].
    ///
    /// The epoch callback stops wasm that computes past the deadline; the
    /// timeout here also stops a call blocked inside a host function.
    pub(crate) async fn bounded<R>(
        &self,
        work: impl Future<Output = Result<R, CallFailure>>,
    ) -> Result<R, CallFailure> {
        let limit = self.settings.deadline;
        match tokio::time::timeout(limit + super::engine::EPOCH_TICK * 2, work).await {
            Ok(result) => result,
            Err(_) => Err(CallFailure::Deadline { plugin: self.name.clone(), limit }),
        }
    }

    /// Gives a store the call's fuel (when the engine meters fuel).
    pub(crate) fn refuel(&self, store: &mut Store<CallState>) {
        if self.runtime.fuel
            && let Err(e) = store.set_fuel(self.settings.fuel.unwrap_or(u64::MAX))
        {
            tracing::warn!(plugin = %self.name, "cannot set fuel: {e}");
        }
    }

    /// Names what went wrong in a wasm call.
    pub(crate) fn classify(&self, error: wasmtime::Error, instantiating: bool) -> CallFailure {
        let plugin = self.name.clone();
        if error.is::<DeadlineExceeded>() {
            return CallFailure::Deadline { plugin, limit: self.settings.deadline };
        }
        if error.is::<CancelledByClient>() {
            return CallFailure::Cancelled { plugin };
        }
        if let Some(wasmtime::Trap::OutOfFuel) = error.downcast_ref::<wasmtime::Trap>() {
            return CallFailure::Fuel { plugin, limit: self.settings.fuel.unwrap_or(u64::MAX) };
        }
        let full = format!("{error:?}");
        if full.contains("growing memory") || full.contains("memory minimum size") {
            return CallFailure::Memory { plugin, mib: self.settings.memory_mib };
        }
        tracing::debug!(plugin = %plugin, "wasm call failed: {full}");
        // The trap itself ("wasm `unreachable` instruction executed") says what
        // happened; the wasm backtrace is for the log, not the model.
        let message = match error.downcast_ref::<wasmtime::Trap>() {
            Some(trap) => trap.to_string(),
            None => error.root_cause().to_string(),
        };
        if instantiating { CallFailure::Instantiate { plugin, message } } else { CallFailure::Trap { plugin, message } }
    }
}
