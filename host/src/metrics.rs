//! Prometheus text for `/metrics`: instance-pool counters per plugin, calls
//! and latency per tool, and the server's own gauges.
//!
//! Counters belong to a loaded plugin version, so a hot reload starts them
//! again from zero (Prometheus treats that as a counter reset). Every counter
//! is an atomic the call path bumps without a lock.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::runtime::{CallFailure, Plugin, PoolStats};

/// How a tool call ended, as the `outcome` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A result without `isError`.
    Ok,
    /// A result the plugin marked `isError`.
    ToolError,
    /// A JSON-RPC error (bad arguments, a plugin's own error value, ...).
    ProtocolError,
    Deadline,
    Memory,
    Trap,
    Busy,
    Cancelled,
    Fuel,
    Output,
    Instantiate,
}

impl Outcome {
    const ALL: [Outcome; 11] = [
        Outcome::Ok,
        Outcome::ToolError,
        Outcome::ProtocolError,
        Outcome::Deadline,
        Outcome::Memory,
        Outcome::Trap,
        Outcome::Busy,
        Outcome::Cancelled,
        Outcome::Fuel,
        Outcome::Output,
        Outcome::Instantiate,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ToolError => "tool_error",
            Outcome::ProtocolError => "protocol_error",
            Outcome::Deadline => "deadline",
            Outcome::Memory => "memory",
            Outcome::Trap => "trap",
            Outcome::Busy => "busy",
            Outcome::Cancelled => "cancelled",
            Outcome::Fuel => "fuel",
            Outcome::Output => "output",
            Outcome::Instantiate => "instantiate",
        }
    }

    /// The outcome a sandbox failure stands for.
    pub fn of_failure(failure: &CallFailure) -> Self {
        match failure {
            CallFailure::Deadline { .. } => Outcome::Deadline,
            CallFailure::Cancelled { .. } => Outcome::Cancelled,
            CallFailure::Memory { .. } => Outcome::Memory,
            CallFailure::Trap { .. } => Outcome::Trap,
            CallFailure::Instantiate { .. } => Outcome::Instantiate,
            CallFailure::Busy { .. } => Outcome::Busy,
            CallFailure::Fuel { .. } => Outcome::Fuel,
            CallFailure::Output { .. } => Outcome::Output,
        }
    }

    fn index(self) -> usize {
        Outcome::ALL.iter().position(|o| *o == self).unwrap_or(0)
    }
}

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 16] =
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// Calls of one tool: counts by outcome and a latency histogram.
#[derive(Debug, Default)]
pub struct ToolStats {
    outcomes: [AtomicU64; Outcome::ALL.len()],
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl ToolStats {
    /// Counts one call that ended with `outcome` after `elapsed`.
    pub fn record(&self, outcome: Outcome, elapsed: Duration) {
        self.outcomes[outcome.index()].fetch_add(1, Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64();
        if let Some(bucket) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Calls that ended with `outcome`.
    pub fn outcome(&self, outcome: Outcome) -> u64 {
        self.outcomes[outcome.index()].load(Ordering::Relaxed)
    }
}

/// One metric: name, type, help, and how to read it from a plugin's stats.
struct Metric {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    read: fn(&PoolStats) -> &AtomicU64,
}

const METRICS: &[Metric] = &[
    Metric { name: "berth_plugin_calls_total", kind: "counter", help: "Calls run.", read: |s| &s.calls },
    Metric {
        name: "berth_plugin_instantiations_total",
        kind: "counter",
        help: "Instances created.",
        read: |s| &s.instantiations,
    },
    Metric {
        name: "berth_plugin_reuse_hits_total",
        kind: "counter",
        help: "Calls served by a warm instance.",
        read: |s| &s.reuse_hits,
    },
    Metric {
        name: "berth_plugin_recycles_total",
        kind: "counter",
        help: "Warm instances dropped.",
        read: |s| &s.recycles,
    },
    Metric {
        name: "berth_plugin_failures_total",
        kind: "counter",
        help: "Calls that trapped or ran out of time or memory.",
        read: |s| &s.failures,
    },
    Metric {
        name: "berth_plugin_busy_total",
        kind: "counter",
        help: "Calls refused at the concurrency limit.",
        read: |s| &s.busy,
    },
    Metric { name: "berth_plugin_traps_total", kind: "counter", help: "Calls stopped by a trap.", read: |s| &s.traps },
    Metric {
        name: "berth_plugin_deadline_kills_total",
        kind: "counter",
        help: "Calls stopped at their deadline.",
        read: |s| &s.deadline_kills,
    },
    Metric {
        name: "berth_plugin_memory_kills_total",
        kind: "counter",
        help: "Calls stopped at their memory cap.",
        read: |s| &s.memory_kills,
    },
    Metric {
        name: "berth_plugin_instances_in_use",
        kind: "gauge",
        help: "Instances serving calls now.",
        read: |s| &s.in_use,
    },
    Metric { name: "berth_plugin_instances_idle", kind: "gauge", help: "Warm instances waiting.", read: |s| &s.idle },
];

/// The metrics of `plugins` in Prometheus text format.
pub fn render(plugins: &[Arc<Plugin>]) -> String {
    let mut text = String::new();
    render_tools(&mut text, plugins);
    for metric in METRICS {
        let _ = writeln!(text, "# HELP {} {}", metric.name, metric.help);
        let _ = writeln!(text, "# TYPE {} {}", metric.name, metric.kind);
        for plugin in plugins {
            let value = (metric.read)(plugin.stats()).load(Ordering::Relaxed);
            let _ = writeln!(text, "{}{{plugin=\"{}\"}} {value}", metric.name, label(&plugin.name));
        }
    }
    text
}

/// A label value with the characters Prometheus text cannot hold replaced.
fn label(value: &str) -> String {
    value.replace(['\\', '"', '\n'], "_")
}

fn render_tools(text: &mut String, plugins: &[Arc<Plugin>]) {
    let _ = writeln!(text, "# HELP berth_tool_calls_total Tool calls by outcome.");
    let _ = writeln!(text, "# TYPE berth_tool_calls_total counter");
    for plugin in plugins {
        for (tool, stats) in plugin.tool_stats() {
            for outcome in Outcome::ALL {
                let value = stats.outcome(outcome);
                if value > 0 || outcome == Outcome::Ok {
                    let _ = writeln!(
                        text,
                        "berth_tool_calls_total{{plugin=\"{}\",tool=\"{}\",outcome=\"{}\"}} {value}",
                        label(&plugin.name),
                        label(tool),
                        outcome.label()
                    );
                }
            }
        }
    }
    let _ = writeln!(text, "# HELP berth_tool_call_duration_seconds Tool call latency, plugin work included.");
    let _ = writeln!(text, "# TYPE berth_tool_call_duration_seconds histogram");
    for plugin in plugins {
        for (tool, stats) in plugin.tool_stats() {
            let labels = format!("plugin=\"{}\",tool=\"{}\"", label(&plugin.name), label(tool));
            let mut cumulative = 0;
            for (bound, bucket) in BUCKETS.iter().zip(&stats.buckets) {
                cumulative += bucket.load(Ordering::Relaxed);
                let _ =
                    writeln!(text, "berth_tool_call_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
            }
            let count = stats.count.load(Ordering::Relaxed);
            let sum = stats.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(text, "berth_tool_call_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}");
            let _ = writeln!(text, "berth_tool_call_duration_seconds_sum{{{labels}}} {sum}");
            let _ = writeln!(text, "berth_tool_call_duration_seconds_count{{{labels}}} {count}");
        }
    }
}

/// One server-wide gauge or counter in Prometheus text.
pub fn write_scalar(text: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    let _ = writeln!(text, "# HELP {name} {help}");
    let _ = writeln!(text, "# TYPE {name} {kind}");
    let _ = writeln!(text, "{name} {value}");
}

/// This process's resident memory in bytes, from `/proc/self/statm` (0 elsewhere).
pub fn resident_bytes() -> u64 {
    resident_bytes_of("self").unwrap_or(0)
}

/// The resident memory of process `pid` (or `self`) in bytes, from `/proc/PID/statm`.
///
/// Pages are taken as 4 KiB, the page size of the x86-64 and most aarch64 Linux kernels.
pub fn resident_bytes_of(pid: &str) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    statm.split_whitespace().nth(1)?.parse::<u64>().ok().map(|pages| pages * 4096)
}
