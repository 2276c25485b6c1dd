//! Hot reload: watching the plugins folder and swapping in what changed.
//!
//! A new, changed or removed `.wasm` (or sidecar) is noticed through `notify`,
//! debounced, and compiled off the request path. The new registry snapshot is
//! swapped in atomically: calls already running finish on the version they
//! started with. A new version that fails to load is refused with a log line
//! and the old one keeps serving; so is a change that would make two plugins
//! offer the same name. Clients hear `list_changed` after every swap.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::Snapshot;
use super::loader::{Stamp, load_one, stamps};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::notices::Notice;
use crate::router::Router;
use crate::runtime::bindings::types::ListKind;
use crate::runtime::{Plugin, Runtime};

/// How long the folder must be quiet before changes are applied (editors and
/// `cp` write a file in several steps).
const SETTLE: Duration = Duration::from_millis(250);

/// Starts watching `config.plugins`; runs until the process ends.
pub fn spawn(runtime: Runtime, config: Config, router: Arc<Router>) -> Result<()> {
    let (sender, mut changes) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            let _ = sender.send(());
        }
    })
    .map_err(|e| Error::Io { what: "cannot watch the plugins folder".into(), source: std::io::Error::other(e) })?;
    watcher.watch(&config.plugins, RecursiveMode::NonRecursive).map_err(|e| Error::Io {
        what: format!("cannot watch {}", config.plugins.display()),
        source: std::io::Error::other(e),
    })?;
    let mut known = stamps(&config.plugins);
    tokio::spawn(async move {
        let _watcher = watcher;
        while changes.recv().await.is_some() {
            // Let a burst of writes settle before reading the files.
            loop {
                match tokio::time::timeout(SETTLE, changes.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            reconcile(&runtime, &config, &router, &mut known).await;
        }
    });
    Ok(())
}

/// Brings the registry in line with the folder.
async fn reconcile(runtime: &Runtime, config: &Config, router: &Router, known: &mut HashMap<PathBuf, Stamp>) {
    let current = router.registry().snapshot();
    let now = stamps(&config.plugins);
    let mut paths: Vec<&PathBuf> = now.keys().collect();
    paths.sort();
    let mut plugins: Vec<Arc<Plugin>> = Vec::new();
    let mut changed = false;
    for path in paths {
        let existing = current.plugins().iter().find(|p| &p.path == path).cloned();
        let stamp = &now[path];
        // Unchanged since last time: keep what serves (or keep refusing a broken file).
        if known.get(path) == Some(stamp) {
            plugins.extend(existing);
            continue;
        }
        known.insert(path.clone(), stamp.clone());
        match load_one(runtime, config, path).await {
            Ok(plugin) => {
                tracing::info!(plugin = %plugin.name, "hot reload: {} {}", if existing.is_some() { "replaced" } else { "added" }, path.display());
                plugins.push(plugin);
                changed = true;
            }
            Err(e) => {
                tracing::error!(
                    "hot reload: refusing {}: {e}{}",
                    path.display(),
                    if existing.is_some() { "; the previous version keeps serving" } else { "" }
                );
                plugins.extend(existing);
            }
        }
    }
    for gone in current.plugins().iter().filter(|p| !now.contains_key(&p.path)) {
        tracing::info!(plugin = %gone.name, "hot reload: removed {}", gone.path.display());
        known.remove(&gone.path);
        changed = true;
    }
    if !changed {
        return;
    }
    match Snapshot::build(plugins) {
        Ok(snapshot) => {
            router.registry().replace(snapshot);
            for kind in [ListKind::Tools, ListKind::Resources, ListKind::Prompts] {
                router.publish(Notice::ListChanged(kind));
            }
        }
        Err(e) => tracing::error!("hot reload: refusing the change, the current plugins keep serving: {e}"),
    }
}
