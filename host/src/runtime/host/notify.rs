//! The `host` interface: what a plugin tells the host while it runs.
//!
//! Two audiences: the client of the current call hears the plugin's log lines
//! and progress reports (as [`CallEvent`]s through the call's [`CallHooks`]),
//! and the server hears its [`Announcement`]s (a list changed, a resource was
//! updated) through the [`Announcer`], which the registry's single writer reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::protocol::notice::ListKind;
use crate::runtime::bindings::berth::plugin::host::Host;
use crate::runtime::bindings::types::{ListKind as WitListKind, LogLevel};

/// Something a plugin reported about the call it is running, for that call's client.
#[derive(Debug, Clone)]
pub(crate) enum CallEvent {
    /// A `host.log` line.
    Log { level: LogLevel, message: String },
    /// A `host.progress` report.
    Progress { progress: f64, total: Option<f64>, message: Option<String> },
}

/// What a transport hands to a call: where its events go and how to cancel it.
#[derive(Clone, Default)]
pub(crate) struct CallHooks {
    /// Receives the call's log and progress events, if anyone listens.
    pub(crate) events: Option<Arc<dyn Fn(CallEvent) + Send + Sync>>,
    /// Cancels the call: the plugin sees it through `host.cancelled()`, and
    /// the sandbox stops it at its next epoch tick.
    pub(crate) cancel: CancellationToken,
    /// A deadline other than the plugin's usual one (a call running as a task).
    pub(crate) deadline: Option<std::time::Duration>,
}

impl CallHooks {
    fn emit(&self, event: CallEvent) {
        if let Some(events) = &self.events {
            events(event);
        }
    }
}

/// Something a plugin announced to the whole server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Announcement {
    /// The plugin's list of `kind` changed: its catalog is read again, clients are told.
    ListChanged { plugin: Arc<str>, kind: ListKind },
    /// The resource at `uri` changed: subscribed clients are told.
    ResourceUpdated { uri: String },
}

/// The sending end of the plugins' announcements.
///
/// Bounded: a plugin announcing in a loop faster than the registry can
/// re-read catalogs loses the surplus (with one warning), it never blocks a
/// call or grows memory.
#[derive(Clone)]
pub(crate) struct Announcer {
    sender: mpsc::Sender<Announcement>,
    warned: Arc<AtomicBool>,
}

/// Announcements the registry has not read yet.
const ANNOUNCEMENT_QUEUE: usize = 256;

/// A connected announcer and the receiver the registry's writer reads.
pub(crate) fn announcements() -> (Announcer, mpsc::Receiver<Announcement>) {
    let (sender, receiver) = mpsc::channel(ANNOUNCEMENT_QUEUE);
    (Announcer { sender, warned: Arc::default() }, receiver)
}

impl Announcer {
    /// Passes `announcement` on, or drops it when the queue is full or nobody reads it.
    pub(crate) fn announce(&self, announcement: Announcement) {
        if let Err(mpsc::error::TrySendError::Full(dropped)) = self.sender.try_send(announcement)
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            tracing::warn!("dropping plugin announcements (first: {dropped:?}): the registry is behind");
        }
    }
}

/// The `host` interface's context in one store.
pub(crate) struct NotifyCtx {
    pub(crate) plugin: Arc<str>,
    pub(crate) hooks: CallHooks,
    pub(crate) announcer: Announcer,
}

impl Host for NotifyCtx {
    fn log(&mut self, level: LogLevel, message: String) {
        let plugin = &*self.plugin;
        match level {
            LogLevel::Debug => tracing::debug!(plugin, "{message}"),
            LogLevel::Info | LogLevel::Notice => tracing::info!(plugin, "{message}"),
            LogLevel::Warning => tracing::warn!(plugin, "{message}"),
            _ => tracing::error!(plugin, "{message}"),
        }
        self.hooks.emit(CallEvent::Log { level, message });
    }

    fn progress(&mut self, progress: f64, total: Option<f64>, message: Option<String>) {
        self.hooks.emit(CallEvent::Progress { progress, total, message });
    }

    fn cancelled(&mut self) -> bool {
        self.hooks.cancel.is_cancelled()
    }

    fn list_changed(&mut self, kind: WitListKind) {
        let kind = match kind {
            WitListKind::Tools => ListKind::Tools,
            WitListKind::Resources => ListKind::Resources,
            WitListKind::Prompts => ListKind::Prompts,
        };
        self.announcer.announce(Announcement::ListChanged { plugin: self.plugin.clone(), kind });
    }

    fn resource_updated(&mut self, uri: String) {
        self.announcer.announce(Announcement::ResourceUpdated { uri });
    }
}
