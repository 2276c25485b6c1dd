//! What every kind of shared state speaks: the error a request gets when the
//! state it needs cannot be reached, and where a server keeps that state.
//!
//! Sessions, tasks, notices and the plugins' key-value store each define the
//! trait they need beside an in-process implementation; `cluster` implements
//! them on Redis, and `server` picks one or the other once, at assembly. What
//! they share is here, so no layer above names the backend.

/// The shared state a request needs cannot be reached now (clustered: Redis
/// is down or partitioned away). The request fails with this, answered as
/// HTTP 503 with a JSON-RPC body; nothing else fails with it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("shared state unavailable: {what}; retry later")]
pub(crate) struct Unavailable {
    /// What could not be reached, and why.
    what: String,
}

impl Unavailable {
    /// `what` (e.g. "the session store in Redis is unreachable: …") cannot be reached.
    pub(crate) fn new(what: impl Into<String>) -> Self {
        Self { what: what.into() }
    }
}

/// Where this server keeps its shared state, as `/readyz` and `/metrics` say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Placement {
    /// In this process: the server is alone.
    InProcess,
    /// In the cluster's Redis, as replica `replica`; `redis_up` says whether it answers now.
    Cluster { replica: String, redis_up: bool },
}

/// Reports where the shared state lives and whether it can be reached.
pub(crate) trait StateHealth: Send + Sync {
    /// The placement now.
    fn placement(&self) -> Placement;
}

/// The shared state of a server that is alone: always in process, always reachable.
pub(crate) struct InProcess;

impl StateHealth for InProcess {
    fn placement(&self) -> Placement {
        Placement::InProcess
    }
}
