//! The notice bus: how list changes and resource updates reach every open
//! stream (legacy GET streams, 2026-07-28 listen streams, WebSocket and stdio
//! connections).
//!
//! The registry's writer publishes; the exchange subscribes a receiver per
//! stream. In process it is a broadcast channel: a stream that falls more
//! than [`BACKLOG`] notices behind is told it missed some (SSE streams end
//! then, so the client reconnects).

use tokio::sync::broadcast;

use crate::protocol::notice::Notice;

/// Notices kept for the slowest receiver.
const BACKLOG: usize = 1024;

/// The sending side of the notice bus; cheap to clone.
#[derive(Clone)]
pub struct NoticeBus {
    sender: broadcast::Sender<Notice>,
}

impl Default for NoticeBus {
    fn default() -> Self {
        Self { sender: broadcast::channel(BACKLOG).0 }
    }
}

impl NoticeBus {
    /// Tells every open stream about `notice`.
    pub fn publish(&self, notice: Notice) {
        // No receivers means no open streams: nobody to tell.
        let _ = self.sender.send(notice);
    }

    /// A receiver of every notice published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.sender.subscribe()
    }
}
