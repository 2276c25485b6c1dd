//! The notice bus itself: a broadcast channel for this replica's streams, and
//! the relay that carries its notices to the other replicas and theirs here.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::notices::relay::NoticeRelay;
use crate::protocol::notice::Notice;

/// Notices kept for the slowest receiver.
const BACKLOG: usize = 1024;

/// The sending side of the notice bus; cheap to clone.
#[derive(Clone)]
pub(crate) struct NoticeBus {
    sender: broadcast::Sender<Notice>,
    relay: Arc<dyn NoticeRelay>,
}

impl NoticeBus {
    /// A bus whose notices also reach the other replicas through `relay`, and theirs this one.
    pub(crate) fn new(relay: Arc<dyn NoticeRelay>) -> Self {
        let sender = broadcast::channel(BACKLOG).0;
        relay.deliver_to(sender.clone());
        Self { sender, relay }
    }

    /// Tells every open stream about `notice`, on every replica.
    pub(crate) fn publish(&self, notice: Notice) {
        self.relay.publish(&notice);
        // No receivers means no open streams: nobody to tell.
        let _ = self.sender.send(notice);
    }

    /// A receiver of every notice published from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.sender.subscribe()
    }
}
