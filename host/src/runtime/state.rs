//! The data a plugin's store holds, and the `host` imports it serves.
//!
//! WASI is present but holds only what the operator granted: preopened
//! directories and environment variables from the sidecar, nothing else. No
//! arguments, no network; stdin is closed and stdout/stderr go to the log.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{FsPerms, ResourceTable, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::berth::plugin::host::Host;
use super::bindings::types::{ListKind, LogLevel};
use super::call::{CallHooks, PluginEvent};
use super::http_grant::HttpGrant;
use super::kv::KvStore;
use super::output::{LogStream, Stream};
use super::settings::PluginSettings;
use super::signal::HostSignal;

/// Everything a store holds while a plugin instance lives.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    stdout: LogStream,
    stderr: LogStream,
    pub(crate) limits: StoreLimits,
    pub(crate) plugin: Arc<str>,
    pub(crate) settings: Arc<PluginSettings>,
    pub(crate) deadline: Instant,
    /// When the current call started (long calls take turns, see `call`).
    pub(crate) started: Instant,
    /// The long-call slot this call holds between two epoch ticks, if any.
    pub(crate) long_slot: Arc<std::sync::Mutex<Option<tokio::sync::OwnedSemaphorePermit>>>,
    pub(crate) hooks: CallHooks,
    pub(crate) kv: KvStore,
    signals: tokio::sync::broadcast::Sender<HostSignal>,
    http_ctx: wasmtime_wasi_http::WasiHttpCtx,
    http_grant: HttpGrant,
}

impl CallState {
    /// Fresh state for an instance of `plugin`.
    pub fn new(
        plugin: Arc<str>,
        settings: Arc<PluginSettings>,
        hooks: CallHooks,
        signals: tokio::sync::broadcast::Sender<HostSignal>,
        kv: KvStore,
    ) -> Self {
        let stdout = LogStream::new(plugin.clone(), Stream::Stdout, settings.max_log_bytes);
        let stderr = LogStream::new(plugin.clone(), Stream::Stderr, settings.max_log_bytes);
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(stdout.clone()).stderr(stderr.clone());
        for (name, value) in &settings.env {
            wasi.env(name, value);
        }
        for dir in &settings.dirs {
            let perms = if dir.writable { FsPerms::ReadWrite } else { FsPerms::ReadOnly };
            if let Err(e) = wasi.preopened_dir(&dir.host, &dir.guest, perms) {
                tracing::warn!(plugin = %plugin, dir = %dir.host.display(), "cannot open granted directory: {e:#}");
            }
        }
        let limits = StoreLimitsBuilder::new()
            .memory_size(settings.memory_bytes())
            .instances(64)
            .tables(64)
            .memories(8)
            .trap_on_grow_failure(true)
            .build();
        let http_grant = HttpGrant { plugin: plugin.clone(), allowed: settings.http.clone() };
        Self {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            stdout,
            stderr,
            limits,
            deadline: Instant::now() + settings.deadline,
            started: Instant::now(),
            long_slot: Arc::default(),
            plugin,
            settings,
            http_grant,
            http_ctx: wasmtime_wasi_http::WasiHttpCtx::new(),
            hooks,
            kv,
            signals,
        }
    }

    /// Gives back the long-call slot, if the call holds one (at every tick and when it ends).
    pub(crate) fn release_long_slot(&self) {
        let mut slot = self.long_slot.lock().unwrap_or_else(|p| p.into_inner());
        slot.take();
    }

    /// Readies a warm instance's state for its next call.
    pub fn begin_call(&mut self, hooks: CallHooks) {
        self.hooks = hooks;
        self.started = Instant::now();
        self.deadline = self.started + self.settings.deadline;
        self.stdout.reset_budget(self.settings.max_log_bytes);
        self.stderr.reset_budget(self.settings.max_log_bytes);
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl wasmtime_wasi_http::WasiHttpView for CallState {
    fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        wasmtime_wasi_http::WasiHttpCtxView {
            hooks: &mut self.http_grant,
            table: &mut self.table,
            ctx: &mut self.http_ctx,
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
        self.hooks.emit(PluginEvent::Progress { progress, total, message });
    }

    fn cancelled(&mut self) -> bool {
        self.hooks.cancelled.load(Ordering::Relaxed)
    }

    fn list_changed(&mut self, kind: ListKind) {
        // No receiver means nobody is listening yet: nothing to notify.
        let _ = self.signals.send(HostSignal::ListChanged { plugin: self.plugin.clone(), kind });
    }

    fn resource_updated(&mut self, uri: String) {
        let _ = self.signals.send(HostSignal::ResourceUpdated { uri });
    }
}
