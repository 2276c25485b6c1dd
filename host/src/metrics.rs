//! Prometheus text for `/metrics`: each plugin's instance-pool counters.
//!
//! Counters belong to a loaded plugin version, so a hot reload starts them
//! again from zero (Prometheus treats that as a counter reset).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::runtime::{Plugin, PoolStats};

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
    for metric in METRICS {
        let _ = writeln!(text, "# HELP {} {}", metric.name, metric.help);
        let _ = writeln!(text, "# TYPE {} {}", metric.name, metric.kind);
        for plugin in plugins {
            let value = (metric.read)(plugin.stats()).load(Ordering::Relaxed);
            let _ = writeln!(text, "{}{{plugin=\"{}\"}} {value}", metric.name, plugin.name.replace(['\\', '"'], "_"));
        }
    }
    text
}
