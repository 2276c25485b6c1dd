//! Tasks: tool calls that run in the background while the client polls
//! (the MCP Tasks extension of 2026-07-28, and the experimental tasks of
//! 2025-11-25).
//!
//! The store is the state seam for tasks: it creates them under a
//! server-wide and a per-client cap, keeps each for its TTL (then answers
//! "expired" for a while), moves them through their statuses, relays a
//! call's questions and the client's answers, and publishes every status
//! change of a 2026-07-28 task on the notice bus (`notifications/tasks` on
//! listen streams that asked for the task). It lives in process memory; the
//! router runs the calls.

mod task;
mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

pub use task::{Flavor, Owner, Status, Task};

use crate::notices::NoticeBus;
use crate::protocol::jsonrpc::{RpcError, SERVER_BUSY};
use crate::protocol::notice::Notice;
use crate::quota::{Limit, OverQuota, Quotas};
use crate::sync::lock;

/// Expired task ids remembered, so a late poll hears "expired", not "unknown".
const KEPT_TOMBSTONES: usize = 10_000;

/// How many tasks may live, for how long, and how often clients should poll.
#[derive(Debug, Clone)]
pub struct TaskLimits {
    /// Tasks held at once across the server.
    pub max: usize,
    /// Tasks held at once by one source (a token's subject, an address); 0: no cap.
    pub per_source: usize,
    /// How long a task is kept after it was created, unless a 2025-11-25 client asks for less.
    pub ttl: Duration,
    /// The longest TTL a 2025-11-25 client may ask for.
    pub max_ttl: Duration,
    /// The polling interval suggested to clients.
    pub poll_interval: Duration,
}

/// Every live task.
pub struct TaskStore {
    tasks: Mutex<HashMap<String, Arc<Task>>>,
    /// Ids of tasks dropped at their TTL, and when.
    tombstones: Mutex<HashMap<String, SystemTime>>,
    limits: TaskLimits,
    notices: NoticeBus,
    /// When expired tasks were last swept (seconds since the epoch).
    last_reap: AtomicU64,
    /// Counts refusals by the per-source cap.
    quotas: Arc<Quotas>,
}

impl TaskStore {
    /// An empty store under `limits`, telling listen streams about changes
    /// through `notices` and counting quota refusals in `quotas`.
    pub fn new(limits: TaskLimits, notices: NoticeBus, quotas: Arc<Quotas>) -> Self {
        Self {
            tasks: Mutex::default(),
            tombstones: Mutex::default(),
            limits,
            notices,
            last_reap: AtomicU64::new(0),
            quotas,
        }
    }

    /// A new working task of `owner`, kept for `ttl` (2025-11-25 clients may ask; berth caps it).
    pub fn create(&self, flavor: Flavor, owner: Owner, ttl: Option<Duration>) -> Result<Arc<Task>, RpcError> {
        self.reap_if_due();
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| RpcError::internal(format!("no randomness for a task id: {e}")))?;
        let ttl = ttl.unwrap_or(self.limits.ttl).min(self.limits.max_ttl);
        let task = Arc::new(Task::new(hex::encode(bytes), flavor, owner, ttl, self.limits.poll_interval));
        let mut tasks = lock(&self.tasks);
        if tasks.len() >= self.limits.max {
            return Err(busy(format!("the server holds its maximum of {} tasks", self.limits.max)));
        }
        let per_source = self.limits.per_source;
        if per_source > 0 && tasks.values().filter(|t| t.source == task.source).count() >= per_source {
            let detail = format!("this client holds {per_source} tasks, finished ones count until they expire");
            return Err(self.quotas.refuse(OverQuota::new(Limit::Tasks, detail, self.quotas.retry_after())).error());
        }
        tasks.insert(task.id.clone(), task.clone());
        Ok(task)
    }

    /// Task `id` as `owner` may see it, of `flavor`; -32602 when there is none.
    pub fn get(&self, id: &str, owner: &str, flavor: Flavor) -> Result<Arc<Task>, RpcError> {
        self.reap_if_due();
        let found = lock(&self.tasks).get(id).cloned();
        match found {
            Some(task) if task.is_expired(SystemTime::now()) => {
                self.drop_expired(&task);
                Err(expired(id))
            }
            Some(task) if task.flavor == flavor && (!task.bound || task.owner == owner) => Ok(task),
            Some(_) => Err(not_found(id)),
            None if lock(&self.tombstones).contains_key(id) => Err(expired(id)),
            None => Err(not_found(id)),
        }
    }

    /// The 2025-11-25 tasks of `owner`, oldest first.
    pub fn list(&self, owner: &str) -> Vec<Arc<Task>> {
        self.reap_if_due();
        let now = SystemTime::now();
        let mut tasks: Vec<Arc<Task>> = lock(&self.tasks)
            .values()
            .filter(|t| t.flavor == Flavor::Legacy && t.owner == owner && !t.is_expired(now))
            .cloned()
            .collect();
        tasks.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        tasks
    }

    /// Ends `task` with its call's answer: a result completes it, an error fails it.
    /// A task already cancelled stays cancelled.
    pub fn finish(&self, task: &Task, outcome: Result<Value, RpcError>) {
        let changed = task.update(|state| {
            state.input_requests.clear();
            match &outcome {
                Ok(_) => state.status = Status::Completed,
                Err(error) => {
                    state.status = Status::Failed;
                    state.status_message = Some(error.message.clone());
                }
            }
            state.outcome = Some(outcome);
        });
        if changed {
            self.announce(task);
        }
    }

    /// Cancels `task`: it is `cancelled` at once and its call is stopped.
    /// Returns false when it had already ended.
    pub fn cancel(&self, task: &Task) -> bool {
        let changed = task.update(|state| {
            state.status = Status::Cancelled;
            state.status_message = Some("The task was cancelled by request.".into());
            state.input_requests.clear();
        });
        task.cancel.cancel();
        if changed {
            self.announce(task);
        }
        changed
    }

    /// Parks `task` in `input_required` with `requests` (key → `{method, params}`) for the client.
    pub fn ask(&self, task: &Task, requests: Map<String, Value>) {
        let changed = task.update(|state| {
            state.status = Status::InputRequired;
            state.status_message = Some("The task needs input from the client.".into());
            state.responses.clear();
            state.input_requests = requests;
        });
        if changed {
            self.announce(task);
        }
    }

    /// Takes the client's `responses` to `task`'s open questions; answers to
    /// keys that are not open are ignored. Once every question is answered the
    /// task is `working` again.
    pub fn answer(&self, task: &Task, responses: &Map<String, Value>) {
        let changed = task.update(|state| {
            for (key, response) in responses {
                if state.input_requests.remove(key).is_some() {
                    state.responses.insert(key.clone(), response.clone());
                }
            }
            if state.input_requests.is_empty() && state.status == Status::InputRequired {
                state.status = Status::Working;
                state.status_message = None;
            }
        });
        if changed {
            self.announce(task);
        }
    }

    /// Waits until every open question of `task` is answered; the answers, or
    /// `None` when the task ended (cancelled, expired) first.
    pub async fn answers(&self, task: &Task) -> Option<Map<String, Value>> {
        let mut changes = task.watch();
        loop {
            {
                let mut state = lock(&task.state);
                if state.status.is_terminal() {
                    return None;
                }
                if state.input_requests.is_empty() {
                    return Some(std::mem::take(&mut state.responses));
                }
            }
            tokio::select! {
                () = task.cancel.cancelled() => return None,
                changed = changes.changed() => if changed.is_err() { return None },
            }
        }
    }

    /// Waits until `task` is terminal (or its TTL passes); its final answer, as
    /// `tasks/result` (2025-11-25) returns it.
    pub async fn outcome(&self, task: &Task) -> Result<Value, RpcError> {
        let mut changes = task.watch();
        let lifetime = task.ttl.saturating_sub(SystemTime::now().duration_since(task.created_at).unwrap_or_default());
        let wait = async {
            loop {
                {
                    let state = lock(&task.state);
                    match state.status {
                        Status::Completed | Status::Failed => {
                            return state.outcome.clone().unwrap_or_else(|| Err(RpcError::internal("no outcome")));
                        }
                        Status::Cancelled => return Err(RpcError::invalid_params("the task was cancelled")),
                        Status::Working | Status::InputRequired => {}
                    }
                }
                if changes.changed().await.is_err() {
                    return Err(RpcError::internal("the task is gone"));
                }
            }
        };
        tokio::time::timeout(lifetime, wait).await.unwrap_or_else(|_| Err(expired(&task.id)))
    }

    /// Tells listen streams about `task`'s new state (2026-07-28 tasks only).
    fn announce(&self, task: &Task) {
        if task.flavor == Flavor::Extension {
            self.notices.publish(Notice::TaskStatus { id: task.id.clone(), task: wire::detailed(task) });
        }
    }

    /// Drops tasks past their TTL, at most once a second.
    fn reap_if_due(&self) {
        let now = SystemTime::now();
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if self.last_reap.swap(second, Ordering::Relaxed) == second {
            return;
        }
        let expired: Vec<Arc<Task>> = lock(&self.tasks).values().filter(|t| t.is_expired(now)).cloned().collect();
        for task in expired {
            self.drop_expired(&task);
        }
    }

    fn drop_expired(&self, task: &Task) {
        task.cancel.cancel();
        lock(&self.tasks).remove(&task.id);
        let mut tombstones = lock(&self.tombstones);
        if tombstones.len() >= KEPT_TOMBSTONES {
            let horizon = SystemTime::now() - self.limits.max_ttl;
            tombstones.retain(|_, at| *at > horizon);
            if tombstones.len() >= KEPT_TOMBSTONES {
                tombstones.clear();
            }
        }
        tombstones.insert(task.id.clone(), SystemTime::now());
    }
}

/// The JSON shapes of tasks on the wire.
pub use wire::{create_result, detailed, legacy_create_result, legacy_task};

fn not_found(id: &str) -> RpcError {
    RpcError::invalid_params(format!("Failed to retrieve task: Task not found ({id})"))
}

fn expired(id: &str) -> RpcError {
    RpcError::invalid_params(format!("Failed to retrieve task: Task has expired ({id})"))
}

fn busy(message: String) -> RpcError {
    RpcError::new(SERVER_BUSY, format!("{message}; retry when some have finished"))
        .with_data(json!({ "limit": "tasks" }))
}
