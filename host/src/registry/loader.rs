//! Loading every plugin of a folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::runtime::{Plugin, Runtime};

/// Loads every `*.wasm` directly inside `dir`, in file-name order.
///
/// The first plugin that fails to load stops the whole load with an error
/// naming its file: a server that silently serves half its plugins is worse
/// than one that does not start.
pub async fn load_dir(runtime: &Runtime, dir: &Path) -> Result<Vec<Arc<Plugin>>> {
    let mut plugins = Vec::new();
    for path in wasm_files(dir)? {
        let started = std::time::Instant::now();
        let plugin = Plugin::load(runtime, &path).await?;
        tracing::info!(
            plugin = %plugin.name,
            file = %path.display(),
            tools = plugin.catalog.tools.len(),
            resources = plugin.catalog.resources.len() + plugin.catalog.templates.len(),
            prompts = plugin.catalog.prompts.len(),
            cached = plugin.from_cache,
            ms = started.elapsed().as_millis() as u64,
            "loaded plugin"
        );
        plugins.push(plugin);
    }
    Ok(plugins)
}

fn wasm_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        what: format!("cannot read the plugins folder {}", dir.display()),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "wasm"))
        .collect();
    files.sort();
    Ok(files)
}
