//! Shared set-up for berth's benchmarks: a router over the bundled plugins.
//!
//! Run `make plugins` first; the benches load `plugins/*.wasm` from the
//! repository like `berth serve` does.

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
    match berth::server::build_router(&config, true, false).await {
        Ok(router) => router,
        Err(e) => panic!("cannot load the bundled plugins (run `make plugins`): {e}"),
    }
}
