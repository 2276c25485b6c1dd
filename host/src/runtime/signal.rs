//! Announcements plugins make through the `host` interface, for the server to act on.

use std::sync::Arc;

use super::bindings::types::ListKind;

/// Something a plugin announced during a call.
#[derive(Debug, Clone)]
pub enum HostSignal {
    /// The plugin's list of `kind` changed: re-read its catalog, notify clients.
    ListChanged { plugin: Arc<str>, kind: ListKind },
    /// The resource at `uri` changed: notify clients subscribed to it.
    ResourceUpdated { uri: String },
}
