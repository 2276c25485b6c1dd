//! How notices cross between replicas: the trait the bus needs, and the
//! in-process implementation.
//!
//! The in-process relay joins the buses of one process: a server alone has
//! one, so nothing crosses; tests join two to stand for two replicas, the
//! same way two replicas meet on Redis (`cluster::notices`).

use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::protocol::notice::Notice;
use crate::sync::lock;

/// Carries notices to the other replicas' buses and theirs to this one.
pub(crate) trait NoticeRelay: Send + Sync {
    /// Sends `notice` to every other replica (never back to this one); never waits.
    fn publish(&self, notice: &Notice);
    /// From now on, sends the notices other replicas publish to `local`.
    fn deliver_to(&self, local: broadcast::Sender<Notice>);
}

/// The buses joined in one process, by member.
type Members = Arc<Mutex<Vec<(usize, broadcast::Sender<Notice>)>>>;

/// One bus's place among the buses of this process.
pub(crate) struct InProcessRelay {
    members: Members,
    me: usize,
}

impl Default for InProcessRelay {
    /// The first (and, serving, only) member of a new group.
    fn default() -> Self {
        Self { members: Members::default(), me: 0 }
    }
}

#[cfg(test)]
impl InProcessRelay {
    /// Another member of this relay's group (a second "replica" in one process).
    pub(crate) fn another(&self) -> Self {
        let me = lock(&self.members).iter().map(|(id, _)| id + 1).max().unwrap_or(self.me + 1).max(self.me + 1);
        Self { members: self.members.clone(), me }
    }
}

impl NoticeRelay for InProcessRelay {
    fn publish(&self, notice: &Notice) {
        for (member, bus) in lock(&self.members).iter() {
            if *member != self.me {
                let _ = bus.send(notice.clone());
            }
        }
    }

    fn deliver_to(&self, local: broadcast::Sender<Notice>) {
        lock(&self.members).push((self.me, local));
    }
}
