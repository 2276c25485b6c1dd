//! One legacy session: what `initialize` negotiated, and the state the client keeps on the server.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::event_log::EventLog;
use super::in_flight::InFlight;
use crate::protocol::jsonrpc::RpcError;
use crate::sync::lock;

/// How many finished streamed answers a session keeps for resumption.
const KEPT_STREAMS: usize = 32;

/// The answer to a request the server sent the client.
pub type ClientAnswer = Result<Value, RpcError>;

/// One legacy session.
pub struct Session {
    /// 128 random bits, hex: the `Mcp-Session-Id` of an HTTP session, and
    /// what the session's tasks belong to.
    pub id: String,
    /// The protocol version `initialize` settled on.
    pub version: &'static str,
    /// The capabilities the client declared in `initialize`.
    pub client_capabilities: Value,
    log_level: Mutex<String>,
    subscriptions: Mutex<HashSet<String>>,
    pending: Mutex<HashMap<String, oneshot::Sender<ClientAnswer>>>,
    next_request: AtomicU64,
    in_flight: Arc<InFlight>,
    streams: Mutex<VecDeque<Arc<EventLog>>>,
    next_stream: AtomicU64,
    /// When the client last used the session, in milliseconds since the store's epoch.
    pub(super) last_used: AtomicU64,
    /// Whether the client sent a request in it (or opened its stream) after `initialize`.
    used: AtomicBool,
    /// Cancelled when the session ends (DELETE, eviction, expiry): its event stream closes.
    ended: CancellationToken,
}

impl Session {
    /// A session for `version` with the client's declared capabilities, or
    /// an error when the OS has no randomness for its id (ids must not be guessable).
    pub fn new(version: &'static str, client_capabilities: Value) -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)?;
        Ok(Self {
            id: hex::encode(bytes),
            version,
            client_capabilities,
            // Until `logging/setLevel`, info and above reach the client.
            log_level: Mutex::new("info".to_owned()),
            subscriptions: Mutex::new(HashSet::new()),
            pending: Mutex::new(HashMap::new()),
            next_request: AtomicU64::new(1),
            in_flight: Arc::default(),
            streams: Mutex::new(VecDeque::new()),
            next_stream: AtomicU64::new(1),
            last_used: AtomicU64::new(0),
            used: AtomicBool::new(false),
            ended: CancellationToken::new(),
        })
    }

    /// Cancelled once the session has ended.
    pub fn ended(&self) -> &CancellationToken {
        &self.ended
    }

    /// Records that the client put the session to use: a session never used
    /// may be reclaimed for another client after a short grace.
    pub fn mark_used(&self) {
        if !self.used.load(Ordering::Relaxed) {
            self.used.store(true, Ordering::Relaxed);
        }
    }

    /// Whether the client ever used the session.
    pub fn is_used(&self) -> bool {
        self.used.load(Ordering::Relaxed)
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

    /// The session's running requests (cancelled by `notifications/cancelled`).
    pub fn in_flight(&self) -> &Arc<InFlight> {
        &self.in_flight
    }

    /// A new event log for a streamed answer, kept for resumption.
    pub fn open_stream(&self) -> Arc<EventLog> {
        let id = format!("s{}", self.next_stream.fetch_add(1, Ordering::Relaxed));
        let log = Arc::new(EventLog::new(id));
        let mut streams = lock(&self.streams);
        if streams.len() >= KEPT_STREAMS {
            streams.pop_front();
        }
        streams.push_back(log.clone());
        log
    }

    /// The stream an event id (`<stream>:<n>`) belongs to, if still kept.
    pub fn stream_for(&self, event_id: &str) -> Option<Arc<EventLog>> {
        let stream = event_id.split_once(':').map_or(event_id, |(stream, _)| stream);
        lock(&self.streams).iter().find(|log| log.id() == stream).cloned()
    }
}
