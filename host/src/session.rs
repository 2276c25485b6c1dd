//! Legacy-era sessions: what `initialize` negotiated, keyed by `Mcp-Session-Id`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;
use tokio::sync::broadcast;

/// One legacy session.
pub struct Session {
    /// The protocol version `initialize` settled on.
    pub version: &'static str,
    /// The capabilities the client declared in `initialize`.
    pub client_capabilities: Value,
    /// Server-to-client messages for the session's GET SSE streams.
    pub outbound: broadcast::Sender<Arc<str>>,
}

/// Every live session, capped.
pub struct SessionStore {
    sessions: RwLock<HashMap<String, Arc<Session>>>,
    max: usize,
}

/// Why a session could not be created.
#[derive(Debug, thiserror::Error)]
#[error(
    "the server holds its maximum of {0} sessions; end unused sessions with DELETE or retry later"
)]
pub struct SessionsFull(pub usize);

impl SessionStore {
    /// An empty store holding at most `max` sessions.
    pub fn new(max: usize) -> Self {
        Self {
            sessions: RwLock::new(HashMap::new()),
            max,
        }
    }

    /// Creates a session and returns its id: 128 random bits from the OS, hex.
    pub fn create(
        &self,
        version: &'static str,
        client_capabilities: Value,
    ) -> Result<String, SessionsFull> {
        let mut bytes = [0u8; 16];
        if let Err(e) = getrandom::fill(&mut bytes) {
            // Without OS randomness session ids would be guessable: refuse.
            tracing::error!("no OS randomness for a session id: {e}");
            return Err(SessionsFull(0));
        }
        let id = hex::encode(bytes);
        let (outbound, _) = broadcast::channel(64);
        let session = Arc::new(Session {
            version,
            client_capabilities,
            outbound,
        });
        let mut sessions = self
            .sessions
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if sessions.len() >= self.max {
            return Err(SessionsFull(self.max));
        }
        sessions.insert(id.clone(), session);
        Ok(id)
    }

    /// The session with `id`, if it is live.
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        self.sessions
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(id)
            .cloned()
    }

    /// Ends the session with `id`; false if there was none.
    pub fn remove(&self, id: &str) -> bool {
        self.sessions
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(id)
            .is_some()
    }

    /// How many sessions are live.
    pub fn len(&self) -> usize {
        self.sessions
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    /// Whether no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
