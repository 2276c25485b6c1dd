//! What a replica's session store and the hooks of the sessions it holds share:
//! the link to Redis, the cluster's index, the limits, and the records' keys.

use std::sync::Arc;

use crate::cluster::error::ClusterResult;
use crate::cluster::link::Link;
use crate::cluster::sessions::index::SessionIndex;
use crate::session::{Record, SessionLimits, millis};

/// What the store and the hooks of its sessions share.
pub(super) struct Core {
    pub(super) link: Arc<Link>,
    pub(super) index: Arc<SessionIndex>,
    pub(super) limits: SessionLimits,
}

impl Core {
    pub(super) fn key(&self, id: &str) -> String {
        self.link.key(&format!("session:{id}"))
    }

    /// The Redis stream a streamed answer's events are copied to.
    pub(super) fn events_key(&self, session: &str, stream: &str) -> String {
        self.link.key(&format!("events:{session}:{stream}"))
    }

    pub(super) fn idle_ms(&self) -> u64 {
        millis(self.limits.idle).max(1)
    }

    /// The record of session `id`, if it lives in the cluster.
    pub(super) async fn fetch(&self, id: &str) -> ClusterResult<Option<Record>> {
        let json: Option<String> = self.link.query(redis::cmd("GET").arg(self.key(id))).await?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }
}
