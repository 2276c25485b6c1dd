//! One task: a tool call running in the background, its status, and what it
//! is waiting for.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::protocol::jsonrpc::RpcError;
use crate::session::EventLog;
use crate::sync::lock;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Working,
    InputRequired,
    Completed,
    Failed,
    Cancelled,
}

impl Status {
    /// The status as the wire says it.
    pub fn name(self) -> &'static str {
        match self {
            Status::Working => "working",
            Status::InputRequired => "input_required",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    /// Whether the task is done for good (completed, failed, cancelled).
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Cancelled)
    }
}

/// Which protocol generation created the task, and so which shapes it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// The Tasks extension of 2026-07-28: `tasks/get`, `tasks/update`, `tasks/cancel`.
    Extension,
    /// The experimental tasks of 2025-11-25: `tasks/get`, `tasks/result`, `tasks/list`, `tasks/cancel`.
    Legacy,
}

/// A task's changing part.
#[derive(Debug)]
pub(super) struct State {
    pub status: Status,
    pub status_message: Option<String>,
    pub updated_at: SystemTime,
    /// The underlying request's answer, once terminal (completed: a result; failed: an error).
    pub outcome: Option<Result<Value, RpcError>>,
    /// Questions for the client not answered yet (2026-07-28), by key.
    pub input_requests: Map<String, Value>,
    /// Answers received so far for the current round of questions, by key.
    pub responses: Map<String, Value>,
}

/// Who a task belongs to.
pub struct Owner {
    /// Who may see it: a legacy session's id, or the client key of its creator.
    pub key: String,
    /// Whether `key` must match on every access (it names a credential or a session).
    pub bound: bool,
    /// The source whose quota of tasks it counts against.
    pub source: std::sync::Arc<str>,
}

/// One task.
pub struct Task {
    pub id: String,
    pub flavor: Flavor,
    /// Who may see it: a legacy session's id, or the client key of its creator.
    pub owner: String,
    /// Whether `owner` must match on every access (it names a credential or a session).
    pub bound: bool,
    /// The source whose quota of tasks it counts against.
    pub source: std::sync::Arc<str>,
    pub created_at: SystemTime,
    /// How long after creation the task (and its result) may be dropped.
    pub ttl: Duration,
    /// Suggested polling interval.
    pub poll_interval: Duration,
    /// Stops the task's call.
    pub cancel: CancellationToken,
    /// Legacy: the server-to-client requests the call sends, for `tasks/result` to relay.
    pub outbox: Option<std::sync::Arc<EventLog>>,
    pub(super) state: Mutex<State>,
    /// Rounds of questions asked so far (each round's keys get its number).
    rounds: AtomicU32,
    /// Bumped on every change, so waiters (`tasks/result`, a call waiting for answers) wake.
    pub(super) changed: watch::Sender<u64>,
}

impl Task {
    pub(super) fn new(id: String, flavor: Flavor, owner: Owner, ttl: Duration, poll: Duration) -> Self {
        let now = SystemTime::now();
        Self {
            id,
            flavor,
            owner: owner.key,
            bound: owner.bound,
            source: owner.source,
            created_at: now,
            ttl,
            poll_interval: poll,
            cancel: CancellationToken::new(),
            outbox: (flavor == Flavor::Legacy).then(|| std::sync::Arc::new(EventLog::new("t".to_owned()))),
            state: Mutex::new(State {
                status: Status::Working,
                status_message: None,
                updated_at: now,
                outcome: None,
                input_requests: Map::new(),
                responses: Map::new(),
            }),
            rounds: AtomicU32::new(0),
            changed: watch::channel(0).0,
        }
    }

    /// The number of the next round of questions (1, 2, ...).
    pub fn next_round(&self) -> u32 {
        self.rounds.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The current status.
    pub fn status(&self) -> Status {
        lock(&self.state).status
    }

    /// Whether the task outlived its TTL.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        now.duration_since(self.created_at).is_ok_and(|age| age > self.ttl)
    }

    /// Applies `change` to the state (unless the task is already terminal) and wakes waiters.
    /// Returns whether anything changed.
    pub(super) fn update(&self, change: impl FnOnce(&mut State)) -> bool {
        {
            let mut state = lock(&self.state);
            if state.status.is_terminal() {
                return false;
            }
            change(&mut state);
            state.updated_at = SystemTime::now();
        }
        self.changed.send_modify(|n| *n += 1);
        true
    }

    /// A receiver that sees every later change.
    pub(super) fn watch(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}
