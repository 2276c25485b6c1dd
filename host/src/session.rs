//! Legacy-era sessions: what `initialize` negotiated and the state a 2025
//! client keeps on the server (log level, resource subscriptions, requests
//! the server sent it, calls it may cancel, streams it may resume).
//!
//! An HTTP session is keyed by `Mcp-Session-Id`; a stdio connection that sent
//! `initialize` holds one session of its own.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde_json::Value;
use tokio::sync::oneshot;

use crate::protocol::events::EventLog;
use crate::protocol::jsonrpc::RpcError;

/// How many finished POST streams a session keeps for `Last-Event-ID` resumption.
const KEPT_STREAMS: usize = 32;

/// The answer to a request the server sent the client.
pub type ClientAnswer = Result<Value, RpcError>;

/// One legacy session.
pub struct Session {
    /// The protocol version `initialize` settled on.
    pub version: &'static str,
    /// The capabilities the client declared in `initialize`.
    pub client_capabilities: Value,
    log_level: Mutex<String>,
    subscriptions: Mutex<HashSet<String>>,
    pending: Mutex<HashMap<String, oneshot::Sender<ClientAnswer>>>,
    next_request: AtomicU64,
    in_flight: Mutex<HashMap<String, Arc<AtomicBool>>>,
    streams: Mutex<VecDeque<(String, Arc<EventLog>)>>,
    next_stream: AtomicU64,
    /// When the client last used the session, as seconds since the store's epoch.
    last_used: AtomicU64,
}

impl Session {
    /// A session for `version` with the client's declared capabilities.
    pub fn new(version: &'static str, client_capabilities: Value) -> Self {
        Self {
            version,
            client_capabilities,
            // Until `logging/setLevel`, info and above reach the client.
            log_level: Mutex::new("info".to_owned()),
            subscriptions: Mutex::new(HashSet::new()),
            pending: Mutex::new(HashMap::new()),
            next_request: AtomicU64::new(1),
            in_flight: Mutex::new(HashMap::new()),
            streams: Mutex::new(VecDeque::new()),
            next_stream: AtomicU64::new(1),
            last_used: AtomicU64::new(0),
        }
    }

    /// The lowest level of log notification the client wants.
    pub fn log_level(&self) -> String {
        lock(&self.log_level).clone()
    }

    /// Sets the level from `logging/setLevel`.
    pub fn set_log_level(&self, level: &str) {
        *lock(&self.log_level) = level.to_owned();
    }

    /// Subscribes to updates of `uri`.
    pub fn subscribe(&self, uri: &str) {
        lock(&self.subscriptions).insert(uri.to_owned());
    }

    /// Ends the subscription to `uri`.
    pub fn unsubscribe(&self, uri: &str) {
        lock(&self.subscriptions).remove(uri);
    }

    /// Whether the client subscribed to `uri`.
    pub fn is_subscribed(&self, uri: &str) -> bool {
        lock(&self.subscriptions).contains(uri)
    }

    /// Reserves an id for a server-to-client request and the slot its answer arrives in.
    pub fn expect_answer(&self) -> (String, oneshot::Receiver<ClientAnswer>) {
        let id = format!("berth-{}", self.next_request.fetch_add(1, Ordering::Relaxed));
        let (sender, receiver) = oneshot::channel();
        lock(&self.pending).insert(id.clone(), sender);
        (id, receiver)
    }

    /// Delivers the client's answer to request `id`; false if none was pending.
    pub fn answer(&self, id: &Value, answer: ClientAnswer) -> bool {
        let key = match id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match lock(&self.pending).remove(&key) {
            Some(sender) => sender.send(answer).is_ok(),
            None => false,
        }
    }

    /// Forgets a pending request the server stopped waiting for.
    pub fn forget(&self, id: &str) {
        lock(&self.pending).remove(id);
    }

    /// Records that request `id` is running, with the flag that cancels it.
    pub fn track(&self, id: &Value, cancelled: Arc<AtomicBool>) {
        lock(&self.in_flight).insert(id.to_string(), cancelled);
    }

    /// Records that request `id` finished.
    pub fn untrack(&self, id: &Value) {
        lock(&self.in_flight).remove(&id.to_string());
    }

    /// Cancels request `id` (from `notifications/cancelled`); false if it is not running.
    pub fn cancel(&self, id: &Value) -> bool {
        match lock(&self.in_flight).get(&id.to_string()) {
            Some(flag) => {
                flag.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// A new event log for a POST answered with SSE, kept for resumption.
    pub fn open_stream(&self) -> Arc<EventLog> {
        let id = format!("s{}", self.next_stream.fetch_add(1, Ordering::Relaxed));
        let log = Arc::new(EventLog::new(id.clone()));
        let mut streams = lock(&self.streams);
        if streams.len() >= KEPT_STREAMS {
            streams.pop_front();
        }
        streams.push_back((id, log.clone()));
        log
    }

    /// The stream an SSE event id (`<stream>:<n>`) belongs to, if still kept.
    pub fn stream_for(&self, event_id: &str) -> Option<Arc<EventLog>> {
        let stream = event_id.split_once(':').map_or(event_id, |(stream, _)| stream);
        lock(&self.streams).iter().find(|(id, _)| id == stream).map(|(_, log)| log.clone())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Every live HTTP session, capped, with idle ones expiring.
///
/// A client that never sends DELETE leaves its session behind; sessions idle
/// longer than `idle` are reaped periodically (and at once when room is
/// needed), so abandoned sessions cannot fill the store or memory for good.
pub struct SessionStore {
    sessions: RwLock<HashMap<String, Arc<Session>>>,
    max: usize,
    idle: std::time::Duration,
    epoch: std::time::Instant,
}

/// Why a session could not be created.
#[derive(Debug, thiserror::Error)]
#[error("the server holds its maximum of {0} sessions; end unused sessions with DELETE or retry later")]
pub struct SessionsFull(pub usize);

impl SessionStore {
    /// An empty store holding at most `max` sessions, expiring those idle for `idle`.
    pub fn new(max: usize, idle: std::time::Duration) -> Self {
        Self { sessions: RwLock::new(HashMap::new()), max, idle, epoch: std::time::Instant::now() }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_secs()
    }

    /// Stores `session` under a new id: 128 random bits from the OS, hex.
    pub fn insert(&self, session: Session) -> Result<String, SessionsFull> {
        let mut bytes = [0u8; 16];
        if let Err(e) = getrandom::fill(&mut bytes) {
            // Without OS randomness session ids would be guessable: refuse.
            tracing::error!("no OS randomness for a session id: {e}");
            return Err(SessionsFull(0));
        }
        let id = hex::encode(bytes);
        let now = self.now();
        session.last_used.store(now, Ordering::Relaxed);
        let mut sessions = self.sessions.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if sessions.len() >= self.max {
            let idle = self.idle.as_secs();
            sessions.retain(|_, s| now.saturating_sub(s.last_used.load(Ordering::Relaxed)) < idle);
        }
        if sessions.len() >= self.max {
            return Err(SessionsFull(self.max));
        }
        sessions.insert(id.clone(), Arc::new(session));
        Ok(id)
    }

    /// The session with `id`, if it is live; counts as a use of it.
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        let session = self.sessions.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(id).cloned()?;
        session.last_used.store(self.now(), Ordering::Relaxed);
        Some(session)
    }

    /// Ends the session with `id`; false if there was none.
    pub fn remove(&self, id: &str) -> bool {
        self.sessions.write().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(id).is_some()
    }

    /// Drops every session idle for longer than the idle time; how many went.
    pub fn reap(&self) -> usize {
        let now = self.now();
        let idle = self.idle.as_secs();
        let mut sessions = self.sessions.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let before = sessions.len();
        sessions.retain(|_, s| now.saturating_sub(s.last_used.load(Ordering::Relaxed)) < idle);
        before - sessions.len()
    }

    /// How often [`reap`](Self::reap) should run: a quarter of the idle time, 1 s to 60 s.
    pub fn reap_every(&self) -> std::time::Duration {
        (self.idle / 4).clamp(std::time::Duration::from_secs(1), std::time::Duration::from_secs(60))
    }

    /// How many sessions are live.
    pub fn len(&self) -> usize {
        self.sessions.read().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }

    /// Whether no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_sessions_are_reaped_and_live_ones_kept() {
        let store = SessionStore::new(10, std::time::Duration::ZERO);
        store.insert(Session::new("2025-11-25", Value::Null)).expect("room");
        assert_eq!(store.reap(), 1, "a session idle past a zero idle time goes");
        assert!(store.is_empty());
        let kept = SessionStore::new(10, std::time::Duration::from_secs(3600));
        kept.insert(Session::new("2025-11-25", Value::Null)).expect("room");
        assert_eq!(kept.reap(), 0);
        assert_eq!(kept.len(), 1);
    }
}
