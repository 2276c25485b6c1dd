//! stdio: newline-delimited JSON-RPC on stdin/stdout, for clients that spawn berth.
//!
//! One process is one connection: a legacy client sends `initialize` once and
//! the connection holds its session; a 2026-07-28 client sends `_meta` on
//! every request. Requests run concurrently; replies, notifications and
//! server-to-client requests are written whole, one per line, by a single
//! writer. Nothing but protocol messages ever reaches stdout: logs go to
//! stderr and plugin output to the log.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use crate::notices::{Notice, SubscriptionFilter};
use crate::protocol::era;
use crate::protocol::jsonrpc::{self, Message, Request, RpcError};
use crate::protocol::notify::Sink;
use crate::router::{Era, RequestContext, Router};
use crate::session::Session;

/// The state of one stdio connection.
struct Connection {
    router: Arc<Router>,
    out: Sink,
    /// The session `initialize` created, if the client is a legacy one.
    session: Mutex<Option<Arc<Session>>>,
    /// Cancel flags of running requests (and listen streams), by request id.
    running: Mutex<HashMap<String, Arc<AtomicBool>>>,
    /// Cancel flags of open listen streams, which end when input closes.
    listens: Mutex<Vec<Arc<AtomicBool>>>,
    /// The task forwarding server notices to a legacy client.
    forwarder: Mutex<Option<tokio::task::AbortHandle>>,
}

/// Serves `router` over `input`/`output` until `input` closes.
pub async fn serve<R, W>(router: Arc<Router>, input: R, output: W, max_line_bytes: usize) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (sender, mut outbox) = mpsc::unbounded_channel::<Value>();
    let writer = tokio::spawn(async move {
        let mut output = output;
        while let Some(message) = outbox.recv().await {
            let mut line = message.to_string();
            line.push('\n');
            output.write_all(line.as_bytes()).await?;
            output.flush().await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let out: Sink = Arc::new(move |message| {
        let _ = sender.send(message);
    });
    let connection = Arc::new(Connection {
        router,
        out,
        session: Mutex::new(None),
        running: Mutex::new(HashMap::new()),
        listens: Mutex::new(Vec::new()),
        forwarder: Mutex::new(None),
    });
    let mut input = BufReader::new(input);
    let mut line = Vec::new();
    let mut calls = tokio::task::JoinSet::new();
    loop {
        line.clear();
        let read = (&mut input).take(max_line_bytes as u64 + 1).read_until(b'\n', &mut line).await?;
        if read == 0 {
            break;
        }
        if line.len() > max_line_bytes && line.last() != Some(&b'\n') {
            skip_rest_of_line(&mut input).await?;
            let error = RpcError::invalid_request(format!("message larger than {max_line_bytes} bytes"));
            (connection.out)(jsonrpc::failure(&Value::Null, &error));
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match jsonrpc::parse(&line) {
            Ok(Message::Request(request)) => connection.request(request, &mut calls),
            Ok(Message::Notification { method, params }) => connection.notification(&method, params.as_ref()),
            Ok(Message::Response { id, answer }) => {
                if let Some(session) = connection.session() {
                    session.answer(&id, answer);
                }
            }
            Err(rejected) => (connection.out)(jsonrpc::failure(&rejected.id, &rejected.error)),
        }
    }
    // Input closed: stop listen streams, let running calls answer, then stop the writer.
    for flag in lock(&connection.listens).iter() {
        flag.store(true, Ordering::Relaxed);
    }
    while calls.join_next().await.is_some() {}
    if let Some(forwarder) = lock(&connection.forwarder).take() {
        forwarder.abort();
    }
    drop(connection);
    writer.await.map_err(std::io::Error::other)?
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Connection {
    fn session(&self) -> Option<Arc<Session>> {
        lock(&self.session).clone()
    }

    fn reply(&self, request: &Request, outcome: Result<Value, RpcError>) {
        (self.out)(match outcome {
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
    fn request(self: &Arc<Self>, request: Request, calls: &mut tokio::task::JoinSet<()>) {
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
        lock(&self.running).insert(request.id.to_string(), cancelled.clone());
        let connection = self.clone();
        if matches!(era, Era::Modern(_)) && request.method == "subscriptions/listen" {
            lock(&self.listens).push(cancelled.clone());
            calls.spawn(async move { connection.listen(request, cancelled).await });
            return;
        }
        calls.spawn(async move {
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

    /// 2026-07-28 `subscriptions/listen` on stdio: an acknowledgement, then
    /// matching notices, until the client cancels it (then an empty result).
    async fn listen(self: Arc<Self>, request: Request, cancelled: Arc<AtomicBool>) {
        let filter = match SubscriptionFilter::parse(request.param("notifications")) {
            Ok(filter) => filter,
            Err(error) => return self.reply(&request, Err(error)),
        };
        let meta = json!({ "io.modelcontextprotocol/subscriptionId": request.id });
        (self.out)(jsonrpc::notification(
            "notifications/subscriptions/acknowledged",
            json!({ "notifications": filter.to_json(), "_meta": meta }),
        ));
        let mut notices = self.router.notices();
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
        while !cancelled.load(Ordering::Relaxed) {
            tokio::select! {
                notice = notices.recv() => match notice {
                    Ok(notice) if filter.wants(&notice) => (self.out)(notice.message(Some(&meta))),
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

async fn skip_rest_of_line<R: AsyncRead + Unpin>(input: &mut BufReader<R>) -> std::io::Result<()> {
    loop {
        let buffer = input.fill_buf().await?;
        if buffer.is_empty() {
            return Ok(());
        }
        if let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            input.consume(end + 1);
            return Ok(());
        }
        let len = buffer.len();
        input.consume(len);
    }
}
