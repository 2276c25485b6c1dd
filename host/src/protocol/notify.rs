//! Turning a plugin's `host.log` and `host.progress` calls into MCP notifications.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde_json::{Value, json};

use super::jsonrpc::{Request, notification};
use crate::runtime::bindings::types::LogLevel;
use crate::runtime::{CallHooks, PluginEvent};

/// Where a request's notifications go (an SSE stream, a stdio writer, ...).
pub type Sink = Arc<dyn Fn(Value) + Send + Sync>;

/// The MCP name of a log level.
pub fn level_name(level: LogLevel) -> &'static str {
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

/// The rank of an MCP level name (debug = 0 ... emergency = 7).
pub fn level_rank(name: &str) -> Option<u8> {
    ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
        .iter()
        .position(|l| *l == name)
        .and_then(|p| u8::try_from(p).ok())
}

/// Hooks for `request` that send progress (when it carries a progress token)
/// and log lines at or above `min_log_level` (when set) to `sink`.
pub fn hooks(request: &Request, min_log_level: Option<&str>, sink: Sink, cancelled: Arc<AtomicBool>) -> CallHooks {
    let progress_token = request.meta().and_then(|m| m.get("progressToken")).filter(|t| !t.is_null()).cloned();
    let min_rank = min_log_level.and_then(level_rank);
    if progress_token.is_none() && min_rank.is_none() {
        return CallHooks { events: None, cancelled };
    }
    let events = move |event: PluginEvent| match event {
        PluginEvent::Progress { progress, total, message } => {
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
        PluginEvent::Log { level, message } => {
            let name = level_name(level);
            if min_rank.is_some_and(|min| level_rank(name).is_some_and(|rank| rank >= min)) {
                sink(notification(
                    "notifications/message",
                    json!({ "level": name, "logger": "plugin", "data": message }),
                ));
            }
        }
    };
    CallHooks { events: Some(Arc::new(events)), cancelled }
}
