//! One message connection (stdio, WebSocket): whole JSON-RPC messages in,
//! replies and notifications out through a single writer.
//!
//! A legacy client sends `initialize` once and the connection holds its
//! session; a 2026-07-28 client sends `_meta` on every request. Requests run
//! concurrently and are answered as they finish, not in order. The transport
//! owns the bytes (lines, frames); this module owns what the messages mean.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::notices::{Notice, SubscriptionFilter};
use crate::protocol::era;
use crate::protocol::jsonrpc::{self, Message, Request, RpcError, SERVER_BUSY};
use crate::protocol::notify::Sink;
use crate::router::{Era, RequestContext, Router};
use crate::session::Session;

/// How many requests may run at once, on this connection and across the server.
#[derive(Clone, Default)]
pub struct Admission {
    /// Requests in flight on this one connection (`None`: unlimited).
    pub per_connection: Option<Arc<Semaphore>>,
    /// Requests in flight across the server, shared with the HTTP transport.
    pub global: Option<Arc<Semaphore>>,
    /// The retry hint sent with a refusal, in milliseconds.
    pub retry_after_ms: u64,
}

/// Permits a running request holds until it answers.
struct Admitted {
    _connection: Option<OwnedSemaphorePermit>,
    _global: Option<OwnedSemaphorePermit>,
}

impl Admission {
    /// Takes a slot for one request, or says which limit is full.
    fn admit(&self) -> Result<Admitted, RpcError> {
        let busy = |what: &str| {
            RpcError::new(SERVER_BUSY, format!("server busy: {what}; retry after {} ms", self.retry_after_ms))
                .with_data(json!({ "retryAfterMs": self.retry_after_ms, "limit": what }))
        };
        let connection = match &self.per_connection {
            Some(limit) => Some(limit.clone().try_acquire_owned().map_err(|_| busy("connection in-flight limit"))?),
            None => None,
        };
        let global = match &self.global {
            Some(limit) => Some(limit.clone().try_acquire_owned().map_err(|_| busy("server in-flight limit"))?),
            None => None,
        };
        Ok(Admitted { _connection: connection, _global: global })
    }
}

/// The state of one connection.
pub struct Connection {
    router: Arc<Router>,
    out: Sink,
    admission: Admission,
    /// The session `initialize` created, if the client is a legacy one.
    session: Mutex<Option<Arc<Session>>>,
    /// Cancel flags of running requests (and listen streams), by request id.
    running: Mutex<HashMap<String, Arc<AtomicBool>>>,
    /// Cancel flags of open listen streams, which end when the connection closes.
    listens: Mutex<Vec<Arc<AtomicBool>>>,
    /// The task forwarding server notices to a legacy client.
    forwarder: Mutex<Option<tokio::task::AbortHandle>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Connection {
    /// A connection whose outgoing messages go to `out`.
    pub fn new(router: Arc<Router>, out: Sink, admission: Admission) -> Arc<Self> {
        Arc::new(Self {
            router,
            out,
            admission,
            session: Mutex::new(None),
            running: Mutex::new(HashMap::new()),
            listens: Mutex::new(Vec::new()),
            forwarder: Mutex::new(None),
        })
    }

    /// Sends one message to the client.
    pub fn send(&self, message: Value) {
        (self.out)(message);
    }

    /// Whether any request or listen stream is running.
    pub fn is_busy(&self) -> bool {
        !lock(&self.running).is_empty()
    }

    /// Handles one whole message from the client; calls run on `calls`.
    pub fn receive(self: &Arc<Self>, bytes: &[u8], calls: &mut JoinSet<()>) {
        match jsonrpc::parse(bytes) {
            Ok(Message::Request(request)) => self.request(request, calls),
            Ok(Message::Notification { method, params }) => self.notification(&method, params.as_ref()),
            Ok(Message::Response { id, answer }) => {
                if let Some(session) = self.session() {
                    session.answer(&id, answer);
                }
            }
            Err(rejected) => self.send(jsonrpc::failure(&rejected.id, &rejected.error)),
        }
    }

    /// Ends the connection: listen streams stop; with `cancel`, running calls
    /// are cancelled too (the client is gone), else they finish and answer.
    pub async fn close(&self, mut calls: JoinSet<()>, cancel: bool, grace: Duration) {
        for flag in lock(&self.listens).iter() {
            flag.store(true, Ordering::Relaxed);
        }
        if cancel {
            for flag in lock(&self.running).values() {
                flag.store(true, Ordering::Relaxed);
            }
        }
        let drained = tokio::time::timeout(grace, async { while calls.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            calls.abort_all();
        }
        if let Some(forwarder) = lock(&self.forwarder).take() {
            forwarder.abort();
        }
    }

    fn session(&self) -> Option<Arc<Session>> {
        lock(&self.session).clone()
    }

    fn reply(&self, request: &Request, outcome: Result<Value, RpcError>) {
        self.send(match outcome {
            Ok(result) => jsonrpc::success(&request.id, result),
            Err(error) => jsonrpc::failure(&request.id, &error),
        });
    }

    fn notification(&self, method: &str, params: Option<&Value>) {
        if method == "notifications/cancelled"
            && let Some(id) = params.and_then(|p| p.get("requestId"))
            && let Some(flag) = lock(&self.running).get(&id.to_string())
        {
            flag.store(true, Ordering::Relaxed);
        }
    }

    /// Classifies `request` and runs it (or answers it at once).
    fn request(self: &Arc<Self>, request: Request, calls: &mut JoinSet<()>) {
        let era = if era::wants_modern(request.meta(), None) || self.session().is_none() {
            if request.method == "initialize" && !era::wants_modern(request.meta(), None) {
                return self.initialize(&request);
            }
            match era::check_modern(&request.method, request.params_object(), None) {
                Ok(envelope) => Era::Modern(envelope),
                Err(error) => return self.reply(&request, Err(error)),
            }
        } else {
            match self.session() {
                Some(session) => Era::Legacy(session),
                None => return,
            }
        };
        let cancelled = Arc::new(AtomicBool::new(false));
        let connection = self.clone();
        if matches!(era, Era::Modern(_)) && request.method == "subscriptions/listen" {
            lock(&self.running).insert(request.id.to_string(), cancelled.clone());
            lock(&self.listens).push(cancelled.clone());
            calls.spawn(async move { connection.listen(request, cancelled).await });
            return;
        }
        // Refusing is cheap: no plugin work happens for a request over the limit.
        let admitted = match self.admission.admit() {
            Ok(admitted) => admitted,
            Err(busy) => return self.reply(&request, Err(busy)),
        };
        lock(&self.running).insert(request.id.to_string(), cancelled.clone());
        calls.spawn(async move {
            let _admitted = admitted;
            let cx = RequestContext::new(&request, era, Some(connection.out.clone()), cancelled.clone());
            let outcome = connection.router.handle(&request, &cx).await;
            lock(&connection.running).remove(&request.id.to_string());
            // A cancelled request gets no response, as MCP asks.
            if !cancelled.load(Ordering::Relaxed) {
                connection.reply(&request, outcome);
            }
        });
    }

    /// The legacy handshake: the connection gets a session, and server notices start flowing.
    fn initialize(self: &Arc<Self>, request: &Request) {
        let (version, result) = self.router.initialize(request);
        let capabilities = request.param("capabilities").cloned().unwrap_or_else(|| json!({}));
        let session = Arc::new(Session::new(version, capabilities));
        *lock(&self.session) = Some(session.clone());
        self.reply(request, Ok(result));
        let mut notices = self.router.notices();
        let out = self.out.clone();
        let forwarder = tokio::spawn(async move {
            loop {
                match notices.recv().await {
                    Ok(Notice::ResourceUpdated(uri)) if !session.is_subscribed(&uri) => {}
                    Ok(notice) => out(notice.message(None)),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        if let Some(previous) = lock(&self.forwarder).replace(forwarder.abort_handle()) {
            previous.abort();
        }
    }

    /// 2026-07-28 `subscriptions/listen`: an acknowledgement, then matching
    /// notices, until the client cancels it (then an empty result).
    async fn listen(self: Arc<Self>, request: Request, cancelled: Arc<AtomicBool>) {
        let filter = match SubscriptionFilter::parse(request.param("notifications")) {
            Ok(filter) => filter,
            Err(error) => {
                lock(&self.running).remove(&request.id.to_string());
                return self.reply(&request, Err(error));
            }
        };
        let meta = json!({ "io.modelcontextprotocol/subscriptionId": request.id });
        self.send(jsonrpc::notification(
            "notifications/subscriptions/acknowledged",
            json!({ "notifications": filter.to_json(), "_meta": meta }),
        ));
        let mut notices = self.router.notices();
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        while !cancelled.load(Ordering::Relaxed) {
            tokio::select! {
                notice = notices.recv() => match notice {
                    Ok(notice) if filter.wants(&notice) => self.send(notice.message(Some(&meta))),
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
                _ = tick.tick() => {}
            }
        }
        lock(&self.running).remove(&request.id.to_string());
        self.reply(&request, Ok(json!({ "resultType": "complete" })));
    }
}
