//! The data a plugin's store holds for one call, and the `host` imports it serves.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::berth::plugin::host::Host;
use super::bindings::types::{ListKind, LogLevel};
use super::call::{CallHooks, PluginEvent};
use super::output::{LogStream, Stream};
use super::signal::HostSignal;
use crate::config::LimitsConfig;

/// Everything a store holds while one plugin call runs.
///
/// WASI is present but empty: no preopened directories, no environment, no
/// arguments, no network; stdin is closed and stdout/stderr go to the log.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: StoreLimits,
    pub(crate) plugin: Arc<str>,
    pub(crate) deadline: Instant,
    pub(crate) hooks: CallHooks,
    signals: tokio::sync::broadcast::Sender<HostSignal>,
}

impl CallState {
    /// Fresh state for one call of `plugin`.
    pub fn new(
        plugin: Arc<str>,
        limits: &LimitsConfig,
        hooks: CallHooks,
        signals: tokio::sync::broadcast::Sender<HostSignal>,
    ) -> Self {
        let wasi = WasiCtxBuilder::new()
            .stdout(LogStream::new(
                plugin.clone(),
                Stream::Stdout,
                limits.max_log_bytes,
            ))
            .stderr(LogStream::new(
                plugin.clone(),
                Stream::Stderr,
                limits.max_log_bytes,
            ))
            .build();
        let store_limits = StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes())
            .instances(64)
            .tables(64)
            .memories(8)
            .trap_on_grow_failure(true)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            limits: store_limits,
            plugin,
            deadline: Instant::now() + limits.deadline(),
            hooks,
            signals,
        }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl Host for CallState {
    fn log(&mut self, level: LogLevel, message: String) {
        let plugin = &*self.plugin;
        match level {
            LogLevel::Debug => tracing::debug!(plugin, "{message}"),
            LogLevel::Info | LogLevel::Notice => tracing::info!(plugin, "{message}"),
            LogLevel::Warning => tracing::warn!(plugin, "{message}"),
            _ => tracing::error!(plugin, "{message}"),
        }
        self.hooks.emit(PluginEvent::Log { level, message });
    }

    fn progress(&mut self, progress: f64, total: Option<f64>, message: Option<String>) {
        self.hooks.emit(PluginEvent::Progress {
            progress,
            total,
            message,
        });
    }

    fn cancelled(&mut self) -> bool {
        self.hooks.cancelled.load(Ordering::Relaxed)
    }

    fn list_changed(&mut self, kind: ListKind) {
        // No receiver means nobody is listening yet: nothing to notify.
        let _ = self.signals.send(HostSignal::ListChanged {
            plugin: self.plugin.clone(),
            kind,
        });
    }

    fn resource_updated(&mut self, uri: String) {
        let _ = self.signals.send(HostSignal::ResourceUpdated { uri });
    }
}
