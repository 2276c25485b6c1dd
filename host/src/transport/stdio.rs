//! stdio: newline-delimited JSON-RPC on stdin/stdout, for clients that spawn berth.
//!
//! One process is one connection: a legacy client sends `initialize` once; a
//! 2026-07-28 client sends `_meta` on every request. Requests run
//! concurrently and replies are written whole, one per line, by a single
//! writer. Nothing but protocol messages ever reaches stdout: logs go to
//! stderr and plugin output to the log.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use crate::protocol::era;
use crate::protocol::jsonrpc::{self, Message, RpcError};
use crate::protocol::notify;
use crate::router::{Era, RequestContext, Router};

/// What `initialize` settled for this connection.
type LegacyState = Arc<Mutex<Option<(&'static str, Value)>>>;

/// Serves `router` over `input`/`output` until `input` closes.
pub async fn serve<R, W>(
    router: Arc<Router>,
    input: R,
    output: W,
    max_line_bytes: usize,
) -> std::io::Result<()>
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
    let legacy: LegacyState = Arc::new(Mutex::new(None));
    let mut input = BufReader::new(input);
    let mut line = Vec::new();
    let mut calls = tokio::task::JoinSet::new();
    loop {
        line.clear();
        let read = (&mut input)
            .take(max_line_bytes as u64 + 1)
            .read_until(b'\n', &mut line)
            .await?;
        if read == 0 {
            break;
        }
        if line.len() > max_line_bytes && line.last() != Some(&b'\n') {
            skip_rest_of_line(&mut input).await?;
            let error =
                RpcError::invalid_request(format!("message larger than {max_line_bytes} bytes"));
            let _ = sender.send(jsonrpc::failure(&Value::Null, &error));
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let request = match jsonrpc::parse(&line) {
            Ok(Message::Request(request)) => request,
            Ok(Message::Notification { .. } | Message::Response { .. }) => continue,
            Err(rejected) => {
                let _ = sender.send(jsonrpc::failure(&rejected.id, &rejected.error));
                continue;
            }
        };
        let era = match classify(&router, &request, &legacy) {
            Classified::Call(era) => era,
            Classified::Answered(reply) => {
                let _ = sender.send(reply);
                continue;
            }
        };
        let router = router.clone();
        let sender = sender.clone();
        calls.spawn(async move {
            let log_level = match &era {
                Era::Modern(envelope) => envelope.log_level.clone(),
                Era::Legacy { .. } => None,
            };
            let sink_sender = sender.clone();
            let sink: notify::Sink = Arc::new(move |message| {
                let _ = sink_sender.send(message);
            });
            let hooks = notify::hooks(
                &request,
                log_level.as_deref(),
                sink,
                Arc::new(AtomicBool::new(false)),
            );
            let cx = RequestContext { era, hooks };
            let reply = match router.handle(&request, &cx).await {
                Ok(result) => jsonrpc::success(&request.id, result),
                Err(error) => jsonrpc::failure(&request.id, &error),
            };
            let _ = sender.send(reply);
        });
    }
    // Input closed: let running calls answer, then stop the writer.
    while calls.join_next().await.is_some() {}
    drop(sender);
    writer.await.map_err(std::io::Error::other)?
}

/// What to do with a request on this connection.
enum Classified {
    /// Run it in this era.
    Call(Era),
    /// Already answered (`initialize`, or an envelope error): send the reply.
    Answered(Value),
}

fn classify(router: &Router, request: &jsonrpc::Request, legacy: &LegacyState) -> Classified {
    let modern = || match era::check_modern(&request.method, request.params_object(), None) {
        Ok(envelope) => Classified::Call(Era::Modern(envelope)),
        Err(error) => Classified::Answered(jsonrpc::failure(&request.id, &error)),
    };
    if era::wants_modern(request.meta(), None) {
        return modern();
    }
    let mut state = legacy
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if request.method == "initialize" {
        let (version, result) = router.initialize(request);
        let capabilities = request
            .param("capabilities")
            .cloned()
            .unwrap_or_else(|| serde_json::json!({}));
        *state = Some((version, capabilities));
        return Classified::Answered(jsonrpc::success(&request.id, result));
    }
    match &*state {
        Some((version, capabilities)) => Classified::Call(Era::Legacy {
            version,
            client_capabilities: capabilities.clone(),
        }),
        None => modern(),
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
