//! Server-Sent Events framing for MCP messages.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use serde_json::Value;
use tokio::sync::mpsc;

/// One MCP message as an SSE `message` event.
pub fn event(message: &Value) -> Bytes {
    Bytes::from(format!("event: message\ndata: {message}\n\n"))
}

/// The body of a POST answered with SSE: events as the call produces them.
///
/// Dropping it (the client went away) marks the call cancelled, so the
/// plugin stops at its next check instead of running for nobody.
pub struct CallStream {
    pub events: mpsc::UnboundedReceiver<Bytes>,
    pub cancelled: Arc<AtomicBool>,
}

impl Stream for CallStream {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.poll_recv(cx).map(|event| event.map(Ok))
    }
}

impl Drop for CallStream {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}
