//! The plugins folder watcher: notices that something in the folder changed.
//!
//! A new, changed or removed `.wasm` (or sidecar) is noticed through
//! `notify` and debounced (editors and `cp` write a file in several steps);
//! then one [`FolderChanged`] goes to the registry's writer, which works out
//! what changed. The watcher knows nothing else of the server.

use std::path::Path;
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::error::{Error, Result};

/// How long the folder must be quiet before a change is reported.
const SETTLE: Duration = Duration::from_millis(250);

/// Something in the plugins folder changed and has settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FolderChanged;

/// A running watch; dropping it stops watching.
pub(crate) struct FolderWatch {
    _watcher: RecommendedWatcher,
}

/// Starts watching `dir`; settled changes are sent to `changes` until the
/// returned [`FolderWatch`] is dropped or the receiver is gone.
pub(crate) fn start(dir: &Path, changes: mpsc::Sender<FolderChanged>) -> Result<FolderWatch> {
    let (raw, mut events) = mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            let _ = raw.send(());
        }
    })
    .map_err(|e| Error::Io { what: "cannot watch the plugins folder".into(), source: std::io::Error::other(e) })?;
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .map_err(|e| Error::Io { what: format!("cannot watch {}", dir.display()), source: std::io::Error::other(e) })?;
    tokio::spawn(async move {
        while events.recv().await.is_some() {
            // Let a burst of writes settle before reporting it.
            loop {
                match tokio::time::timeout(SETTLE, events.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            // One pending change is enough: the writer compares the whole folder.
            if let Err(mpsc::error::TrySendError::Closed(_)) = changes.try_send(FolderChanged) {
                return;
            }
        }
    });
    Ok(FolderWatch { _watcher: watcher })
}
