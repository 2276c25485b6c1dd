//! The shared wasmtime engine, tuned for many short calls, and its epoch ticker.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::signal::HostSignal;
use super::state::CallState;
use crate::config::Config;
use crate::error::{Error, Result};

/// How often the epoch advances; the granularity of deadlines and yields.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);
/// A call running longer than this is a long call: it needs a long-call slot
/// for each further tick (see `Runtime::long_calls`).
pub(crate) const LONG_CALL: Duration = Duration::from_millis(20);

/// The engine, the linker with berth's host imports, and the sandbox limits.
///
/// Cheap to clone; every plugin shares one engine so compiled code, the
/// instance pool and the epoch ticker are shared too.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Arc<Linker<CallState>>,
    pub(crate) cache_dir: Option<PathBuf>,
    pub(crate) kv: super::kv::KvStore,
    /// Whether plugins are compiled with fuel metering.
    pub(crate) fuel: bool,
    pub(crate) signals: tokio::sync::broadcast::Sender<HostSignal>,
    /// Slots long calls take turns on: half the cores (at least one), so
    /// CPU-bound plugins cannot take every worker from short calls.
    pub(crate) long_calls: Arc<tokio::sync::Semaphore>,
}

impl Runtime {
    /// Builds the engine from `config` and starts its epoch ticker.
    ///
    /// `cache_dir` of `None` turns the compiled-artifact cache off.
    pub fn new(config: &Config, cache_dir: Option<PathBuf>) -> Result<Self> {
        let engine = build_engine(config).map_err(|e| Error::Engine(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        // Components built by language toolchains may import WASI even when
        // they never use it; every capability stays denied by `CallState`.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| Error::Engine(format!("linking WASI: {e:#}")))?;
        super::bindings::berth::plugin::host::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut linker,
            |state| state,
        )
        .map_err(|e| Error::Engine(format!("linking the berth host interface: {e:#}")))?;
        super::bindings::berth::plugin::kv::add_to_linker::<_, wasmtime::component::HasSelf<_>>(&mut linker, |state| {
            state
        })
        .map_err(|e| Error::Engine(format!("linking the berth kv interface: {e:#}")))?;
        // Outbound HTTP is linked for every plugin and denied unless granted (see `http_grant`).
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(|e| Error::Engine(format!("linking wasi:http: {e:#}")))?;
        start_epoch_ticker(&engine);
        let (signals, _) = tokio::sync::broadcast::channel(256);
        Ok(Self {
            engine,
            linker: Arc::new(linker),
            cache_dir,
            kv: super::kv::KvStore::default(),
            fuel: config.pool.fuel,
            signals,
            long_calls: Arc::new(tokio::sync::Semaphore::new(long_call_slots())),
        })
    }

    /// What plugins announce through `host.list-changed` and `host.resource-updated`.
    pub fn signals(&self) -> tokio::sync::broadcast::Receiver<HostSignal> {
        self.signals.subscribe()
    }
}

/// Half the available cores, at least one.
fn long_call_slots() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

fn build_engine(config: &Config) -> wasmtime::Result<Engine> {
    let instances = config.pool.instances;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        // Toolchain components hold several core modules (shims, adapters).
        .total_core_instances(instances.saturating_mul(8))
        .max_core_instances_per_component(32)
        .total_memories(instances.saturating_mul(2))
        .max_memories_per_component(4)
        .total_tables(instances.saturating_mul(4))
        .max_tables_per_component(16)
        .total_stacks(instances)
        .max_memory_size(usize::try_from(config.pool.max_memory_mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX))
        // Resetting a slot by rewriting its resident pages is cheaper than
        // unmapping and faulting them back in on the next call.
        .linear_memory_keep_resident(2 * 1024 * 1024)
        .table_keep_resident(64 * 1024)
        .pagemap_scan(Enabled::Auto);

    let mut cfg = wasmtime::Config::new();
    cfg.wasm_component_model(true)
        .epoch_interruption(true)
        // berth hosts WASI 0.2 components: component-model async is not
        // needed, and leaving it off makes each store cheaper to set up.
        .concurrency_support(false)
        .consume_fuel(config.pool.fuel)
        .memory_init_cow(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&cfg)
}

/// Advances the engine's epoch every tick until the engine is dropped.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new().name("berth-epoch".into()).spawn(move || {
        while let Some(engine) = weak.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(EPOCH_TICK);
        }
    });
    if let Err(e) = spawned {
        tracing::error!("cannot start the epoch ticker, deadlines will not fire: {e}");
    }
}
