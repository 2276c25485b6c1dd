//! One task's record: what a client may read of a tool call running in the
//! background, wherever it runs (its status, timestamps, TTL, result or error,
//! open questions), kept by the [`TaskRecords`](super::TaskRecords) store.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use crate::protocol::jsonrpc::RpcError;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Working,
    InputRequired,
    Completed,
    Failed,
    Cancelled,
}

impl Status {
    /// The status as the wire says it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Status::Working => "working",
            Status::InputRequired => "input_required",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    /// Whether the task is done for good (completed, failed, cancelled).
    pub(crate) fn is_terminal(self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Cancelled)
    }
}

/// Which protocol generation created the task, and so which shapes it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// The Tasks extension of 2026-07-28: `tasks/get`, `tasks/update`, `tasks/cancel`.
    Extension,
    /// The experimental tasks of 2025-11-25: `tasks/get`, `tasks/result`, `tasks/list`, `tasks/cancel`.
    Legacy,
}

/// Who a task belongs to.
#[derive(Debug, Clone)]
pub(crate) struct Owner {
    /// Who may see it: a legacy session's id, or the client key of its creator.
    pub(crate) key: String,
    /// Whether `key` must match on every access (it names a credential or a session).
    pub(crate) bound: bool,
    /// The source whose quota of tasks it counts against.
    pub(crate) source: Arc<str>,
}

/// A task's changing part.
#[derive(Debug, Clone)]
pub(crate) struct TaskState {
    pub(crate) status: Status,
    pub(crate) status_message: Option<String>,
    pub(crate) updated_at: SystemTime,
    /// The underlying request's answer, once terminal (completed: a result; failed: an error).
    pub(crate) outcome: Option<Result<Value, RpcError>>,
    /// Questions for the client not answered yet, by key.
    pub(crate) input_requests: Map<String, Value>,
    /// Answers received so far for the current round of questions, by key.
    pub(crate) responses: Map<String, Value>,
}

/// One task, as any replica may read it.
#[derive(Debug, Clone)]
pub(crate) struct TaskRecord {
    pub(crate) id: String,
    pub(crate) flavor: Flavor,
    pub(crate) owner: Owner,
    pub(crate) created_at: SystemTime,
    /// How long after creation the task (and its result) may be dropped.
    pub(crate) ttl: Duration,
    /// Suggested polling interval.
    pub(crate) poll_interval: Duration,
    pub(crate) state: TaskState,
}

impl TaskRecord {
    /// A new working task.
    pub(crate) fn new(id: String, flavor: Flavor, owner: Owner, ttl: Duration, poll_interval: Duration) -> Self {
        let now = SystemTime::now();
        let state = TaskState {
            status: Status::Working,
            status_message: None,
            updated_at: now,
            outcome: None,
            input_requests: Map::new(),
            responses: Map::new(),
        };
        Self { id, flavor, owner, created_at: now, ttl, poll_interval, state }
    }

    /// Whether the task outlived its TTL at `now`.
    pub(crate) fn is_expired(&self, now: SystemTime) -> bool {
        now.duration_since(self.created_at).is_ok_and(|age| age > self.ttl)
    }

    /// How long until it expires (zero once it has).
    pub(crate) fn lifetime_left(&self) -> Duration {
        self.ttl.saturating_sub(SystemTime::now().duration_since(self.created_at).unwrap_or_default())
    }

    /// Whether `owner` may see it.
    pub(crate) fn visible_to(&self, owner: &str) -> bool {
        !self.owner.bound || self.owner.key == owner
    }
}
