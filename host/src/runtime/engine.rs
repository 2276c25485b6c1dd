//! The shared wasmtime engine, tuned for many short calls, and its epoch ticker.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::host::{Announcer, CallState, KeyValueStore, Shared, link};
use crate::config::{Config, PoolConfig};
use crate::error::{Error, Result};

/// How often the epoch advances; the granularity of deadlines and yields.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The engine, the linker with berth's host imports, and what every store shares.
///
/// Cheap to clone; every plugin shares one engine so compiled code, the
/// instance pool and the epoch ticker are shared too.
#[derive(Clone)]
pub(crate) struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Arc<Linker<CallState>>,
    pub(crate) cache_dir: Option<PathBuf>,
    pub(crate) shared: Shared,
    /// Whether plugins are compiled with fuel metering.
    pub(crate) fuel: bool,
    /// Slots long calls take turns on: half the cores (at least one), so
    /// CPU-bound plugins cannot take every worker from short calls.
    pub(crate) long_calls: Arc<tokio::sync::Semaphore>,
}

impl Runtime {
    /// Builds the engine from `config` and starts its epoch ticker; what
    /// plugins announce goes to `announcer`, what they keep goes to `kv`.
    ///
    /// `cache_dir` of `None` turns the compiled-artifact cache off.
    pub(crate) fn new(
        config: &Config,
        cache_dir: Option<PathBuf>,
        announcer: Announcer,
        kv: Arc<dyn KeyValueStore>,
    ) -> Result<Self> {
        let engine = build_engine(&config.pool).map_err(|e| Error::Engine(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        link(&mut linker).map_err(|e| Error::Engine(format!("{e:#}")))?;
        start_epoch_ticker(&engine);
        Ok(Self {
            engine,
            linker: Arc::new(linker),
            cache_dir,
            shared: Shared { kv, announcer },
            fuel: config.pool.fuel,
            long_calls: Arc::new(tokio::sync::Semaphore::new(long_call_slots())),
        })
    }
}

/// Half the available cores, at least one.
fn long_call_slots() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// The engine berth runs plugins on, sized by `pool`.
///
/// Public so the bare-wasmtime baseline bench builds the very same engine.
pub fn build_engine(pool: &PoolConfig) -> wasmtime::Result<Engine> {
    let instances = pool.instances;
    let mut allocator = PoolingAllocationConfig::new();
    allocator
        .total_component_instances(instances)
        // Toolchain components hold several core modules (shims, adapters).
        .total_core_instances(instances.saturating_mul(8))
        .max_core_instances_per_component(32)
        .total_memories(instances.saturating_mul(2))
        .max_memories_per_component(4)
        .total_tables(instances.saturating_mul(4))
        .max_tables_per_component(16)
        .total_stacks(instances)
        .max_memory_size(usize::try_from(pool.max_memory_mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX))
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
        .consume_fuel(pool.fuel)
        .memory_init_cow(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(allocator));
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
