//! Calls into the host: logging, progress and cancellation.

use crate::bindings::berth::plugin::host as imports;
use crate::{ListKind, LogLevel};

/// Writes a log line to berth's log (and to the client when it asked for logs).
pub fn log(level: LogLevel, message: &str) {
    imports::log(level, message);
}

/// Reports progress of the current call.
pub fn progress(progress: f64, total: Option<f64>, message: Option<&str>) {
    imports::progress(progress, total, message);
}

/// True once the client cancelled the current call.
pub fn cancelled() -> bool {
    imports::cancelled()
}

/// Tells berth that this plugin's list of `kind` changed; clients are notified.
pub fn list_changed(kind: ListKind) {
    imports::list_changed(kind);
}

/// Tells berth that the resource at `uri` changed; subscribed clients are notified.
pub fn resource_updated(uri: &str) {
    imports::resource_updated(uri);
}

/// The value stored under `key` in this plugin's key-value store.
///
/// Fails unless the operator granted the plugin a store (`kv = true`).
pub fn kv_get(key: &str) -> Result<Option<Vec<u8>>, String> {
    crate::bindings::berth::plugin::kv::get(key).map_err(kv_error)
}

/// Stores `value` under `key` in this plugin's key-value store.
pub fn kv_set(key: &str, value: &[u8]) -> Result<(), String> {
    crate::bindings::berth::plugin::kv::set(key, value).map_err(kv_error)
}

fn kv_error(error: crate::bindings::berth::plugin::kv::KvError) -> String {
    use crate::bindings::berth::plugin::kv::KvError;
    match error {
        KvError::Denied(message) | KvError::Full(message) => message,
    }
}
