//! Calls into the host: logging, progress, cancellation, announcements and the key-value store.

use crate::bindings::berth::plugin::host as imports;
use crate::bindings::berth::plugin::kv;
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

/// Why a key-value store operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvError {
    /// The operator did not grant this plugin a store (`kv = true` in its sidecar file).
    Denied(String),
    /// The write would take the store past its size cap.
    Full(String),
}

impl std::fmt::Display for KvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvError::Denied(message) | KvError::Full(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for KvError {}

/// A store failure ends a tool call as the plugin's internal error, with its message.
impl From<KvError> for crate::Error {
    fn from(error: KvError) -> Self {
        crate::Error::Internal(error.to_string())
    }
}

impl From<kv::KvError> for KvError {
    fn from(error: kv::KvError) -> Self {
        match error {
            kv::KvError::Denied(message) => KvError::Denied(message),
            kv::KvError::Full(message) => KvError::Full(message),
        }
    }
}

/// The value stored under `key` in this plugin's key-value store.
///
/// Every `kv_*` call fails with [`KvError::Denied`] unless the operator
/// granted the plugin a store (`kv = true`).
pub fn kv_get(key: &str) -> Result<Option<Vec<u8>>, KvError> {
    Ok(kv::get(key)?)
}

/// Stores `value` under `key`; [`KvError::Full`] when the store would pass its cap.
pub fn kv_set(key: &str, value: &[u8]) -> Result<(), KvError> {
    Ok(kv::set(key, value)?)
}

/// Removes `key` (no error if it was absent).
pub fn kv_delete(key: &str) -> Result<(), KvError> {
    Ok(kv::delete(key)?)
}

/// Every key in the store, sorted.
pub fn kv_keys() -> Result<Vec<String>, KvError> {
    Ok(kv::keys()?)
}
