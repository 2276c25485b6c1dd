//! The bare-wasmtime baseline: the same `echo` component called straight
//! through wasmtime, with no berth code, so berth's dispatch overhead can be
//! stated as a ratio measured in one run.
//!
//! The engine is berth's own, built by the same function with the default
//! pool settings (`::berth::build_engine`), so the two cannot drift;
//! the host imports are minimal stubs and WASI gets an empty context, made
//! only if the component uses WASI (`echo` does not), which is the least any
//! host must provide to this component.

use wasmtime::component::{Component, HasSelf, InstancePre, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

wasmtime::component::bindgen!({
    path: "../wit",
    world: "tools-plugin",
    exports: { default: async },
});

use self::berth::plugin::types::{CallContext, CallOutcome, Content, ListKind, LogLevel};

/// The store data of one baseline call: an empty WASI context, made when the
/// component first uses WASI (as berth makes its own), and nothing else.
pub struct Bare {
    wasi: Option<WasiCtx>,
    table: ResourceTable,
}

impl WasiView for Bare {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let ctx = self.wasi.get_or_insert_with(|| WasiCtx::builder().build());
        WasiCtxView { ctx, table: &mut self.table }
    }
}

impl berth::plugin::types::Host for Bare {}

impl berth::plugin::host::Host for Bare {
    fn log(&mut self, _level: LogLevel, _message: String) {}
    fn progress(&mut self, _progress: f64, _total: Option<f64>, _message: Option<String>) {}
    fn cancelled(&mut self) -> bool {
        false
    }
    fn list_changed(&mut self, _kind: ListKind) {}
    fn resource_updated(&mut self, _uri: String) {}
}

impl berth::plugin::kv::Host for Bare {
    fn get(&mut self, _key: String) -> Result<Option<Vec<u8>>, berth::plugin::kv::KvError> {
        Err(berth::plugin::kv::KvError::Denied("no kv in the baseline".into()))
    }
    fn set(&mut self, _key: String, _value: Vec<u8>) -> Result<(), berth::plugin::kv::KvError> {
        Err(berth::plugin::kv::KvError::Denied("no kv in the baseline".into()))
    }
    fn delete(&mut self, _key: String) -> Result<(), berth::plugin::kv::KvError> {
        Err(berth::plugin::kv::KvError::Denied("no kv in the baseline".into()))
    }
    fn keys(&mut self) -> Result<Vec<String>, berth::plugin::kv::KvError> {
        Err(berth::plugin::kv::KvError::Denied("no kv in the baseline".into()))
    }
}

/// A compiled component ready to instantiate, on a berth-like engine.
pub struct Baseline {
    engine: Engine,
    pre: ToolsPluginPre<Bare>,
}

/// A warm instance kept across calls.
pub struct Warm {
    store: Store<Bare>,
    plugin: ToolsPlugin,
}

impl Baseline {
    /// Compiles `wasm` on berth's engine with its default pool.
    pub fn new(wasm: &[u8]) -> wasmtime::Result<Self> {
        // `::berth` is the crate; plain `berth` is the WIT package bindgen generated above.
        Self::with_pool(wasm, &::berth::config::Config::default().pool)
    }

    /// Compiles `wasm` on berth's engine with `pool` (a small one fits under valgrind).
    pub fn with_pool(wasm: &[u8], pool: &::berth::config::PoolConfig) -> wasmtime::Result<Self> {
        let engine = ::berth::build_engine(pool)?;
        let component = Component::new(&engine, wasm)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        berth::plugin::host::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)?;
        berth::plugin::kv::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)?;
        let pre: InstancePre<Bare> = linker.instantiate_pre(&component)?;
        Ok(Self { pre: ToolsPluginPre::new(pre)?, engine })
    }

    fn store(&self) -> Store<Bare> {
        let mut store = Store::new(&self.engine, Bare { wasi: None, table: ResourceTable::new() });
        store.set_epoch_deadline(u64::MAX / 2);
        store
    }

    /// A fresh pooled instance and one `call-tool`, as berth's `fresh` isolation does.
    pub async fn call_fresh(&self, arguments: &str) -> wasmtime::Result<()> {
        self.call_tool_fresh("echo", arguments).await.map(drop)
    }

    /// A fresh pooled instance and one `call-tool` of `tool` (the plugin's own name for it);
    /// the text it answered.
    pub async fn call_tool_fresh(&self, tool: &str, arguments: &str) -> wasmtime::Result<String> {
        let mut store = self.store();
        let plugin = self.pre.instantiate_async(&mut store).await?;
        call(&mut store, &plugin, tool, arguments).await
    }

    /// A warm instance for repeated calls.
    pub async fn warm(&self) -> wasmtime::Result<Warm> {
        let mut store = self.store();
        let plugin = self.pre.instantiate_async(&mut store).await?;
        Ok(Warm { store, plugin })
    }
}

impl Warm {
    /// One `call-tool` on the warm instance.
    pub async fn call(&mut self, arguments: &str) -> wasmtime::Result<()> {
        self.call_tool("echo", arguments).await.map(drop)
    }

    /// One `call-tool` of `tool` (the plugin's own name for it); the text it answered.
    pub async fn call_tool(&mut self, tool: &str, arguments: &str) -> wasmtime::Result<String> {
        call(&mut self.store, &self.plugin, tool, arguments).await
    }
}

/// One `call-tool` of `tool`; the text of its first text content.
async fn call(store: &mut Store<Bare>, plugin: &ToolsPlugin, tool: &str, arguments: &str) -> wasmtime::Result<String> {
    let ctx = CallContext {
        request_id: "1".into(),
        protocol_version: "2026-07-28".into(),
        client_capabilities: "{}".into(),
        input_responses: None,
        request_state: None,
    };
    let outcome = plugin.berth_plugin_tools().call_call_tool(store, &ctx, tool, &arguments.to_owned()).await?;
    match outcome {
        Ok(CallOutcome::Complete(result)) => Ok(result
            .content
            .into_iter()
            .find_map(|content| match content {
                Content::Text(text) => Some(text),
                _ => None,
            })
            .unwrap_or_default()),
        Ok(CallOutcome::InputRequired(_)) => Err(wasmtime::format_err!("{tool} asked for input")),
        Err(e) => Err(wasmtime::format_err!("{tool} refused the call: {e:?}")),
    }
}
