//! Prometheus text for `/metrics`: instance-pool counters per plugin, calls
//! and latency per tool, and the server's own gauges.
//!
//! This module only renders: the counters live where they are counted (the
//! runtime's pool and tool stats, the transport's limits). Counters belong
//! to a loaded plugin version, so a hot reload of its file starts them again
//! from zero (Prometheus treats that as a counter reset).

use std::fmt::Write as _;
use std::sync::Arc;

use crate::audit::AuditCounts;
use crate::exchange::Operations;
use crate::runtime::{BUCKETS, Ending, Histogram, Plugin, PoolCounts};
use crate::session::SESSION_DURATIONS;
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
    /// Requests per second the server can serve, as the pacer measured it (0: not yet).
    pub(crate) capacity: u64,
    /// Requests that waited because their source was above its share.
    pub(crate) paced: u64,
    /// Where shared state lives: in a cluster, this replica's name and whether Redis is up.
    pub(crate) placement: Placement,
    /// Trace spans dropped (queue full), exported and failed to export; `None` with traces off.
    pub(crate) trace_spans: Option<[u64; 3]>,
    /// The audit trail's counts; `None` with no audit sink.
    pub(crate) audit: Option<AuditCounts>,
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
        name: "berth_plugin_spare_hits_total",
        kind: "counter",
        help: "Fresh calls served by an instance made ahead of them.",
        read: |s| s.spare_hits,
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
    PoolMetric {
        name: "berth_plugin_instances_spare",
        kind: "gauge",
        help: "Never-used instances made ahead of fresh calls, waiting.",
        read: |s| s.spares,
    },
];

/// The metrics of `plugins` and the server's `gauges` in Prometheus text format.
pub(crate) fn render(plugins: &[Arc<Plugin>], gauges: &ServerGauges, operations: &Operations) -> String {
    let mut text = String::new();
    render_operations(&mut text, operations);
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
        (
            "berth_capacity_requests_per_second",
            "gauge",
            "Requests per second this server can serve, measured from its CPU time per request (0: not yet).",
            gauges.capacity,
        ),
        (
            "berth_paced_requests_total",
            "counter",
            "Requests that waited because their client (source) was above its share of the server.",
            gauges.paced,
        ),
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
    if let Some(spans) = gauges.trace_spans {
        let _ = writeln!(
            text,
            "# HELP berth_trace_spans_total Trace spans by what became of them: exported, dropped (the export queue was full: the collector is slow or gone), failed (the collector refused or did not answer)."
        );
        let _ = writeln!(text, "# TYPE berth_trace_spans_total counter");
        for (fate, value) in ["dropped", "exported", "failed"].into_iter().zip(spans) {
            let _ = writeln!(text, "berth_trace_spans_total{{fate=\"{fate}\"}} {value}");
        }
    }
    if let Some(audit) = &gauges.audit {
        render_audit(&mut text, audit);
    }
    text
}

/// The audit trail's counters.
fn render_audit(text: &mut String, audit: &AuditCounts) {
    let name = "berth_audit_events_total";
    let _ = writeln!(text, "# HELP {name} Audit events (tool calls, resource reads, prompt gets) by outcome.");
    let _ = writeln!(text, "# TYPE {name} counter");
    for (outcome, value) in &audit.by_outcome {
        let _ = writeln!(text, "{name}{{outcome=\"{outcome}\"}} {value}");
    }
    for (name, help, value) in [
        ("berth_audit_events_dropped_total", "Audit events lost: the sink's queue was full.", audit.dropped),
        ("berth_audit_write_errors_total", "Writes of the audit sink that failed.", audit.write_errors),
    ] {
        let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
    }
}

/// The OpenTelemetry MCP conventions' histograms: `mcp.server.operation.duration` by
/// method, tool and error type (a tool result with `isError` is `error_type="tool_error"`,
/// so tool failures count as errors although HTTP says 200), and
/// `mcp.server.session.duration` of legacy sessions.
fn render_operations(text: &mut String, operations: &Operations) {
    let name = "mcp_server_operation_duration_seconds";
    let _ = writeln!(
        text,
        "# HELP {name} MCP requests by method, tool and error type (OpenTelemetry mcp.server.operation.duration)."
    );
    let _ = writeln!(text, "# TYPE {name} histogram");
    operations.each(|(method, tool, error_type), series| {
        let mut labels = format!("mcp_method_name=\"{method}\"");
        if let Some(tool) = tool {
            labels.push_str(&format!(",gen_ai_tool_name=\"{}\"", label(tool)));
        }
        if let Some(error_type) = error_type {
            labels.push_str(&format!(",error_type=\"{}\"", label(error_type)));
        }
        histogram(text, name, &labels, series);
    });
    let name = "mcp_server_session_duration_seconds";
    let _ =
        writeln!(text, "# HELP {name} How long legacy sessions lasted (OpenTelemetry mcp.server.session.duration).");
    let _ = writeln!(text, "# TYPE {name} histogram");
    histogram(text, name, "", &SESSION_DURATIONS);
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
            histogram(text, "berth_tool_call_duration_seconds", &labels, stats.latency());
        }
    }
}

/// One histogram's series (`_bucket` cumulative, `_sum`, `_count`) with `labels`.
fn histogram(text: &mut String, name: &str, labels: &str, histogram: &Histogram) {
    let sep = if labels.is_empty() { "" } else { "," };
    let mut cumulative = 0;
    for (bound, bucket) in BUCKETS.iter().zip(histogram.buckets()) {
        cumulative += bucket;
        let _ = writeln!(text, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}");
    }
    let count = histogram.count();
    let sum = histogram.total_time().as_secs_f64();
    let _ = writeln!(text, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
    let braced = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
    let _ = writeln!(text, "{name}_sum{braced} {sum}");
    let _ = writeln!(text, "{name}_count{braced} {count}");
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
