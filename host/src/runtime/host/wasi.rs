//! WASI 0.2 for a plugin: present, but holding only what the operator granted.
//!
//! Preopened directories and environment variables come from the sidecar;
//! there are no arguments and no sockets, stdin is closed, and stdout/stderr
//! go to the log. (Outbound HTTP is `wasi:http`, see `http`.)

use std::sync::Arc;

use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

use super::stdio::{LogStream, Stream};
use crate::runtime::settings::PluginSettings;

/// A plugin's WASI context and the log streams behind its stdout and stderr.
pub(crate) struct Wasi {
    pub(crate) ctx: WasiCtx,
    pub(crate) stdout: LogStream,
    pub(crate) stderr: LogStream,
}

impl Wasi {
    /// The WASI context `settings` grant `plugin`.
    pub(crate) fn granted(plugin: &Arc<str>, settings: &PluginSettings) -> Self {
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
        Self { ctx: wasi.build(), stdout, stderr }
    }

    /// Starts a new call's output budget (reuse isolation).
    pub(crate) fn reset_budget(&self, budget: usize) {
        self.stdout.reset_budget(budget);
        self.stderr.reset_budget(budget);
    }
}
