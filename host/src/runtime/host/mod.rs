//! The host side of a plugin's store: one context per capability, and the
//! store data that holds them.
//!
//! Each capability is one file with its own context type: `notify` (the
//! `host` interface: log, progress, cancellation, announcements), `kv` (the
//! key-value store), `http` (outbound `wasi:http` to granted hosts) and
//! `wasi` (files, environment, stdio). [`CallState`] holds one of each plus
//! the sandbox's [`Bounds`], and [`link`] wires every interface to its
//! context through a projection, so no capability sees another's state.

mod http;
mod kv;
mod notify;
mod stdio;
mod wasi;

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtxView, WasiHttpView};

#[cfg(test)]
pub(crate) use kv::cases as kv_cases;
pub(crate) use kv::{InProcessKv, KeyValueStore};
pub(crate) use notify::{Announcement, Announcer, CallEvent, CallHooks, announcements};

use self::http::HttpCtx;
use self::kv::KvCtx;
use self::notify::NotifyCtx;
use self::wasi::Wasi;
use crate::runtime::bindings::berth::plugin::{host, kv as kv_interface};
use crate::runtime::bindings::tools;
use crate::runtime::bounds::Bounds;
use crate::runtime::settings::PluginSettings;

/// Everything a store holds while a plugin instance lives.
pub(crate) struct CallState {
    /// The sandbox's deadline, long-call slot and memory cap.
    pub(crate) bounds: Bounds,
    notify: NotifyCtx,
    kv: KvCtx,
    http: HttpCtx,
    wasi: Wasi,
    /// WASI and `wasi:http` resources, shared by both as wasmtime requires.
    table: ResourceTable,
    settings: Arc<PluginSettings>,
    /// The instance's `tools` export, typechecked once per instance: a warm
    /// instance serves many calls, and the check is a few thousand
    /// instructions of each small call otherwise.
    pub(crate) tools: Option<tools::Guest>,
}

/// What every store of one runtime shares: the key-value store and where announcements go.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) kv: Arc<dyn KeyValueStore>,
    pub(crate) announcer: Announcer,
}

impl CallState {
    /// Fresh state for an instance of `plugin` serving a call with `hooks`.
    pub(crate) fn new(plugin: Arc<str>, settings: Arc<PluginSettings>, hooks: CallHooks, shared: &Shared) -> Self {
        Self {
            bounds: Bounds::new(hooks.deadline.unwrap_or(settings.deadline), settings.memory_bytes()),
            notify: NotifyCtx { plugin: plugin.clone(), hooks, announcer: shared.announcer.clone() },
            kv: KvCtx { plugin: plugin.clone(), granted: settings.kv, store: shared.kv.clone() },
            http: HttpCtx::new(plugin.clone(), settings.http.clone()),
            wasi: Wasi::new(&plugin, &settings),
            table: ResourceTable::new(),
            settings,
            tools: None,
        }
    }

    /// Readies a warm instance's state for its next call, which starts `now`.
    pub(crate) fn begin_call(&mut self, hooks: CallHooks, now: Instant) {
        self.bounds.restart(hooks.deadline.unwrap_or(self.settings.deadline), now);
        self.notify.hooks = hooks;
        self.wasi.reset_budget(self.settings.max_log_bytes);
    }

    /// The hooks of the call running now.
    pub(crate) fn hooks(&self) -> &CallHooks {
        &self.notify.hooks
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: self.wasi.ctx(&self.notify.plugin, &self.settings), table: &mut self.table }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { hooks: &mut self.http.grant, table: &mut self.table, ctx: &mut self.http.ctx }
    }
}

/// Projects a store onto the `host` interface's context.
struct HasNotify;

impl HasData for HasNotify {
    type Data<'a> = &'a mut NotifyCtx;
}

/// Projects a store onto the `kv` interface's context.
struct HasKv;

impl HasData for HasKv {
    type Data<'a> = &'a mut KvCtx;
}

/// Adds every interface berth provides to `linker`: WASI 0.2, `wasi:http`,
/// `berth:plugin/host` and `berth:plugin/kv`.
///
/// Components built by language toolchains may import WASI and `wasi:http`
/// even when they never use them, so both are always linked; what a call can
/// actually do is what its contexts were granted.
pub(crate) fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker).map_err(|e| e.context("linking WASI"))?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker).map_err(|e| e.context("linking wasi:http"))?;
    host::add_to_linker::<_, HasNotify>(linker, |state| &mut state.notify)
        .map_err(|e| e.context("linking the berth host interface"))?;
    kv_interface::add_to_linker::<_, HasKv>(linker, |state| &mut state.kv)
        .map_err(|e| e.context("linking the berth kv interface"))?;
    Ok(())
}
