//! The registry: which plugin serves each tool, resource and prompt.
//!
//! Lookups read an immutable [`Snapshot`] through an atomic pointer swap, so
//! request handlers never take a lock; a request loads the snapshot once and
//! keeps it to the end, so every check and the call see the same catalog.
//! Only one task writes: [`reconcile`] receives both the plugins folder's
//! changes (from [`watch`]) and the plugins' own announcements, and swaps
//! in a whole new snapshot for each; in-flight calls finish on the plugins
//! they started with.

mod loader;
pub(crate) mod reconcile;
pub(crate) mod sidecar;
mod snapshot;
mod template;
pub(crate) mod watch;

use std::sync::Arc;

use arc_swap::ArcSwap;

pub(crate) use snapshot::Snapshot;

/// The live registry: an atomically swappable [`Snapshot`].
pub(crate) struct Registry {
    current: ArcSwap<Snapshot>,
}

impl Registry {
    /// A registry serving `snapshot`.
    pub(crate) fn new(snapshot: Snapshot) -> Self {
        Self { current: ArcSwap::from_pointee(snapshot) }
    }

    /// The current snapshot; holding it keeps its plugins alive.
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Replaces what is served; in-flight requests keep their old snapshot.
    /// Private to the registry: the reconcile task is the only writer.
    fn replace(&self, snapshot: Snapshot) {
        self.current.store(Arc::new(snapshot));
    }
}
