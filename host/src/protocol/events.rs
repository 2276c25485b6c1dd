//! The event log behind one SSE answer: numbered events, replayable after a disconnect.
//!
//! A POST answered with SSE writes its notifications, server-to-client
//! requests and final response into an [`EventLog`]; the response body reads
//! it from the start, and a client that lost the connection can resume with
//! `Last-Event-ID` from where it stopped (legacy sessions keep their logs).
//! Event ids are `<stream>:<n>`; event 0 is the priming event, which carries
//! the reconnection delay (`retry`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use futures_util::stream::BoxStream;
use serde_json::Value;
use tokio::sync::Notify;

/// Most events one log keeps for replay; older ones are dropped, and a
/// reader that had not read them yet is disconnected.
const KEPT_EVENTS: usize = 256;
/// The reconnection delay suggested to clients, in milliseconds.
pub const RETRY_MS: u64 = 1000;

/// The numbered events of one SSE answer.
pub struct EventLog {
    id: String,
    inner: Mutex<Inner>,
    changed: Notify,
}

struct Inner {
    events: VecDeque<(u64, Bytes)>,
    next: u64,
    done: bool,
}

impl EventLog {
    /// An empty log for stream `id`.
    pub fn new(id: String) -> Self {
        let inner = Inner { events: VecDeque::new(), next: 1, done: false };
        Self { id, inner: Mutex::new(inner), changed: Notify::new() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends one JSON-RPC message as the next event.
    pub fn push(&self, message: &Value) {
        {
            let mut inner = self.lock();
            let seq = inner.next;
            inner.next += 1;
            let event = Bytes::from(format!("event: message\nid: {}:{seq}\ndata: {message}\n\n", self.id));
            if inner.events.len() >= KEPT_EVENTS {
                inner.events.pop_front();
            }
            inner.events.push_back((seq, event));
        }
        self.changed.notify_waiters();
    }

    /// Marks the log complete: readers end after the last event.
    pub fn finish(&self) {
        self.lock().done = true;
        self.changed.notify_waiters();
    }

    /// The sequence number in an event id of this log (`<stream>:<n>`).
    pub fn sequence_of(&self, event_id: &str) -> Option<u64> {
        let (stream, seq) = event_id.split_once(':')?;
        if stream != self.id {
            return None;
        }
        seq.parse().ok()
    }

    /// The log as an SSE body: the priming event (when `after` is `None`),
    /// then every event after `after`, live until the log finishes.
    pub fn reader(self: Arc<Self>, after: Option<u64>) -> BoxStream<'static, Result<Bytes, Infallible>> {
        let priming = after.is_none().then(|| Bytes::from(format!("id: {}:0\nretry: {RETRY_MS}\ndata: \n\n", self.id)));
        let start = after.unwrap_or(0);
        let events = futures_util::stream::unfold((self, start), |(log, cursor)| async move {
            loop {
                match log.next_after(cursor).await {
                    Next::Event(seq, event) => return Some((Ok(event), (log, seq))),
                    Next::Done => return None,
                    Next::Changed => {}
                }
            }
        });
        match priming {
            Some(priming) => {
                Box::pin(futures_util::StreamExt::chain(futures_util::stream::once(async move { Ok(priming) }), events))
            }
            None => Box::pin(events),
        }
    }
}

/// What a reader found after its cursor.
enum Next {
    Event(u64, Bytes),
    Done,
    Changed,
}

impl EventLog {
    /// The first event after `cursor`, or waits for a change.
    async fn next_after(&self, cursor: u64) -> Next {
        let notified = self.changed.notified();
        tokio::pin!(notified);
        // Registered before looking, so a push between the look and the wait is not missed.
        notified.as_mut().enable();
        {
            let inner = self.lock();
            // The reader fell so far behind that events it never read were
            // dropped: end its stream rather than skip silently or buffer forever.
            if inner.events.front().is_some_and(|(oldest, _)| *oldest > cursor + 1) {
                return Next::Done;
            }
            if let Some((seq, event)) = inner.events.iter().find(|(seq, _)| *seq > cursor) {
                return Next::Event(*seq, event.clone());
            }
            if inner.done {
                return Next::Done;
            }
        }
        notified.await;
        Next::Changed
    }
}

/// An SSE body that marks its call cancelled when the client goes away
/// (2026-07-28: closing the stream is how a client cancels).
pub struct CancelOnDrop {
    pub body: BoxStream<'static, Result<Bytes, Infallible>>,
    pub cancelled: Option<Arc<AtomicBool>>,
}

impl Stream for CancelOnDrop {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.body.as_mut().poll_next(cx)
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(flag) = &self.cancelled {
            flag.store(true, Ordering::Relaxed);
        }
    }
}
