//! Where a request's messages to the client go, and the hooks that turn a
//! call's log lines and progress reports into MCP notifications there.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::protocol::jsonrpc::{Request, notification};
use crate::protocol::logging::level_rank;
use crate::runtime::bindings::types::LogLevel;
use crate::runtime::{CallEvent, CallHooks};

/// Where a request's messages to the client go (an SSE stream, a connection's writer, ...).
pub(crate) type Sink = Arc<dyn Fn(Value) + Send + Sync>;

/// The MCP name of a log level.
fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Notice => "notice",
        LogLevel::Warning => "warning",
        LogLevel::Error => "error",
        LogLevel::Critical => "critical",
        LogLevel::Alert => "alert",
        LogLevel::Emergency => "emergency",
    }
}

/// Hooks for `request` that send progress (when it carries a progress token)
/// and log lines at or above `min_log_level` (when set) to `sink`.
pub(super) fn hooks(
    request: &Request,
    min_log_level: Option<&str>,
    sink: Sink,
    cancel: CancellationToken,
) -> CallHooks {
    let progress_token = request.meta().and_then(|m| m.progress_token.as_ref()).filter(|t| !t.is_null()).cloned();
    let min_rank = min_log_level.and_then(level_rank);
    if progress_token.is_none() && min_rank.is_none() {
        return CallHooks { events: None, cancel, deadline: None };
    }
    let events = move |event: CallEvent| match event {
        CallEvent::Progress { progress, total, message } => {
            if let Some(token) = &progress_token {
                let mut params = json!({ "progressToken": token, "progress": progress });
                if let Some(total) = total {
                    params["total"] = total.into();
                }
                if let Some(message) = message {
                    params["message"] = message.into();
                }
                sink(notification("notifications/progress", params));
            }
        }
        CallEvent::Log { level, message } => {
            let name = level_name(level);
            if min_rank.is_some_and(|min| level_rank(name).is_some_and(|rank| rank >= min)) {
                sink(notification(
                    "notifications/message",
                    json!({ "level": name, "logger": "plugin", "data": message }),
                ));
            }
        }
    };
    CallHooks { events: Some(Arc::new(events)), cancel, deadline: None }
}
