//! Calls into the host: logging, progress and cancellation.

use crate::LogLevel;
use crate::bindings::berth::plugin::host as imports;

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
