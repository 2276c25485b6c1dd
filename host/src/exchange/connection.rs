//! One message connection (WebSocket, stdio): whole JSON-RPC messages in,
//! replies and notifications out through the transport's single writer.
//!
//! A legacy client sends `initialize` once and the connection holds its
//! session; a 2026-07-28 client sends `_meta` on every request. Requests run
//! concurrently and are answered as they finish, not in order. What each
//! message means is the driver's ([`Exchange::receive`]); this is the
//! conversation around it: the held session, the calls and listen streams
//! running, and closing. The transport owns the bytes (lines, frames).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::feed::{Fed, NoticeFeed};
use super::listen::{Listen, ended};
use super::{Exchange, Reply, Via};
use crate::admission::{Admission, Requester};
use crate::protocol::jsonrpc;
use crate::router::Sink;
use crate::session::{InFlight, Session};
use crate::sync::lock;
use crate::telemetry::Transport;

/// Where a connection's outgoing messages go, as JSON text: its transport's single writer.
pub(crate) type Outbox = Arc<dyn Fn(String) + Send + Sync>;

/// The state of one connection.
pub(crate) struct Connection {
    exchange: Arc<Exchange>,
    /// WebSocket or stdio.
    transport: Transport,
    /// Messages written as text already (answers to calls) go here.
    text: Outbox,
    /// Messages as values (notifications, questions, everything else) go here, then to `text`.
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
    /// outgoing messages go to `text` (the transport's writer, as JSON text) and whose
    /// calls pass `admission`.
    pub(crate) fn new(
        exchange: Arc<Exchange>,
        transport: Transport,
        text: Outbox,
        admission: Admission,
        requester: Requester,
    ) -> Arc<Self> {
        let out: Sink = {
            let text = text.clone();
            Arc::new(move |message: Value| text(jsonrpc::to_text(&message)))
        };
        Arc::new(Self {
            exchange,
            transport,
            text,
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
    pub(crate) fn send(&self, message: Value) {
        (self.out)(message);
    }

    /// Sends one message, written as JSON text already, to the client.
    pub(crate) fn send_text(&self, message: String) {
        (self.text)(message);
    }

    /// Whether any request or listen stream is running.
    pub(crate) fn is_busy(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// Handles one whole message from the client.
    pub(crate) async fn receive(self: &Arc<Self>, bytes: &[u8]) {
        let session = lock(&self.session).clone();
        let via = Via::Connection {
            transport: self.transport,
            session,
            in_flight: &self.in_flight,
            admission: &self.admission,
        };
        match self.exchange.receive(bytes, via, &self.requester).await {
            Reply::Accepted => {}
            Reply::Refuse(refused) => self.send(jsonrpc::failure(&refused.id, &refused.error)),
            Reply::Run(pending) => {
                let connection = self.clone();
                let cancel = self.calls.child_token();
                self.tasks.spawn(async move {
                    let sink = connection.out.clone();
                    if let Some(answer) = pending.run(Some(sink), cancel).await.streamed() {
                        connection.send_text(answer.to_text());
                    }
                });
            }
            Reply::Opened { session, id, result } => {
                *lock(&self.session) = Some(session.clone());
                self.send(jsonrpc::success(&id, result));
                // Server notices flow from now on.
                let feed = self.exchange.session_feed(session);
                self.tasks.spawn(forward(feed, self.out.clone(), self.streams.clone()));
            }
            Reply::Listen(listen) => self.listen(listen),
        }
    }

    /// Ends the connection: listen streams stop; with `cancel`, running calls
    /// are cancelled too (the client is gone), else they get `grace` to
    /// finish and answer, and are cancelled after it.
    pub(crate) async fn close(&self, cancel: bool, grace: Duration) {
        // A session the connection held ends with it.
        if let Some(session) = lock(&self.session).take() {
            session.end();
        }
        self.streams.cancel();
        if cancel {
            self.calls.cancel();
        }
        self.tasks.close();
        if tokio::time::timeout(grace, self.tasks.wait()).await.is_err() {
            self.calls.cancel();
        }
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
