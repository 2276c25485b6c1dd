//! WebSocket at `/ws`: one JSON-RPC message per text frame, many requests in
//! flight per connection, answered as they finish.
//!
//! What the messages mean is the exchange's (`exchange::Connection`, shared
//! with stdio); this module owns the socket: frame and message size, a bounded send queue (a client
//! that does not read is closed with 1008, not buffered for), keep-alive
//! pings, the idle timeout, the per-connection and server-wide in-flight
//! limits (refusals are JSON-RPC error -32000 with `retryAfterMs`), and a
//! clean close (1001) when the server shuts down. docs/websocket.md is the
//! client author's description of the same rules.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admission::overload::{Limits, StreamSlot};
use crate::admission::refusal::json_error;
use crate::admission::{Admission, Requester};
use crate::config::WsConfig;
use crate::exchange::{Connection, Exchange, Outbox};
use crate::protocol::jsonrpc::{self, RpcError};
use crate::telemetry::Transport;

/// Close code: normal closure (idle timeout).
const CLOSE_NORMAL: u16 = 1000;
/// Close code: going away (server shutting down, peer silent).
const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code: policy violation (slow consumer).
const CLOSE_POLICY: u16 = 1008;
/// Close code: message too big.
const CLOSE_TOO_BIG: u16 = 1009;
/// Initial read and write buffer of one connection.
const BUFFER_BYTES: usize = 4096;
/// How long a closing connection's close frame may wait for room in its socket while it
/// holds the turn to close (a client that reads nothing would otherwise hold every close up).
const CLOSE_FRAME_WAIT: Duration = Duration::from_millis(50);
/// The subprotocol berth answers with when a client offers it.
pub(crate) const SUBPROTOCOL: &str = "mcp";

/// What the writer task sends besides messages.
enum Control {
    Ping,
    Close(u16, &'static str),
}

/// What the WebSocket transport shares across its connections.
pub(crate) struct WsState {
    exchange: Arc<Exchange>,
    limits: Arc<Limits>,
    settings: WsConfig,
    /// Every open connection, so shutdown can wait for them.
    connections: TaskTracker,
    /// Cancelled when the server begins to shut down.
    shutdown: CancellationToken,
    /// How long running calls get to answer once shutdown begins.
    grace: Duration,
    /// Closing connections take turns: one close frame or socket close at a time (see the
    /// end of [`serve`] and [`write`]).
    closing: Semaphore,
}

impl WsState {
    /// WebSocket connections of `exchange` under `limits`, closed (after
    /// `grace` for running calls) once `shutdown` is cancelled.
    pub(crate) fn new(
        exchange: Arc<Exchange>,
        limits: Arc<Limits>,
        settings: WsConfig,
        shutdown: CancellationToken,
        grace: Duration,
    ) -> Self {
        Self {
            exchange,
            limits,
            settings,
            connections: TaskTracker::new(),
            shutdown,
            grace,
            closing: Semaphore::new(1),
        }
    }

    /// WebSocket connections open now.
    pub(crate) fn connections(&self) -> usize {
        self.connections.len()
    }

    /// Waits, at most `limit`, for every connection to close (after shutdown began).
    pub(crate) async fn closed(&self, limit: Duration) {
        self.connections.close();
        let _ = tokio::time::timeout(limit, self.connections.wait()).await;
    }
}

/// `GET /ws`: upgrades to a WebSocket (Origin/Host and auth were checked by the layers).
pub(crate) async fn upgrade(
    State(state): State<Arc<WsState>>,
    requester: Requester,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            let error =
                RpcError::invalid_request(format!("{}: /ws needs a WebSocket handshake", rejection.body_text()));
            return json_error(rejection.status(), &error);
        }
    };
    let slot = match state.limits.open_stream(state.exchange.quotas(), &requester) {
        Ok(slot) => slot,
        Err(refusal) => return *refusal,
    };
    let max = state.settings.max_message_bytes;
    upgrade
        .protocols([SUBPROTOCOL])
        .max_message_size(max)
        .max_frame_size(max)
        // With tungstenite's default 128 KiB read and write buffers an idle
        // connection cost ~137 KB of RSS, with these ~10 KB (scenario S11 in
        // BENCHMARKS.md); MCP messages are small, and the buffers grow when a
        // large one arrives.
        .read_buffer_size(BUFFER_BYTES)
        .write_buffer_size(BUFFER_BYTES)
        .on_failed_upgrade(|error| tracing::debug!("WebSocket upgrade failed: {error}"))
        .on_upgrade(move |socket| {
            let connections = state.connections.clone();
            connections.track_future(serve(socket, state, slot, requester))
        })
        .into_response()
}

/// Serves one connection until either side closes it.
async fn serve(socket: WebSocket, state: Arc<WsState>, _slot: StreamSlot, requester: Requester) {
    let settings = &state.settings;
    let (sink, mut frames) = socket.split();
    let (messages, outbox) = mpsc::channel::<String>(settings.send_queue);
    let (control, controls) = mpsc::unbounded_channel::<Control>();
    let overflow = Arc::new(Notify::new());
    let out: Outbox = {
        let overflow = overflow.clone();
        Arc::new(move |message| {
            if messages.try_send(message).is_err() {
                overflow.notify_one();
            }
        })
    };
    let writer = tokio::spawn(write(sink, outbox, controls, state.clone()));
    let admission = Admission {
        per_connection: Some(Arc::new(Semaphore::new(settings.max_in_flight_per_connection))),
        ..state.limits.admission(state.exchange.quotas())
    };
    let connection = Connection::new(state.exchange.clone(), Transport::WebSocket, out, admission, requester);
    let ping_every = Duration::from_secs(settings.ping_interval_secs);
    let idle_after = Duration::from_secs(settings.idle_timeout_secs);
    let mut tick = tokio::time::interval(ping_every.min(idle_after));
    tick.reset();
    let (mut last_heard, mut last_message) = (Instant::now(), Instant::now());
    // Whether running calls are cancelled at the end (the client is gone) or finish.
    let mut cancel = true;
    loop {
        tokio::select! {
            frame = frames.next() => match frame {
                None | Some(Ok(Message::Close(_))) => break,
                Some(Err(error)) => {
                    if is_too_big(&error) {
                        let _ = control.send(Control::Close(CLOSE_TOO_BIG, "message too big"));
                    }
                    tracing::debug!("WebSocket read failed: {error}");
                    break;
                }
                Some(Ok(frame)) => {
                    last_heard = Instant::now();
                    match frame {
                        Message::Text(text) => {
                            last_message = last_heard;
                            if !text.trim().is_empty() {
                                connection.receive(text.as_bytes()).await;
                            }
                        }
                        Message::Binary(_) => connection.send(jsonrpc::failure(
                            &Value::Null,
                            &RpcError::invalid_request("binary frames are not read: send each JSON-RPC message as one text frame"),
                        )),
                        Message::Ping(_) | Message::Pong(_) | Message::Close(_) => {}
                    }
                }
            },
            _ = tick.tick() => {
                if last_heard.elapsed() >= ping_every * 2 {
                    let _ = control.send(Control::Close(CLOSE_GOING_AWAY, "keep-alive timeout"));
                    break;
                }
                if !connection.is_busy() && last_message.elapsed() >= idle_after {
                    let _ = control.send(Control::Close(CLOSE_NORMAL, "idle timeout"));
                    cancel = false;
                    break;
                }
                let _ = control.send(Control::Ping);
            }
            () = overflow.notified() => {
                tracing::warn!("closing a WebSocket client that does not read its messages");
                let _ = control.send(Control::Close(CLOSE_POLICY, "slow consumer: send queue full"));
                break;
            }
            () = state.shutdown.cancelled() => {
                // Shutting down: read nothing more, let running calls answer, then close.
                connection.close(false, state.grace).await;
                let _ = control.send(Control::Close(CLOSE_GOING_AWAY, "server shutting down: reconnect"));
                cancel = false;
                break;
            }
        }
    }
    connection.close(cancel, Duration::from_secs(1)).await;
    drop(connection);
    drop(control);
    // The closing handshake: keep reading (and dropping) what the client still
    // sends until it answers our close frame, so unread input does not make
    // the kernel reset the connection before that frame arrives. A client that
    // reads nothing gets a few seconds, then the socket is dropped.
    let abort = writer.abort_handle();
    let finish = async {
        let drain = async {
            while let Some(Ok(frame)) = frames.next().await {
                if let Message::Close(_) = frame {
                    break;
                }
            }
        };
        let _ = tokio::join!(drain, writer);
    };
    if tokio::time::timeout(Duration::from_secs(5), finish).await.is_err() {
        abort.abort();
    }
    // Closing a socket is kernel work (the FIN, on loopback the peer's receive path too, the
    // epoll deregistration: ~46 µs a close in S2X's profile). When thousands of clients leave at once, their
    // connections would all close in one go on the worker threads, and the calls of every
    // other connection would wait behind them (S2X in BENCHMARKS.md: hundreds of ms). Taking
    // turns, one close at a time, lets those calls run in between.
    let _turn = state.closing.acquire().await;
    drop(frames);
}

/// Writes queued messages and control frames until the connection ends.
async fn write(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut outbox: mpsc::Receiver<String>,
    mut controls: mpsc::UnboundedReceiver<Control>,
    state: Arc<WsState>,
) {
    let mut queue_open = true;
    loop {
        let frame = tokio::select! {
            biased;
            control = controls.recv() => match control {
                Some(Control::Ping) => Message::Ping(Default::default()),
                Some(Control::Close(code, reason)) => {
                    // Flush what is already queued (answers to finished calls) before closing.
                    while let Ok(message) = outbox.try_recv() {
                        if sink.send(Message::Text(message.into())).await.is_err() {
                            return;
                        }
                    }
                    let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                    return;
                }
                None => {
                    // The close frame in its turn, as the socket's close (end of `serve`).
                    // A client that reads nothing cannot hold the turn: the frame waits
                    // for room in the socket at most briefly.
                    let _turn = state.closing.acquire().await;
                    let _ = tokio::time::timeout(CLOSE_FRAME_WAIT, sink.close()).await;
                    return;
                }
            },
            message = outbox.recv(), if queue_open => match message {
                Some(message) => {
                    // Write everything already queued, then flush once: one
                    // syscall for a burst of answers instead of one each.
                    if sink.feed(Message::Text(message.into())).await.is_err() {
                        return;
                    }
                    while let Ok(more) = outbox.try_recv() {
                        if sink.feed(Message::Text(more.into())).await.is_err() {
                            return;
                        }
                    }
                    if sink.flush().await.is_err() {
                        return;
                    }
                    continue;
                }
                None => {
                    queue_open = false;
                    continue;
                }
            },
        };
        if sink.send(frame).await.is_err() {
            return;
        }
    }
}

/// Whether a read error is a frame or message over the size limit: a
/// tungstenite capacity error under axum's wrapper.
fn is_too_big(error: &axum::Error) -> bool {
    let inner = std::error::Error::source(error).and_then(|e| e.downcast_ref::<tungstenite::Error>());
    matches!(inner, Some(tungstenite::Error::Capacity(_)))
}
