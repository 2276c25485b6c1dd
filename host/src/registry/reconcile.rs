//! The registry's single writer: one task that owns every change to what is served.
//!
//! Two things change the catalog: files in the plugins folder (reported by
//! [`watch`](super::watch)) and plugins announcing that their own lists
//! changed. Both arrive here and are applied one at a time, each building a
//! new [`Snapshot`] from the one it replaces, so no change can overwrite
//! another. After each swap clients hear `list_changed` through the
//! [`NoticeBus`]; resource updates a plugin announces go out the same way.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::loader::{Stamp, load_dir, load_one, stamps};
use super::watch::{self, FolderChanged, FolderWatch};
use super::{Registry, Snapshot};
use crate::config::Config;
use crate::error::Result;
use crate::notices::NoticeBus;
use crate::protocol::notice::{ListKind, Notice};
use crate::runtime::{Announcement, Plugin, Runtime};

/// Loads every plugin in `config.plugins.dir` (see [`load_dir`]), then starts the
/// writer that keeps the registry in line with the folder (when `watch`) and
/// with what plugins announce.
pub(crate) async fn start(
    runtime: Runtime,
    announcements: mpsc::Receiver<Announcement>,
    config: &Config,
    notices: NoticeBus,
    watch: bool,
) -> Result<Arc<Registry>> {
    // Watch before reading the folder, so a change made while loading is not missed.
    let (folder_changes, folder) = mpsc::channel(1);
    let watching = if watch { Some(watch::start(&config.plugins.dir, folder_changes)?) } else { None };
    let known = stamps(&config.plugins.dir);
    let plugins = load_dir(&runtime, config).await?;
    let registry = Arc::new(Registry::new(Snapshot::build(plugins)?));
    let writer = Writer { registry: registry.clone(), runtime, config: config.clone(), notices, known };
    tokio::spawn(writer.run(folder, announcements, watching));
    Ok(registry)
}

/// The state of the writer task.
struct Writer {
    registry: Arc<Registry>,
    runtime: Runtime,
    config: Config,
    notices: NoticeBus,
    /// The stamp of each plugin file as last loaded (or refused).
    known: HashMap<PathBuf, Stamp>,
}

impl Writer {
    async fn run(
        mut self,
        mut folder: mpsc::Receiver<FolderChanged>,
        mut announcements: mpsc::Receiver<Announcement>,
        _watching: Option<FolderWatch>,
    ) {
        loop {
            tokio::select! {
                Some(FolderChanged) = folder.recv() => self.reload_folder().await,
                Some(announcement) = announcements.recv() => self.apply(announcement).await,
                else => return,
            }
        }
    }

    /// Acts on a plugin's announcement.
    async fn apply(&mut self, announcement: Announcement) {
        match announcement {
            Announcement::ListChanged { plugin, kind } => {
                if let Err(e) = self.recatalog(&plugin).await {
                    tracing::error!(plugin = %plugin, "keeping the old catalog: {e}");
                }
                self.notices.publish(Notice::ListChanged(kind));
            }
            Announcement::ResourceUpdated { uri } => self.notices.publish(Notice::ResourceUpdated(uri)),
        }
    }

    /// Reads plugin `name`'s catalog again and serves the result.
    async fn recatalog(&self, name: &str) -> Result<()> {
        let current = self.registry.snapshot();
        let mut plugins: Vec<Arc<Plugin>> = current.plugins().to_vec();
        let Some(slot) = plugins.iter_mut().find(|p| &*p.name == name) else {
            // Removed or replaced since it announced: the folder's version serves.
            return Ok(());
        };
        *slot = slot.recatalog().await?;
        self.registry.replace(Snapshot::build(plugins)?);
        Ok(())
    }

    /// Brings the registry in line with the folder.
    async fn reload_folder(&mut self) {
        let current = self.registry.snapshot();
        let now = stamps(&self.config.plugins.dir);
        let mut paths: Vec<&PathBuf> = now.keys().collect();
        paths.sort();
        let mut plugins: Vec<Arc<Plugin>> = Vec::new();
        let mut changed = false;
        for path in paths {
            let existing = current.plugins().iter().find(|p| &p.path == path).cloned();
            let stamp = &now[path];
            // Unchanged since last time: keep what serves (or keep refusing a broken file).
            if self.known.get(path) == Some(stamp) {
                plugins.extend(existing);
                continue;
            }
            self.known.insert(path.clone(), stamp.clone());
            match load_one(&self.runtime, &self.config, path).await {
                Ok(plugin) => {
                    let verb = if existing.is_some() { "replaced" } else { "added" };
                    tracing::info!(plugin = %plugin.name, "hot reload: {verb} {}", path.display());
                    plugins.push(plugin);
                    changed = true;
                }
                Err(e) => {
                    let keeps = if existing.is_some() { "; the previous version keeps serving" } else { "" };
                    tracing::error!("hot reload: refusing {}: {e}{keeps}", path.display());
                    plugins.extend(existing);
                }
            }
        }
        for gone in current.plugins().iter().filter(|p| !now.contains_key(&p.path)) {
            tracing::info!(plugin = %gone.name, "hot reload: removed {}", gone.path.display());
            self.known.remove(&gone.path);
            changed = true;
        }
        if !changed {
            return;
        }
        match Snapshot::build(plugins) {
            Ok(snapshot) => {
                self.registry.replace(snapshot);
                for kind in ListKind::ALL {
                    self.notices.publish(Notice::ListChanged(kind));
                }
            }
            Err(e) => tracing::error!("hot reload: refusing the change, the current plugins keep serving: {e}"),
        }
    }
}
