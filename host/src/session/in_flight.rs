//! Requests running now, by JSON-RPC id, with the token that cancels each.
//!
//! A legacy HTTP session keeps one (its `notifications/cancelled` arrive on
//! other POSTs), and so does each WebSocket or stdio connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::sync::lock;

/// The running requests of one session or connection.
#[derive(Default)]
pub(crate) struct InFlight {
    running: Mutex<HashMap<String, (u64, CancellationToken)>>,
    next: AtomicU64,
}

/// Marks one request as running until it is dropped.
pub(crate) struct Running {
    tracker: Arc<InFlight>,
    key: String,
    generation: u64,
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut running = lock(&self.tracker.running);
        // A later request that reused the id owns the entry now: leave it.
        if running.get(&self.key).is_some_and(|(generation, _)| *generation == self.generation) {
            running.remove(&self.key);
        }
    }
}

/// The key of a request id: its JSON text, so `1` and `"1"` stay apart.
fn key(id: &Value) -> String {
    id.to_string()
}

impl InFlight {
    /// Records that request `id` runs until the returned guard drops, cancelled by `token`.
    pub(crate) fn begin(self: &Arc<Self>, id: &Value, token: CancellationToken) -> Running {
        let key = key(id);
        let generation = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.running).insert(key.clone(), (generation, token));
        Running { tracker: self.clone(), key, generation }
    }

    /// Cancels request `id` (from `notifications/cancelled`); false if it is not running.
    pub(crate) fn cancel(&self, id: &Value) -> bool {
        match lock(&self.running).get(&key(id)) {
            Some((_, token)) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Whether nothing is running.
    pub(crate) fn is_empty(&self) -> bool {
        lock(&self.running).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use crate::session::in_flight::*;
    use serde_json::json;

    #[test]
    fn cancel_reaches_the_running_request_only() {
        let tracker = Arc::new(InFlight::default());
        let token = CancellationToken::new();
        let running = tracker.begin(&json!(1), token.clone());
        assert!(!tracker.cancel(&json!("1")), "a string id is another request");
        assert!(tracker.cancel(&json!(1)));
        assert!(token.is_cancelled());
        drop(running);
        assert!(tracker.is_empty());
        assert!(!tracker.cancel(&json!(1)), "finished requests cannot be cancelled");
    }

    #[test]
    fn a_reused_id_keeps_its_own_entry() {
        let tracker = Arc::new(InFlight::default());
        let first = tracker.begin(&json!(7), CancellationToken::new());
        let second_token = CancellationToken::new();
        let _second = tracker.begin(&json!(7), second_token.clone());
        drop(first);
        assert!(tracker.cancel(&json!(7)), "the second request is still tracked");
        assert!(second_token.is_cancelled());
    }
}
