//! One message connection (WebSocket, stdio): whole JSON-RPC messages in,
//! replies and notifications out through the transport's single writer.
//!
//! A legacy client sends `initialize` once and the connection holds its
//! session; a 2026-07-28 client sends `_meta` on every request. Requests run
//! concurrently and are answered as they finish, not in order. The transport
//! owns the bytes (lines, frames); what the messages mean is the exchange's.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::admission::Admission;
use super::feed::{Fed, NoticeFeed};
use super::listen::{Listen, ended};
use super::{Exchange, SessionRef, Step};
use crate::protocol::jsonrpc::{self, Message, Request};
use crate::router::{Requester, Sink};
use crate::session::{InFlight, Session};
use crate::sync::lock;

/// The state of one connection.
pub struct Connection {
    exchange: Arc<Exchange>,
    out: Sink,
    admission: Admission,
    /// Who is at the other end (what its tasks are counted by).
    requester: Requester,
    /// The session `initialize` created, if the client is a legacy one.
    session: Mutex<Option<Arc<Session>>>,
    /// Requests and listen streams running now, by id.
    in_flight: Arc<InFlight>,
    /// Every task the connection started: calls, listens, the notice forwarder.
    tasks: TaskTracker,
    /// Parent of every call's token: cancelled when the client is gone.
    calls: CancellationToken,
    /// Parent of every listen's token and the forwarder's: cancelled when the connection closes.
    streams: CancellationToken,
}

impl Connection {
    /// A connection of `exchange` with `requester` at the other end, whose
    /// outgoing messages go to `out`.
    pub fn new(exchange: Arc<Exchange>, out: Sink, admission: Admission, requester: Requester) -> Arc<Self> {
        Arc::new(Self {
            exchange,
            out,
            admission,
            requester,
            session: Mutex::new(None),
            in_flight: Arc::default(),
            tasks: TaskTracker::new(),
            calls: CancellationToken::new(),
            streams: CancellationToken::new(),
        })
    }

    /// Sends one message to the client.
    pub fn send(&self, message: Value) {
        (self.out)(message);
    }

    /// Whether any request or listen stream is running.
    pub fn is_busy(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// Handles one whole message from the client.
    pub fn receive(self: &Arc<Self>, bytes: &[u8]) {
        match jsonrpc::parse(bytes) {
            Ok(Message::Request(request)) => self.request(request),
            Ok(Message::Notification { method, params }) => {
                self.exchange.notification(&method, params.as_ref(), Some(&self.in_flight));
            }
            Ok(Message::Response { id, answer }) => {
                if let Some(session) = self.session() {
                    self.exchange.deliver(&session, &id, answer);
                }
            }
            Err(rejected) => self.send(jsonrpc::failure(&rejected.id, &rejected.error)),
        }
    }

    /// Ends the connection: listen streams stop; with `cancel`, running calls
    /// are cancelled too (the client is gone), else they get `grace` to
    /// finish and answer, and are cancelled after it.
    pub async fn close(&self, cancel: bool, grace: Duration) {
        self.streams.cancel();
        if cancel {
            self.calls.cancel();
        }
        self.tasks.close();
        if tokio::time::timeout(grace, self.tasks.wait()).await.is_err() {
            self.calls.cancel();
        }
    }

    fn session(&self) -> Option<Arc<Session>> {
        lock(&self.session).clone()
    }

    /// Routes `request` and runs it (or answers it at once).
    fn request(self: &Arc<Self>, request: Request) {
        let session = self.session();
        let held = session.as_ref().map_or(SessionRef::None, SessionRef::Held);
        match self.exchange.route(request, None, held, &self.requester) {
            Step::Run(mut call) => {
                // Refusing is cheap: no plugin work happens for a request over the limit.
                let admitted = match self.admission.admit(&self.requester) {
                    Ok(admitted) => admitted,
                    Err(refusal) => return self.send(jsonrpc::failure(call.id(), &refusal.error())),
                };
                call.track_in(self.in_flight.clone());
                let connection = self.clone();
                let cancel = self.calls.child_token();
                self.tasks.spawn(async move {
                    let _admitted = admitted;
                    let sink = connection.out.clone();
                    let answer = connection.exchange.answer(call, Some(sink), cancel.clone()).await;
                    // A cancelled request gets no response, as MCP asks.
                    if !cancel.is_cancelled() {
                        connection.send(answer.into_message());
                    }
                });
            }
            Step::Initialize(request) => self.initialize(&request),
            Step::Listen(listen) => self.listen(listen),
            Step::Refuse { id, error } => self.send(jsonrpc::failure(&id, &error)),
            // Only HTTP names sessions by id.
            Step::UnknownSession => {}
        }
    }

    /// The legacy handshake: the connection gets a session, and server notices start flowing.
    fn initialize(&self, request: &Request) {
        let (session, result) = match self.exchange.initialize(request) {
            Ok(opened) => opened,
            Err(error) => return self.send(jsonrpc::failure(&request.id, &error)),
        };
        *lock(&self.session) = Some(session.clone());
        self.send(jsonrpc::success(&request.id, result));
        let feed = self.exchange.session_feed(session);
        self.tasks.spawn(forward(feed, self.out.clone(), self.streams.clone()));
    }

    /// Sends the acknowledgement, then matching notices until the client
    /// cancels the listen (then an empty result) or the connection closes.
    fn listen(&self, listen: Listen) {
        let cancel = self.streams.child_token();
        let running = self.in_flight.begin(&listen.id, cancel.clone());
        let id = listen.id.clone();
        let (ack, feed) = listen.start();
        self.send(ack);
        let out = self.out.clone();
        self.tasks.spawn(async move {
            let _running = running;
            forward(feed, out.clone(), cancel).await;
            out(ended(&id));
        });
    }
}

/// Sends what `feed` yields to `out` until `stop` is cancelled or the bus closes.
///
/// A connection that fell behind carries on (its client cannot reconnect a
/// stream the way an SSE client can); the notices it missed are gone.
async fn forward(mut feed: NoticeFeed, out: Sink, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            fed = feed.next() => match fed {
                Fed::Message(message) => out(message),
                Fed::Missed(_) => {}
                Fed::Closed => return,
            },
        }
    }
}
