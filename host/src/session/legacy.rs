//! One legacy session: what `initialize` negotiated, and the state the client keeps on the server.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use futures_util::stream::BoxStream;

use super::event_log::{Event, EventLog};
use super::in_flight::InFlight;
use super::share::{ClientAnswer, Record, SessionShare};
use crate::runtime::Histogram;
use crate::sync::lock;

/// How long the legacy sessions that began on this replica lasted, from `initialize` to the
/// end of the copy here: `mcp.server.session.duration` for `/metrics`.
pub(crate) static SESSION_DURATIONS: Histogram = Histogram::new();

/// How many finished streamed answers a session keeps for resumption.
const KEPT_STREAMS: usize = 32;

/// One legacy session.
pub(crate) struct Session {
    /// 128 random bits, hex: the `Mcp-Session-Id` of an HTTP session, and
    /// what the session's tasks belong to.
    pub(crate) id: String,
    /// The protocol version `initialize` settled on.
    pub(crate) version: &'static str,
    /// The capabilities the client declared in `initialize`.
    pub(crate) client_capabilities: Value,
    log_level: Mutex<String>,
    subscriptions: Mutex<HashSet<String>>,
    pending: Mutex<HashMap<String, oneshot::Sender<ClientAnswer>>>,
    next_request: AtomicU64,
    /// Random per copy of the session, so ids of requests that different replicas send
    /// in one shared session never collide.
    request_prefix: String,
    in_flight: Arc<InFlight>,
    streams: Mutex<VecDeque<Arc<EventLog>>>,
    next_stream: AtomicU64,
    /// When the client last used the session, in milliseconds since the store's epoch.
    pub(crate) last_used: AtomicU64,
    /// Whether the client sent a request in it (or opened its stream) after `initialize`.
    used: AtomicBool,
    /// Cancelled when the session ends (DELETE, eviction, expiry): its event stream closes.
    ended: CancellationToken,
    /// Where changes go so other replicas see them (nowhere, for a session alone).
    share: Arc<dyn SessionShare>,
    /// When the other replicas last heard this copy was used, in the store's milliseconds.
    pub(crate) touched: AtomicU64,
    /// When the session began, if it began here: the replica where a session began is the
    /// one that measures its length (`mcp.server.session.duration`), so a session copied to
    /// several replicas counts once; copies restored from another replica hold `None`.
    opened: Option<std::time::Instant>,
}

impl Session {
    /// A session for `version` with the client's declared capabilities, reporting
    /// through `share`; or an error when the OS has no randomness for its id (ids
    /// must not be guessable).
    pub(crate) fn new(
        version: &'static str,
        client_capabilities: Value,
        share: Arc<dyn SessionShare>,
    ) -> Result<Self, getrandom::Error> {
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
            request_prefix: hex::encode(&bytes[..4]),
            in_flight: Arc::default(),
            streams: Mutex::new(VecDeque::new()),
            next_stream: AtomicU64::new(1),
            last_used: AtomicU64::new(0),
            used: AtomicBool::new(false),
            ended: CancellationToken::new(),
            share,
            touched: AtomicU64::new(0),
            opened: Some(std::time::Instant::now()),
        })
    }

    /// A session another replica created, from its record, reporting through `share`;
    /// `None` for a version this berth does not speak.
    pub(crate) fn restore(id: &str, record: &Record, share: Arc<dyn SessionShare>) -> Option<Self> {
        let version = crate::protocol::era::LEGACY_VERSIONS.into_iter().find(|v| *v == record.version)?;
        let mut session = Self::new(version, record.capabilities.clone(), share).ok()?;
        session.id = id.to_owned();
        session.opened = None;
        session.apply(record);
        // It was used (that is how it reached this replica): never reclaimed as unused.
        session.used.store(true, Ordering::Relaxed);
        Some(session)
    }

    /// What the other replicas keep of this session.
    pub(crate) fn record(&self) -> Record {
        let mut subscriptions: Vec<String> = lock(&self.subscriptions).iter().cloned().collect();
        subscriptions.sort();
        Record {
            version: self.version.to_owned(),
            capabilities: self.client_capabilities.clone(),
            log_level: self.log_level(),
            subscriptions,
        }
    }

    /// Takes another replica's change of the record (no echo back to the cluster).
    pub(crate) fn apply(&self, record: &Record) {
        *lock(&self.log_level) = record.log_level.clone();
        *lock(&self.subscriptions) = record.subscriptions.iter().cloned().collect();
    }

    fn share_change(&self) {
        self.share.changed(&self.id, self.record());
    }

    /// Cancelled once the session has ended.
    pub(crate) fn ended(&self) -> &CancellationToken {
        &self.ended
    }

    /// Ends this copy of the session: its streams close, and, where the session began, its
    /// length is counted (once).
    pub(crate) fn end(&self) {
        if !self.ended.is_cancelled() {
            self.ended.cancel();
            if let Some(opened) = self.opened {
                SESSION_DURATIONS.record(opened.elapsed());
            }
        }
    }

    /// Records that the client put the session to use: a session never used
    /// may be reclaimed for another client after a short grace.
    pub(crate) fn mark_used(&self) {
        // Load first: every request passes here, and a swap would write the shared line each time.
        if !self.used.load(Ordering::Relaxed) && !self.used.swap(true, Ordering::Relaxed) {
            self.share.first_use(&self.id);
        }
    }

    /// Whether the client ever used the session.
    pub(crate) fn is_used(&self) -> bool {
        self.used.load(Ordering::Relaxed)
    }

    /// The lowest level of log notification the client wants.
    pub(crate) fn log_level(&self) -> String {
        lock(&self.log_level).clone()
    }

    /// Sets the level from `logging/setLevel`.
    pub(crate) fn set_log_level(&self, level: &str) {
        *lock(&self.log_level) = level.to_owned();
        self.share_change();
    }

    /// Subscribes to updates of `uri`.
    pub(crate) fn subscribe(&self, uri: &str) {
        lock(&self.subscriptions).insert(uri.to_owned());
        self.share_change();
    }

    /// Ends the subscription to `uri`.
    pub(crate) fn unsubscribe(&self, uri: &str) {
        lock(&self.subscriptions).remove(uri);
        self.share_change();
    }

    /// Whether the client subscribed to `uri`.
    pub(crate) fn is_subscribed(&self, uri: &str) -> bool {
        lock(&self.subscriptions).contains(uri)
    }

    /// Reserves an id for a server-to-client request and the slot its answer arrives in.
    pub(crate) fn expect_answer(&self) -> (String, oneshot::Receiver<ClientAnswer>) {
        let id = format!("berth-{}-{}", self.request_prefix, self.next_request.fetch_add(1, Ordering::Relaxed));
        let (sender, receiver) = oneshot::channel();
        lock(&self.pending).insert(id.clone(), sender);
        (id, receiver)
    }

    /// Delivers the client's answer to request `id`: to the request waiting here, else to
    /// the replica that asked (a session alone drops an answer nobody waits for).
    pub(crate) fn deliver(&self, id: &Value, answer: ClientAnswer) {
        if let Err(answer) = self.answer(id, answer) {
            self.share.forward_answer(&self.id, id, answer);
        }
    }

    /// Cancels the client's request `id` (`notifications/cancelled`): here, or on the
    /// replica running it.
    pub(crate) fn cancel(&self, id: &Value) {
        if !self.in_flight.cancel(id) {
            self.share.forward_cancel(&self.id, id);
        }
    }

    /// Delivers the client's answer to request `id`; the answer back when no request of
    /// this id is pending here (another replica may have asked).
    pub(crate) fn answer(&self, id: &Value, answer: ClientAnswer) -> Result<(), ClientAnswer> {
        let key = match id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match lock(&self.pending).remove(&key) {
            // The asker stopped waiting: the answer is consumed all the same.
            Some(sender) => {
                let _ = sender.send(answer);
                Ok(())
            }
            None => Err(answer),
        }
    }

    /// Forgets a pending request the server stopped waiting for.
    pub(crate) fn forget(&self, id: &str) {
        lock(&self.pending).remove(id);
    }

    /// The session's running requests (cancelled by `notifications/cancelled`).
    pub(crate) fn in_flight(&self) -> &Arc<InFlight> {
        &self.in_flight
    }

    /// A new event log for a streamed answer, kept for resumption.
    pub(crate) fn open_stream(&self) -> Arc<EventLog> {
        // The copy's random part keeps ids unique across the replicas sharing the session.
        let id = format!("s{}-{}", self.request_prefix, self.next_stream.fetch_add(1, Ordering::Relaxed));
        let mirror = self.share.mirror(&self.id, &id);
        let log = Arc::new(EventLog::mirrored(id, mirror));
        let mut streams = lock(&self.streams);
        if streams.len() >= KEPT_STREAMS {
            streams.pop_front();
        }
        streams.push_back(log.clone());
        log
    }

    /// The stream an event id (`<stream>:<n>`) belongs to, if still kept here.
    fn stream_for(&self, event_id: &str) -> Option<Arc<EventLog>> {
        let stream = event_id.split_once(':').map_or(event_id, |(stream, _)| stream);
        lock(&self.streams).iter().find(|log| log.id() == stream).cloned()
    }

    /// The events after `event_id` (`<stream>:<n>`) of a stream this copy sent, live until
    /// it is complete, with the stream's id; `None` when it is not kept here.
    pub(crate) fn resume(&self, event_id: &str) -> Option<(String, BoxStream<'static, Event>)> {
        let log = self.stream_for(event_id)?;
        let after = log.sequence_of(event_id)?;
        Some((log.id().to_owned(), log.events(after)))
    }
}
