//! WASI 0.2 for a plugin: present, but holding only what the operator granted.
//!
//! Preopened directories and environment variables come from the sidecar;
//! there are no arguments and no sockets, stdin is closed, and stdout/stderr
//! go to the log. (Outbound HTTP is `wasi:http`, see `http`.)

use std::sync::Arc;

use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

use super::stdio::{LogStream, Stream};
use crate::runtime::settings::PluginSettings;

/// A plugin's WASI context, made when the plugin first uses WASI, and the log
/// streams behind its stdout and stderr.
///
/// Most calls of a small tool never touch WASI, and building a context (its
/// random generators seeded, clocks, boxed streams, the granted directories
/// opened) is a few thousand instructions of every fresh instance otherwise.
pub(crate) struct Wasi {
    ctx: Option<WasiCtx>,
    stdout: LogStream,
    stderr: LogStream,
}

impl Wasi {
    /// The log streams of `plugin`, each with `settings`' budget; the context waits for [`Wasi::ctx`].
    pub(crate) fn new(plugin: &Arc<str>, settings: &PluginSettings) -> Self {
        Self {
            ctx: None,
            stdout: LogStream::new(plugin.clone(), Stream::Stdout, settings.max_log_bytes),
            stderr: LogStream::new(plugin.clone(), Stream::Stderr, settings.max_log_bytes),
        }
    }

    /// The WASI context `settings` grant `plugin`, made on first use.
    pub(crate) fn ctx(&mut self, plugin: &Arc<str>, settings: &PluginSettings) -> &mut WasiCtx {
        let (stdout, stderr) = (&self.stdout, &self.stderr);
        self.ctx.get_or_insert_with(|| build(plugin, settings, stdout, stderr))
    }

    /// Starts a new call's output budget (reuse isolation).
    pub(crate) fn reset_budget(&self, budget: usize) {
        self.stdout.reset_budget(budget);
        self.stderr.reset_budget(budget);
    }
}

/// A WASI context with only what `settings` grant, its output going to `stdout` and `stderr`.
fn build(plugin: &Arc<str>, settings: &PluginSettings, stdout: &LogStream, stderr: &LogStream) -> WasiCtx {
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
    wasi.build()
}
