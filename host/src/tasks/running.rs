//! A task's call as the replica running it holds it: what stops it, the
//! questions a 2025-11-25 call sends its client, and its rounds of questions.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio_util::sync::CancellationToken;

use crate::session::EventLog;

/// One task's call, running on this replica.
pub(crate) struct RunningTask {
    pub(crate) id: String,
    /// Stops the call (a cancellation, the task's TTL).
    pub(crate) cancel: CancellationToken,
    /// Legacy: the server-to-client requests the call sends, for `tasks/result` to relay.
    pub(crate) outbox: Option<Arc<EventLog>>,
    /// Rounds of questions asked so far (each round's keys get its number).
    rounds: AtomicU32,
}

impl RunningTask {
    /// The call of task `id`, about to start; `outbox` for a 2025-11-25 task's questions.
    pub(super) fn new(id: String, outbox: Option<EventLog>) -> Self {
        Self { id, cancel: CancellationToken::new(), outbox: outbox.map(Arc::new), rounds: AtomicU32::new(0) }
    }

    /// The number of the next round of questions (1, 2, ...).
    pub(crate) fn next_round(&self) -> u32 {
        self.rounds.fetch_add(1, Ordering::Relaxed) + 1
    }
}
