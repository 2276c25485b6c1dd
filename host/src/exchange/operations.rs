//! `mcp.server.operation.duration` by the OpenTelemetry MCP conventions: how long each
//! request took, by method, tool and error type, for `/metrics`.
//!
//! Labels stay bounded whatever clients send: a method berth does not serve is `other`, a
//! tool is named only when the request's snapshot has it, an error type is a JSON-RPC code
//! or `tool_error`.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
pub(crate) struct Operations {
    /// Which `Operations` this is, for [`LAST`] (an address could be reused by a later one).
    id: u64,
    /// Hashed with foldhash: the keys are labels berth bounds (see above), so the flooding a
    /// keyed hash guards against cannot be aimed here.
    series: DashMap<OperationKey, Arc<Histogram>, foldhash::fast::RandomState>,
}

impl Default for Operations {
    fn default() -> Self {
        static IDS: AtomicU64 = AtomicU64::new(0);
        Self { id: IDS.fetch_add(1, Ordering::Relaxed), series: DashMap::default() }
    }
}

/// The series of the last request that succeeded on this thread, and whose it is: a run of
/// calls to one tool then records without the map's hash and lock (BENCHMARKS.md, "Traces
/// (#24)": the map's read was the largest single part of what a request paid for this metric).
struct Last {
    owner: u64,
    method: &'static str,
    /// Held, so no other tool's name can take its address while it is compared by address.
    tool: Option<Arc<str>>,
    series: Arc<Histogram>,
}

thread_local! {
    static LAST: RefCell<Option<Last>> = const { RefCell::new(None) };
}

impl Last {
    fn is(&self, owner: u64, method: &'static str, tool: Option<&Arc<str>>) -> bool {
        self.owner == owner
            && std::ptr::eq(self.method, method)
            && match (&self.tool, tool) {
                (Some(held), Some(tool)) => Arc::ptr_eq(held, tool),
                (None, None) => true,
                _ => false,
            }
    }
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
        tool: Option<&Arc<str>>,
        error_type: Option<Arc<str>>,
        elapsed: Duration,
    ) {
        if error_type.is_none() {
            let recorded = LAST.with_borrow(|last| {
                last.as_ref().filter(|last| last.is(self.id, method, tool)).map(|last| last.series.record(elapsed))
            });
            if recorded.is_some() {
                return;
            }
        }
        let ok = error_type.is_none();
        let key = (method, tool.cloned(), error_type);
        let series = match self.series.get(&key) {
            Some(found) => found.clone(),
            None => self.series.entry(key.clone()).or_default().clone(),
        };
        series.record(elapsed);
        if ok {
            let (method, tool, _) = key;
            LAST.set(Some(Last { owner: self.id, method, tool, series }));
        }
    }

    /// Every series, for rendering.
    pub(crate) fn each(&self, mut visit: impl FnMut(&OperationKey, &Histogram)) {
        for entry in &self.series {
            visit(entry.key(), entry.value());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::Operations;

    fn count(operations: &Operations, tool: &str, error: Option<&str>) -> u64 {
        let mut found = 0;
        operations.each(|(_, t, e), series| {
            if t.as_deref() == Some(tool) && e.as_deref() == error {
                found += series.count();
            }
        });
        found
    }

    #[test]
    fn each_series_counts_its_own_requests_whatever_this_thread_recorded_last() {
        let (first, second) = (Operations::default(), Operations::default());
        let echo: Arc<str> = Arc::from("echo");
        let other: Arc<str> = Arc::from("other");
        let call = Operations::method("tools/call");
        let tick = Duration::from_micros(10);
        first.record(call, Some(&echo), None, tick);
        first.record(call, Some(&echo), None, tick);
        second.record(call, Some(&echo), None, tick);
        first.record(call, Some(&other), None, tick);
        first.record(call, Some(&echo), Some(Arc::from("tool_error")), tick);
        // A name equal to a recorded one but held elsewhere is the same series.
        first.record(call, Some(&Arc::from("echo")), None, tick);
        assert_eq!(count(&first, "echo", None), 3);
        assert_eq!(count(&second, "echo", None), 1);
        assert_eq!(count(&first, "other", None), 1);
        assert_eq!(count(&first, "echo", Some("tool_error")), 1);
        assert_eq!(count(&second, "other", None), 0);
    }
}
