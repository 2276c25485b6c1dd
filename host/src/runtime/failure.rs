//! Why a sandboxed call produced no answer, and the marker errors that tell the cases apart.

use std::sync::Arc;
use std::time::Duration;

/// Why a call produced no answer from the plugin.
///
/// These are the plugin's own failures: they end only this call, and are
/// reported to the client as a tool error (`isError`), not a protocol error.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallFailure {
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

impl CallFailure {
    /// A short name for the kind of failure (a trace span's `error.type`).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            CallFailure::Deadline { .. } => "deadline",
            CallFailure::Cancelled { .. } => "cancelled",
            CallFailure::Memory { .. } => "memory",
            CallFailure::Trap { .. } => "trap",
            CallFailure::Instantiate { .. } => "instantiate",
            CallFailure::Busy { .. } => "busy",
            CallFailure::Fuel { .. } => "fuel",
            CallFailure::Output { .. } => "output",
        }
    }
}

/// Raised by the epoch callback at the call's deadline.
#[derive(Debug, thiserror::Error)]
#[error("deadline exceeded")]
pub(crate) struct DeadlineExceeded;

/// Raised by the epoch callback once the call was cancelled.
#[derive(Debug, thiserror::Error)]
#[error("cancelled")]
pub(crate) struct CancelledByClient;

/// Raised by the memory cap when a plugin asks for more memory than it may have.
#[derive(Debug, thiserror::Error)]
#[error("memory growth to {desired} bytes denied (cap {limit} bytes)")]
pub(crate) struct MemoryCapExceeded {
    pub(crate) desired: usize,
    pub(crate) limit: usize,
}
