//! Shared set-up for berth's benchmarks: an exchange over the bundled plugins.
//!
//! Run `make plugins` first; the benches load `plugins/*.wasm` from the
//! repository like `berth serve` does.

/// The allocator the `berth` binary uses (mimalloc), so in-process figures match it; it
/// counts allocations only while [`allocations::count`] measures (one relaxed load otherwise).
#[global_allocator]
static ALLOCATOR: allocations::Counting = allocations::Counting;

pub mod allocations;
pub mod baseline;
pub mod charts;
pub mod load;

use std::path::PathBuf;
use std::sync::Arc;

use berth::Exchange;
use berth::config::Config;

/// berth's default pool shrunk to what valgrind can map (4 instances of at most 64 MiB; the
/// default reserves more address space than it can): the pool the counting tools run with.
pub fn small_pool() -> berth::config::PoolConfig {
    let mut pool = Config::default().pool;
    (pool.instances, pool.max_memory_mib) = (4, 64);
    pool
}

/// The repository's `plugins/` folder.
pub fn plugins_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins")
}

/// An exchange over the bundled plugins, built like `berth serve` builds it.
pub async fn bundled_exchange() -> Arc<Exchange> {
    let mut config = Config::default();
    config.plugins.dir = plugins_dir();
    exchange_for(&config).await
}

/// An exchange over one bundled plugin alone (`echo`, `textkit`), with
/// `sidecar` as its sidecar file (e.g. `isolation = "reuse"`; empty for none).
///
/// The returned folder holds the plugin (and its sidecar) for as long as it lives.
pub async fn plugin_exchange(plugin: &str, sidecar: &str) -> (Arc<Exchange>, tempfile::TempDir) {
    plugin_exchange_configured(plugin, sidecar, "").await
}

/// [`plugin_exchange`] under the settings of `config_toml` (a `berth.toml`'s text).
pub async fn plugin_exchange_configured(
    plugin: &str,
    sidecar: &str,
    config_toml: &str,
) -> (Arc<Exchange>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = format!("{plugin}.wasm");
    std::fs::copy(plugins_dir().join(&file), dir.path().join(&file))
        .unwrap_or_else(|e| panic!("plugins/{file} is missing ({e}): run `make plugins`"));
    if !sidecar.is_empty() {
        std::fs::write(dir.path().join(format!("{plugin}.toml")), sidecar).expect("sidecar");
    }
    let config_file = dir.path().join("berth.toml");
    std::fs::write(&config_file, config_toml).expect("config");
    let mut config = Config::from_file(&config_file).unwrap_or_else(|e| panic!("bench config: {e}"));
    config.plugins.dir = dir.path().to_owned();
    (exchange_for(&config).await, dir)
}

async fn exchange_for(config: &Config) -> Arc<Exchange> {
    match berth::server::build(config, true, false).await {
        Ok(exchange) => exchange,
        Err(e) => panic!("cannot load the plugins (run `make plugins`): {e}"),
    }
}
