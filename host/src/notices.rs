//! The notice bus: how list changes and resource updates reach every open
//! stream (legacy GET streams, 2026-07-28 listen streams, WebSocket and stdio
//! connections).
//!
//! The registry's writer publishes; the exchange subscribes a receiver per
//! stream. In process it is a broadcast channel: a stream that falls more
//! than [`BACKLOG`] notices behind is told it missed some (SSE streams end
//! then, so the client reconnects). Clustered, list changes and resource
//! updates also go to the other replicas over Redis, and theirs come in, so a
//! listener hears of a hot reload on whichever replica it happened.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::cluster::Cluster;
use crate::protocol::notice::Notice;

/// Notices kept for the slowest receiver.
const BACKLOG: usize = 1024;
/// The Redis channel (after the key prefix) replicas relay notices on.
const CHANNEL: &str = "notices";

/// A notice as relayed between replicas.
#[derive(Serialize, Deserialize)]
struct Relayed {
    /// The replica that published it, which ignores its own echo.
    from: String,
    notice: Notice,
}

/// The sending side of the notice bus; cheap to clone.
#[derive(Clone)]
pub struct NoticeBus {
    sender: broadcast::Sender<Notice>,
    cluster: Option<Arc<Cluster>>,
}

impl Default for NoticeBus {
    fn default() -> Self {
        Self { sender: broadcast::channel(BACKLOG).0, cluster: None }
    }
}

impl NoticeBus {
    /// A bus that also relays notices to and from the other replicas of `cluster`.
    pub fn clustered(cluster: Arc<Cluster>) -> Self {
        let sender = broadcast::channel(BACKLOG).0;
        let mut incoming = cluster.subscribe(CHANNEL);
        let (local, me) = (sender.clone(), cluster.replica().to_owned());
        tokio::spawn(async move {
            while let Some(bytes) = incoming.recv().await {
                match serde_json::from_slice::<Relayed>(&bytes) {
                    Ok(relayed) if relayed.from != me => {
                        let _ = local.send(relayed.notice);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!("ignoring a relayed notice berth cannot read: {e}"),
                }
            }
        });
        Self { sender, cluster: Some(cluster) }
    }

    /// The fleet link, when clustered.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.as_ref()
    }

    /// Tells every open stream about `notice` (clustered: on every replica).
    pub fn publish(&self, notice: Notice) {
        // Task notices stay on their replica: the task and its store live there.
        if let Some(cluster) = &self.cluster
            && !matches!(notice, Notice::TaskStatus { .. })
        {
            let relayed = Relayed { from: cluster.replica().to_owned(), notice: notice.clone() };
            if let Ok(bytes) = serde_json::to_vec(&relayed) {
                cluster.publish(CHANNEL, bytes);
            }
        }
        // No receivers means no open streams: nobody to tell.
        let _ = self.sender.send(notice);
    }

    /// A receiver of every notice published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.sender.subscribe()
    }
}
