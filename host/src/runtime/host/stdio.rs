//! A plugin's stdout and stderr: lines in berth's log, never a transport.
//!
//! Output is split into lines and logged under the plugin's name. Each call
//! has a byte budget; past it, output is accepted and dropped (with one
//! warning) so a chatty plugin neither floods the log nor traps.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use crate::sync::lock;

/// Which stream a plugin wrote to.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// A per-call stdout or stderr that writes lines to the log.
#[derive(Clone)]
pub(crate) struct LogStream {
    inner: Arc<Mutex<LogBuffer>>,
}

struct LogBuffer {
    plugin: Arc<str>,
    stream: Stream,
    pending: Vec<u8>,
    budget: usize,
    warned: bool,
}

impl LogStream {
    /// A stream for `plugin` that logs at most `budget` bytes.
    pub(crate) fn new(plugin: Arc<str>, stream: Stream, budget: usize) -> Self {
        let buffer = LogBuffer { plugin, stream, pending: Vec::new(), budget, warned: false };
        Self { inner: Arc::new(Mutex::new(buffer)) }
    }

    /// Starts a new call's budget (reuse isolation).
    pub(crate) fn reset_budget(&self, budget: usize) {
        let mut buffer = lock(&self.inner);
        buffer.budget = budget;
        buffer.warned = false;
    }

    fn accept(&self, bytes: &[u8]) {
        lock(&self.inner).accept(bytes);
    }
}

impl LogBuffer {
    fn accept(&mut self, bytes: &[u8]) {
        let kept = bytes.len().min(self.budget);
        self.budget -= kept;
        self.pending.extend_from_slice(&bytes[..kept]);
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            self.emit(&line[..line.len() - 1]);
        }
        if kept < bytes.len() && !self.warned {
            self.warned = true;
            tracing::warn!(plugin = %self.plugin, "plugin output over the per-call log budget; the rest is dropped");
        }
    }

    fn emit(&self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end();
        if text.is_empty() {
            return;
        }
        match self.stream {
            Stream::Stdout => tracing::info!(plugin = %self.plugin, stream = "stdout", "{text}"),
            Stream::Stderr => tracing::warn!(plugin = %self.plugin, stream = "stderr", "{text}"),
        }
    }
}

impl Drop for LogBuffer {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.emit(&rest);
        }
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for LogStream {
    async fn ready(&mut self) {}
}

impl OutputStream for LogStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.accept(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for LogStream {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.accept(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
