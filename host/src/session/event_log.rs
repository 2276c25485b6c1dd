//! The messages of one streamed answer, numbered and kept for replay after a disconnect.
//!
//! A request answered as a stream writes its notifications, server-to-client
//! requests and final response into an [`EventLog`]; the stream reads it from
//! the start, and a client that lost the connection can resume from the last
//! event it saw (legacy sessions keep their logs). The log holds JSON text,
//! not wire framing: the transport frames each event (`transport::http::sse`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use futures_util::stream::BoxStream;
use serde_json::Value;
use tokio::sync::Notify;

use crate::sync::lock;

/// Most events one log keeps for replay; older ones are dropped, and a
/// reader that had not read them yet is disconnected.
pub(crate) const KEPT_EVENTS: usize = 256;

/// One event: its sequence number in the log and the message's JSON text.
pub(crate) type Event = (u64, Arc<str>);

/// What a log copies, in order, to where other replicas can replay it (clustered).
#[derive(Debug)]
pub(crate) enum Mirrored {
    /// One event.
    Event(Event),
    /// The log is complete.
    Done,
}

/// Where a log's events are copied, in order, so another replica can replay them.
pub(crate) type Mirror = Box<dyn Fn(Mirrored) + Send + Sync>;

/// The numbered messages of one streamed answer.
pub(crate) struct EventLog {
    id: String,
    inner: Mutex<Inner>,
    changed: Notify,
    mirror: Mirror,
}

struct Inner {
    events: VecDeque<Event>,
    next: u64,
    done: bool,
}

/// What a reader found after its cursor.
enum Next {
    Event(Event),
    Done,
    Changed,
}

impl EventLog {
    /// An empty log for stream `id`, kept here only.
    pub(crate) fn new(id: String) -> Self {
        Self::mirrored(id, Box::new(|_| ()))
    }

    /// An empty log for stream `id` whose events are also sent, in order, to `mirror`.
    pub(crate) fn mirrored(id: String, mirror: Mirror) -> Self {
        let inner = Inner { events: VecDeque::new(), next: 1, done: false };
        Self { id, inner: Mutex::new(inner), changed: Notify::new(), mirror }
    }

    /// The stream's id, the first half of its event ids (`<stream>:<n>`).
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Appends one JSON-RPC message as the next event.
    pub(crate) fn push(&self, message: &Value) {
        self.push_text(crate::protocol::jsonrpc::to_text(message));
    }

    /// Appends one JSON-RPC message, written as JSON text already, as the next event.
    pub(crate) fn push_text(&self, message: String) {
        {
            let mut inner = lock(&self.inner);
            let seq = inner.next;
            inner.next += 1;
            if inner.events.len() >= KEPT_EVENTS {
                inner.events.pop_front();
            }
            let event: Event = (seq, message.into());
            // Sent under the lock, so the mirror sees the events in sequence order.
            (self.mirror)(Mirrored::Event(event.clone()));
            inner.events.push_back(event);
        }
        self.changed.notify_waiters();
    }

    /// Marks the log complete: readers end after the last event.
    pub(crate) fn finish(&self) {
        lock(&self.inner).done = true;
        (self.mirror)(Mirrored::Done);
        self.changed.notify_waiters();
    }

    /// The sequence number in an event id of this log (`<stream>:<n>`).
    pub(crate) fn sequence_of(&self, event_id: &str) -> Option<u64> {
        let (stream, seq) = event_id.split_once(':')?;
        if stream != self.id {
            return None;
        }
        seq.parse().ok()
    }

    /// Every event after sequence number `after`, live until the log finishes.
    pub(crate) fn events(self: Arc<Self>, after: u64) -> BoxStream<'static, Event> {
        Box::pin(futures_util::stream::unfold((self, after), |(log, cursor)| async move {
            loop {
                match log.next_after(cursor).await {
                    Next::Event(event) => {
                        let seq = event.0;
                        return Some((event, (log, seq)));
                    }
                    Next::Done => return None,
                    Next::Changed => {}
                }
            }
        }))
    }

    /// The first event after `cursor`, or waits for a change.
    async fn next_after(&self, cursor: u64) -> Next {
        let notified = self.changed.notified();
        tokio::pin!(notified);
        // Registered before looking, so a push between the look and the wait is not missed.
        notified.as_mut().enable();
        {
            let inner = lock(&self.inner);
            // The reader fell so far behind that events it never read were
            // dropped: end its stream rather than skip silently or buffer forever.
            if inner.events.front().is_some_and(|(oldest, _)| *oldest > cursor + 1) {
                return Next::Done;
            }
            if let Some(event) = inner.events.iter().find(|(seq, _)| *seq > cursor) {
                return Next::Event(event.clone());
            }
            if inner.done {
                return Next::Done;
            }
        }
        notified.await;
        Next::Changed
    }
}

#[cfg(test)]
mod tests {
    use crate::session::event_log::*;
    use futures_util::StreamExt;
    use serde_json::json;

    #[tokio::test]
    async fn a_reader_resumes_after_the_last_event_it_saw() {
        let log = Arc::new(EventLog::new("s1".into()));
        log.push(&json!({ "n": 1 }));
        log.push(&json!({ "n": 2 }));
        log.finish();
        let all: Vec<Event> = log.clone().events(0).collect().await;
        assert_eq!(all.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), [1, 2]);
        let rest: Vec<Event> = log.clone().events(log.sequence_of("s1:1").expect("ours")).collect().await;
        assert_eq!(rest.len(), 1);
        assert_eq!(&*rest[0].1, r#"{"n":2}"#);
        assert_eq!(log.sequence_of("s2:1"), None, "another stream's event");
    }
}
