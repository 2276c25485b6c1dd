//! Loading the plugins of a folder, at start and on change, and telling which files changed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::sidecar;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::runtime::{Plugin, Runtime};

/// Loads every `*.wasm` directly inside `config.plugins.dir`, in file-name order.
///
/// The first plugin that fails to load stops the whole load with an error
/// naming its file: a server that silently serves half its plugins is worse
/// than one that does not start.
pub(crate) async fn load_dir(runtime: &Runtime, config: &Config) -> Result<Vec<Arc<Plugin>>> {
    let mut plugins = Vec::new();
    for path in wasm_files(&config.plugins.dir)? {
        plugins.push(load_one(runtime, config, &path).await?);
    }
    Ok(plugins)
}

/// Loads one plugin file with its sidecar settings.
pub(crate) async fn load_one(runtime: &Runtime, config: &Config, path: &Path) -> Result<Arc<Plugin>> {
    let started = std::time::Instant::now();
    let settings = sidecar::settings_for(path, config)?;
    let plugin = Plugin::load(runtime, path, settings).await?;
    tracing::info!(
        plugin = %plugin.name,
        file = %path.display(),
        tools = plugin.catalog.tools.len(),
        resources = plugin.catalog.resources.len() + plugin.catalog.templates.len(),
        prompts = plugin.catalog.prompts.len(),
        isolation = ?plugin.settings().isolation,
        cached = plugin.from_cache,
        ms = started.elapsed().as_millis() as u64,
        "loaded plugin"
    );
    Ok(plugin)
}

/// The `*.wasm` files directly inside `dir`, sorted.
pub(crate) fn wasm_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|source| Error::Io { what: format!("cannot read the plugins folder {}", dir.display()), source })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "wasm"))
        .collect();
    files.sort();
    Ok(files)
}

/// What identifies one version of a plugin on disk: its file's and sidecar's
/// modification times and sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stamp(Option<(SystemTime, u64)>, Option<(SystemTime, u64)>);

impl Stamp {
    /// The current stamp of `wasm` and its sidecar.
    pub(crate) fn of(wasm: &Path) -> Self {
        let meta = |p: &Path| std::fs::metadata(p).ok().and_then(|m| Some((m.modified().ok()?, m.len())));
        Stamp(meta(wasm), meta(&sidecar::path_for(wasm)))
    }
}

/// The stamps of every plugin file in `dir`.
pub(crate) fn stamps(dir: &Path) -> HashMap<PathBuf, Stamp> {
    wasm_files(dir).unwrap_or_default().into_iter().map(|p| (p.clone(), Stamp::of(&p))).collect()
}
