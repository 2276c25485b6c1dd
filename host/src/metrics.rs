//! Prometheus text for `/metrics`: instance-pool counters per plugin, calls
//! and latency per tool, and the server's own gauges.
//!
//! This module only renders: the counters live where they are counted (the
//! runtime's pool and tool stats, the transport's limits). Counters belong
//! to a loaded plugin version, so a hot reload of its file starts them again
//! from zero (Prometheus treats that as a counter reset).

use std::fmt::Write as _;
use std::sync::Arc;

use crate::runtime::{BUCKETS, Ending, Plugin, PoolCounts};
use crate::shared::Placement;

/// The server-wide figures the transports hand to [`render`].
#[derive(Debug, Clone)]
pub(crate) struct ServerGauges {
    /// Live legacy (2025-era) sessions.
    pub(crate) sessions: usize,
    /// Requests running now (HTTP and WebSocket).
    pub(crate) in_flight: usize,
    /// Requests and streams refused at a server limit.
    pub(crate) shed: u64,
    /// HTTP requests stopped at the request timeout.
    pub(crate) timeouts: u64,
    /// Open WebSocket connections.
    pub(crate) websocket_connections: usize,
    /// Open SSE event streams.
    pub(crate) event_streams: usize,
    /// Refusals because a source was at one of its quotas, by limit name.
    pub(crate) quota_refusals: Vec<(&'static str, u64)>,
    /// Legacy sessions dropped, by reason (`unused`, `idle`: for newcomers; `expired`: idle time).
    pub(crate) sessions_evicted: Vec<(&'static str, u64)>,
    /// Sources known now (holding something, or seen since the last sweep).
    pub(crate) sources: usize,
    /// Where shared state lives: in a cluster, this replica's name and whether Redis is up.
    pub(crate) placement: Placement,
}

/// One pool metric: name, type, help, and how to read it from a plugin's stats.
struct PoolMetric {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    read: fn(&PoolCounts) -> u64,
}

const POOL_METRICS: &[PoolMetric] = &[
    PoolMetric { name: "berth_plugin_calls_total", kind: "counter", help: "Calls run.", read: |s| s.calls },
    PoolMetric {
        name: "berth_plugin_instantiations_total",
        kind: "counter",
        help: "Instances created.",
        read: |s| s.instantiations,
    },
    PoolMetric {
        name: "berth_plugin_reuse_hits_total",
        kind: "counter",
        help: "Calls served by a warm instance.",
        read: |s| s.reuse_hits,
    },
    PoolMetric {
        name: "berth_plugin_recycles_total",
        kind: "counter",
        help: "Warm instances dropped.",
        read: |s| s.recycles,
    },
    PoolMetric {
        name: "berth_plugin_failures_total",
        kind: "counter",
        help: "Calls that trapped or ran out of time or memory.",
        read: |s| s.failures,
    },
    PoolMetric {
        name: "berth_plugin_busy_total",
        kind: "counter",
        help: "Calls refused at the concurrency limit.",
        read: |s| s.busy,
    },
    PoolMetric {
        name: "berth_plugin_traps_total",
        kind: "counter",
        help: "Calls stopped by a trap.",
        read: |s| s.traps,
    },
    PoolMetric {
        name: "berth_plugin_deadline_kills_total",
        kind: "counter",
        help: "Calls stopped at their deadline.",
        read: |s| s.deadline_kills,
    },
    PoolMetric {
        name: "berth_plugin_memory_kills_total",
        kind: "counter",
        help: "Calls stopped at their memory cap.",
        read: |s| s.memory_kills,
    },
    PoolMetric {
        name: "berth_plugin_instances_in_use",
        kind: "gauge",
        help: "Instances serving calls now.",
        read: |s| s.in_use,
    },
    PoolMetric {
        name: "berth_plugin_instances_idle",
        kind: "gauge",
        help: "Warm instances waiting.",
        read: |s| s.idle,
    },
];

/// The metrics of `plugins` and the server's `gauges` in Prometheus text format.
pub(crate) fn render(plugins: &[Arc<Plugin>], gauges: &ServerGauges) -> String {
    let mut text = String::new();
    render_tools(&mut text, plugins);
    let counts: Vec<PoolCounts> = plugins.iter().map(|plugin| plugin.stats().read()).collect();
    for metric in POOL_METRICS {
        let _ = writeln!(text, "# HELP {} {}", metric.name, metric.help);
        let _ = writeln!(text, "# TYPE {} {}", metric.name, metric.kind);
        for (plugin, counts) in plugins.iter().zip(&counts) {
            let value = (metric.read)(counts);
            let _ = writeln!(text, "{}{{plugin=\"{}\"}} {value}", metric.name, label(&plugin.name));
        }
    }
    let scalars = [
        ("berth_sessions", "gauge", "Live legacy (2025-era) sessions.", gauges.sessions as u64),
        ("berth_in_flight_requests", "gauge", "Requests running now (HTTP and WebSocket).", gauges.in_flight as u64),
        ("berth_shed_total", "counter", "Requests and streams refused at a server limit.", gauges.shed),
        ("berth_timeouts_total", "counter", "HTTP requests stopped at the request timeout.", gauges.timeouts),
        ("berth_websocket_connections", "gauge", "Open WebSocket connections.", gauges.websocket_connections as u64),
        ("berth_event_streams", "gauge", "Open SSE event streams.", gauges.event_streams as u64),
        ("berth_sources", "gauge", "Clients (sources) holding something now or seen lately.", gauges.sources as u64),
        ("berth_resident_memory_bytes", "gauge", "Resident memory of the berth process.", resident_bytes()),
    ];
    for (name, kind, help, value) in scalars {
        let _ = writeln!(text, "# HELP {name} {help}");
        let _ = writeln!(text, "# TYPE {name} {kind}");
        let _ = writeln!(text, "{name} {value}");
    }
    let labelled = [
        (
            "berth_quota_refusals_total",
            "Refusals because a client (source) was at one of its quotas.",
            "limit",
            &gauges.quota_refusals,
        ),
        (
            "berth_sessions_evicted_total",
            "Legacy sessions dropped: unused or least recently used, for newcomers; expired, after the idle time.",
            "reason",
            &gauges.sessions_evicted,
        ),
    ];
    for (name, help, key, values) in labelled {
        let _ = writeln!(text, "# HELP {name} {help}");
        let _ = writeln!(text, "# TYPE {name} counter");
        for (value_label, value) in values {
            let _ = writeln!(text, "{name}{{{key}=\"{value_label}\"}} {value}");
        }
    }
    if let Placement::Cluster { replica, redis_up } = &gauges.placement {
        let _ = writeln!(text, "# HELP berth_redis_up Whether this replica's link to Redis is up (1) or down (0).");
        let _ = writeln!(text, "# TYPE berth_redis_up gauge");
        let _ = writeln!(text, "berth_redis_up{{replica=\"{}\"}} {}", label(replica), u8::from(*redis_up));
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
            for ending in Ending::ALL {
                let value = stats.count_of(ending);
                if value > 0 || ending == Ending::Ok {
                    let _ = writeln!(
                        text,
                        "berth_tool_calls_total{{plugin=\"{}\",tool=\"{}\",outcome=\"{}\"}} {value}",
                        label(&plugin.name),
                        label(tool),
                        ending.label()
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
            for (bound, bucket) in BUCKETS.iter().zip(stats.buckets()) {
                cumulative += bucket;
                let _ =
                    writeln!(text, "berth_tool_call_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
            }
            let count = stats.count();
            let sum = stats.total_time().as_secs_f64();
            let _ = writeln!(text, "berth_tool_call_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}");
            let _ = writeln!(text, "berth_tool_call_duration_seconds_sum{{{labels}}} {sum}");
            let _ = writeln!(text, "berth_tool_call_duration_seconds_count{{{labels}}} {count}");
        }
    }
}

/// This process's resident memory in bytes, from `/proc/self/statm` (0 elsewhere).
pub(crate) fn resident_bytes() -> u64 {
    resident_bytes_of("self").unwrap_or(0)
}

/// The resident memory of process `pid` (or `self`) in bytes, from `/proc/PID/statm`.
///
/// Pages are taken as 4 KiB, the page size of the x86-64 and most aarch64 Linux kernels.
pub fn resident_bytes_of(pid: &str) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    statm.split_whitespace().nth(1)?.parse::<u64>().ok().map(|pages| pages * 4096)
}
