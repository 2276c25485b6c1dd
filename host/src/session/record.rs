//! What the fleet keeps of a legacy session, and the hook a shared session reports through.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use tokio::sync::mpsc;

use super::event_log::Mirrored;
use crate::protocol::jsonrpc::RpcError;

/// The answer to a request the server sent the client.
pub type ClientAnswer = Result<Value, RpcError>;

/// What Redis holds of a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The negotiated protocol version.
    pub version: String,
    /// What the client declared in `initialize`.
    pub capabilities: Value,
    /// The lowest log level the client wants.
    pub log_level: String,
    /// Resource URIs the client subscribed to.
    pub subscriptions: Vec<String>,
}

/// Where a shared session sends what other replicas must hear of.
pub trait Shared: Send + Sync {
    /// The session's record changed here (log level, subscriptions).
    fn changed(&self, session: &str, record: Record);
    /// The client used the session for the first time since `initialize`.
    fn first_use(&self, session: &str);
    /// The client answered a request no one here asked: hand it to the replica that did.
    fn forward_answer(&self, session: &str, request: &Value, answer: ClientAnswer);
    /// The client cancelled a request not running here: hand it to the replica running it.
    fn forward_cancel(&self, session: &str, request: &Value);
    /// Where the events of stream `stream` go so another replica can replay them.
    fn mirror(&self, session: &str, stream: &str) -> mpsc::UnboundedSender<Mirrored>;
}
