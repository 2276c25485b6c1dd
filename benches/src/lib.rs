//! Shared set-up for berth's benchmarks: a router over the bundled plugins.
//!
//! Run `make plugins` first; the benches load `plugins/*.wasm` from the
//! repository like `berth serve` does.

/// The allocator the `berth` binary uses, so in-process figures match it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod baseline;
pub mod load;

use std::path::PathBuf;
use std::sync::Arc;

use berth::config::Config;
use berth::router::Router;

/// The repository's `plugins/` folder.
pub fn plugins_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins")
}

/// A router over the bundled plugins, built like `berth serve` builds it.
pub async fn bundled_router() -> Arc<Router> {
    let mut config = Config::default();
    config.plugins = plugins_dir();
    router_for(&config).await
}

/// A router over one bundled plugin alone (`echo`, `textkit`), in `reuse`
/// isolation when asked.
///
/// The returned folder holds the plugin (and its sidecar) for as long as it lives.
pub async fn plugin_router(plugin: &str, reuse: bool) -> (Arc<Router>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = format!("{plugin}.wasm");
    std::fs::copy(plugins_dir().join(&file), dir.path().join(&file))
        .unwrap_or_else(|e| panic!("plugins/{file} is missing ({e}): run `make plugins`"));
    if reuse {
        std::fs::write(dir.path().join(format!("{plugin}.toml")), "isolation = \"reuse\"\n").expect("sidecar");
    }
    let mut config = Config::default();
    config.plugins = dir.path().to_owned();
    (router_for(&config).await, dir)
}

/// A router over the bundled `echo` plugin alone, in `reuse` isolation when asked.
pub async fn echo_router(reuse: bool) -> (Arc<Router>, tempfile::TempDir) {
    plugin_router("echo", reuse).await
}

async fn router_for(config: &Config) -> Arc<Router> {
    match berth::server::build_router(config, true, false).await {
        Ok(router) => router,
        Err(e) => panic!("cannot load the plugins (run `make plugins`): {e}"),
    }
}
