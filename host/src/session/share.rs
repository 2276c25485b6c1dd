//! What a legacy session shares with the other replicas: its record, and the
//! hook it reports through, chosen with the store that opened it.
//!
//! A session alone (every session of a server alone, and those a WebSocket or
//! stdio connection holds) reports to [`unshared`], which keeps nothing; in a
//! cluster the store's hook saves changes to Redis and relays what another
//! replica must hear of.

use std::sync::{Arc, LazyLock};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::event_log::Mirror;
use crate::protocol::jsonrpc::RpcError;

/// The answer to a request the server sent the client.
pub(crate) type ClientAnswer = Result<Value, RpcError>;

/// What the other replicas keep of a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Record {
    /// The negotiated protocol version.
    pub(crate) version: String,
    /// What the client declared in `initialize`.
    pub(crate) capabilities: Value,
    /// The lowest log level the client wants.
    pub(crate) log_level: String,
    /// Resource URIs the client subscribed to.
    pub(crate) subscriptions: Vec<String>,
}

/// Where a session sends what the other replicas must hear of.
pub(crate) trait SessionShare: Send + Sync {
    /// The session's record changed here (log level, subscriptions).
    fn changed(&self, session: &str, record: Record);
    /// The client used the session for the first time since `initialize`.
    fn first_use(&self, session: &str);
    /// The client answered a request no one here asked: hand it to the replica that did.
    fn forward_answer(&self, session: &str, request: &Value, answer: ClientAnswer);
    /// The client cancelled a request not running here: hand it to the replica running it.
    fn forward_cancel(&self, session: &str, request: &Value);
    /// Where the events of stream `stream` go so another replica can replay them.
    fn mirror(&self, session: &str, stream: &str) -> Mirror;
}

/// The hook of a session no other replica shares: nothing leaves this process.
struct Unshared;

impl SessionShare for Unshared {
    fn changed(&self, _session: &str, _record: Record) {}

    fn first_use(&self, _session: &str) {}

    fn forward_answer(&self, _session: &str, request: &Value, _answer: ClientAnswer) {
        tracing::debug!("ignoring a client answer to unknown or expired request {request}");
    }

    fn forward_cancel(&self, _session: &str, _request: &Value) {}

    fn mirror(&self, _session: &str, _stream: &str) -> Mirror {
        Box::new(|_| ())
    }
}

/// The hook of sessions that stay in this process.
pub(crate) fn unshared() -> Arc<dyn SessionShare> {
    static UNSHARED: LazyLock<Arc<dyn SessionShare>> = LazyLock::new(|| Arc::new(Unshared));
    UNSHARED.clone()
}
