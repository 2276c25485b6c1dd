//! stdio: newline-delimited JSON-RPC on stdin/stdout, for clients that spawn berth.
//!
//! One process is one connection: a legacy client sends `initialize` once and
//! the connection holds its session; a 2026-07-28 client sends `_meta` on
//! every request. Requests run concurrently; replies, notifications and
//! server-to-client requests are written whole, one per line, by a single
//! writer. Nothing but protocol messages ever reaches stdout: logs go to
//! stderr and plugin output to the log.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use crate::admission::{Admission, Requester};
use crate::exchange::{Connection, Exchange, Outbox};
use crate::protocol::jsonrpc::{self, RpcError};
use crate::telemetry::Transport;

/// How long running calls get to answer after stdin closes.
const CLOSE_GRACE: Duration = Duration::from_secs(30);

/// Serves `exchange` over `input`/`output` until `input` closes.
pub(crate) async fn serve<R, W>(
    exchange: Arc<Exchange>,
    input: R,
    output: W,
    max_line_bytes: usize,
    requester: Requester,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (sender, mut outbox) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        let mut output = output;
        while let Some(mut line) = outbox.recv().await {
            line.push('\n');
            output.write_all(line.as_bytes()).await?;
            output.flush().await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let out: Outbox = Arc::new(move |message| {
        let _ = sender.send(message);
    });
    // One local client owns the process: no admission limits beyond the plugins' own.
    let connection = Connection::new(exchange, Transport::Stdio, out, Admission::default(), requester);
    let mut input = BufReader::new(input);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut input).take(max_line_bytes as u64 + 1).read_until(b'\n', &mut line).await?;
        if read == 0 {
            break;
        }
        if line.len() > max_line_bytes && line.last() != Some(&b'\n') {
            skip_rest_of_line(&mut input).await?;
            let error = RpcError::invalid_request(format!("message larger than {max_line_bytes} bytes"));
            connection.send(jsonrpc::failure(&Value::Null, &error));
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        connection.receive(&line).await;
    }
    // Input closed: stop listen streams, let running calls answer, then stop the writer.
    connection.close(false, CLOSE_GRACE).await;
    drop(connection);
    writer.await.map_err(std::io::Error::other)?
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
