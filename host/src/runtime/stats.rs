//! Per-tool call statistics: how each call ended and how long it took.
//!
//! Counters are atomics the call path bumps without a lock; `metrics` only
//! reads and renders them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::failure::CallFailure;

/// How a tool call ended, as the `outcome` label of `/metrics` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// A result without `isError`.
    Ok,
    /// A result the plugin marked `isError`.
    ToolError,
    /// A JSON-RPC error (unknown tool, bad multi-round state, a plugin's internal error, ...).
    ProtocolError,
    /// Arguments that do not fit the tool's input schema (or that the plugin refused as
    /// invalid): an `isError` result, no plugin work when berth caught them.
    InvalidArguments,
    /// Structured output that does not fit the tool's output schema: a plugin bug.
    InvalidOutput,
    Deadline,
    Memory,
    Trap,
    Busy,
    Cancelled,
    Fuel,
    Output,
    Instantiate,
}

impl Ending {
    /// Every ending, in the order `/metrics` lists them.
    pub(crate) const ALL: [Ending; 13] = [
        Ending::Ok,
        Ending::ToolError,
        Ending::ProtocolError,
        Ending::InvalidArguments,
        Ending::InvalidOutput,
        Ending::Deadline,
        Ending::Memory,
        Ending::Trap,
        Ending::Busy,
        Ending::Cancelled,
        Ending::Fuel,
        Ending::Output,
        Ending::Instantiate,
    ];

    /// The label value.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Ending::Ok => "ok",
            Ending::ToolError => "tool_error",
            Ending::ProtocolError => "protocol_error",
            Ending::InvalidArguments => "invalid_arguments",
            Ending::InvalidOutput => "invalid_output",
            Ending::Deadline => "deadline",
            Ending::Memory => "memory",
            Ending::Trap => "trap",
            Ending::Busy => "busy",
            Ending::Cancelled => "cancelled",
            Ending::Fuel => "fuel",
            Ending::Output => "output",
            Ending::Instantiate => "instantiate",
        }
    }

    fn index(self) -> usize {
        Ending::ALL.iter().position(|o| *o == self).unwrap_or(0)
    }
}

impl From<&CallFailure> for Ending {
    fn from(failure: &CallFailure) -> Self {
        match failure {
            CallFailure::Deadline { .. } => Ending::Deadline,
            CallFailure::Cancelled { .. } => Ending::Cancelled,
            CallFailure::Memory { .. } => Ending::Memory,
            CallFailure::Trap { .. } => Ending::Trap,
            CallFailure::Instantiate { .. } => Ending::Instantiate,
            CallFailure::Busy { .. } => Ending::Busy,
            CallFailure::Fuel { .. } => Ending::Fuel,
            CallFailure::Output { .. } => Ending::Output,
        }
    }
}

/// Upper bounds of the latency histogram buckets, in seconds.
pub(crate) const BUCKETS: [f64; 16] =
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// A latency histogram over [`BUCKETS`]: counts per bucket, how many, and their sum.
/// Atomics only, so recording takes no lock and a `static` can hold one.
#[derive(Debug)]
pub(crate) struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// An empty histogram.
    pub(crate) const fn new() -> Self {
        Self {
            buckets: [const { AtomicU64::new(0) }; BUCKETS.len()],
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
        }
    }

    /// Counts one observation of `elapsed`.
    pub(crate) fn record(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(bucket) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Observations per bucket (not cumulative), in the order of [`BUCKETS`].
    pub(crate) fn buckets(&self) -> impl Iterator<Item = u64> + '_ {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed))
    }

    /// Observations recorded.
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Their total.
    pub(crate) fn total_time(&self) -> Duration {
        Duration::from_nanos(self.sum_nanos.load(Ordering::Relaxed))
    }
}

/// Calls of one tool: counts by ending and a latency histogram.
#[derive(Debug, Default)]
pub(crate) struct ToolStats {
    endings: [AtomicU64; Ending::ALL.len()],
    latency: Histogram,
}

impl ToolStats {
    /// Counts one call that ended with `ending` after `elapsed`.
    pub(crate) fn record(&self, ending: Ending, elapsed: Duration) {
        self.endings[ending.index()].fetch_add(1, Ordering::Relaxed);
        self.latency.record(elapsed);
    }

    /// Calls that ended with `ending`.
    pub(crate) fn count_of(&self, ending: Ending) -> u64 {
        self.endings[ending.index()].load(Ordering::Relaxed)
    }

    /// The calls' latency.
    pub(crate) fn latency(&self) -> &Histogram {
        &self.latency
    }
}

#[cfg(test)]
mod tests {
    use crate::runtime::stats::*;

    #[test]
    fn a_call_lands_in_its_ending_and_bucket() {
        let stats = ToolStats::default();
        stats.record(Ending::Trap, Duration::from_micros(70));
        assert_eq!(stats.count_of(Ending::Trap), 1);
        assert_eq!(stats.count_of(Ending::Ok), 0);
        assert_eq!(stats.latency().buckets().collect::<Vec<_>>()[1], 1, "70 µs is in the ≤100 µs bucket");
        assert_eq!(stats.latency().count(), 1);
    }
}
