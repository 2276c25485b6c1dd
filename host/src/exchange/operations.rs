//! `mcp.server.operation.duration` by the OpenTelemetry MCP conventions: how long each
//! request took, by method, tool and error type, for `/metrics`.
//!
//! Labels stay bounded whatever clients send: a method berth does not serve is `other`, a
//! tool is named only when the request's snapshot has it, an error type is a JSON-RPC code
//! or `tool_error`.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;

use crate::runtime::Histogram;

/// The methods whose name is a label value; any other is `other`.
const METHODS: [&str; 23] = [
    "initialize",
    "ping",
    "server/discover",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "subscriptions/listen",
    "tasks/get",
    "tasks/update",
    "tasks/cancel",
    "tasks/result",
    "tasks/list",
    "notifications/cancelled",
    "notifications/initialized",
    "other",
];

/// One series: method, tool (when there is one), error type (when it failed).
pub(crate) type OperationKey = (&'static str, Option<Arc<str>>, Option<Arc<str>>);

/// Request durations by series.
#[derive(Default)]
pub(crate) struct Operations {
    /// Hashed with foldhash: every request looks its series up, and the keys are labels berth
    /// bounds (see above), so the flooding a keyed hash guards against cannot be aimed here.
    series: DashMap<OperationKey, Arc<Histogram>, foldhash::fast::RandomState>,
}

impl Operations {
    /// The label value of `method`.
    pub(crate) fn method(method: &str) -> &'static str {
        METHODS.iter().find(|known| **known == method).copied().unwrap_or("other")
    }

    /// Counts one request of `method` (on `tool`, failed as `error_type`) that took `elapsed`.
    pub(crate) fn record(
        &self,
        method: &'static str,
        tool: Option<Arc<str>>,
        error_type: Option<Arc<str>>,
        elapsed: Duration,
    ) {
        let key = (method, tool, error_type);
        if let Some(found) = self.series.get(&key) {
            found.record(elapsed);
            return;
        }
        self.series.entry(key).or_default().record(elapsed);
    }

    /// Every series, for rendering.
    pub(crate) fn each(&self, mut visit: impl FnMut(&OperationKey, &Histogram)) {
        for entry in &self.series {
            visit(entry.key(), entry.value());
        }
    }
}
