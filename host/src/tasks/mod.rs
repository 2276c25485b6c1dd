//! Tasks: tool calls that run in the background while the client polls
//! (the MCP Tasks extension of 2026-07-28, and the experimental tasks of
//! 2025-11-25).
//!
//! The [`TaskStore`] creates tasks under a server-wide and a per-client cap,
//! moves them through their statuses, relays a call's questions and the
//! client's answers, and publishes every status change of a 2026-07-28 task
//! on the notice bus (`notifications/tasks` on listen streams that asked for
//! it). Records live in a [`TaskRecords`] store chosen when the server is
//! assembled (`records`: in process alone, Redis in a cluster); each call runs
//! where it started, as a [`RunningTask`] of that replica, which renews its
//! lease on it and stops it when any replica cancels the task. A task whose
//! replica stopped is failed by another replica once its lease runs out: within
//! [`LEASE`] plus one [`LEASE_RENEW`] (8 s) of its replica's last renewal. The
//! router runs the calls.

#[cfg(test)]
pub(crate) mod cases;
mod record;
mod records;
mod running;
mod wire;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures_util::stream::BoxStream;

use serde_json::{Map, Value, json};

pub(crate) use record::{Flavor, Owner, Status, TaskRecord, TaskState};
pub(crate) use records::{Change, InProcessTasks, Inserted, Lookup, TaskCaps, TaskRecords};
pub(crate) use running::RunningTask;
pub(crate) use wire::{create_result, detailed, legacy_create_result, legacy_task};

use crate::admission::{Limit, OverQuota, Quotas};
use crate::notices::NoticeBus;
use crate::protocol::jsonrpc::{RpcError, SERVER_BUSY};
use crate::protocol::notice::Notice;
use crate::session::event_log::Event;
use crate::shared::Unavailable;
use crate::sync::lock;

/// How often a replica renews its lease on the tasks it runs, and looks for orphans.
pub(crate) const LEASE_RENEW: Duration = Duration::from_secs(2);
/// How long a lease lasts unless renewed: three renewals may fail before a task is orphaned.
pub(crate) const LEASE: Duration = Duration::from_secs(6);

/// How many tasks may live, for how long, and how often clients should poll.
#[derive(Debug, Clone)]
pub(crate) struct TaskLimits {
    /// Tasks held at once across the server.
    pub(crate) max: usize,
    /// Tasks held at once by one source (a token's subject, an address); 0: no cap.
    pub(crate) per_source: usize,
    /// How long a task is kept after it was created, unless a 2025-11-25 client asks for less.
    pub(crate) ttl: Duration,
    /// The longest TTL a 2025-11-25 client may ask for.
    pub(crate) max_ttl: Duration,
    /// The polling interval suggested to clients.
    pub(crate) poll_interval: Duration,
}

/// Every task: the records, and the calls running here.
pub(crate) struct TaskStore {
    records: Arc<dyn TaskRecords>,
    /// The calls of tasks this replica runs, by task id.
    running: Mutex<HashMap<String, Arc<RunningTask>>>,
    limits: TaskLimits,
    notices: NoticeBus,
    /// Counts refusals by the per-source cap.
    quotas: Arc<Quotas>,
}

impl TaskStore {
    /// Tasks kept in `records` under `limits`, telling listen streams about changes
    /// through `notices` and counting quota refusals in `quotas`; from now on (for as long
    /// as the store lives) it renews its leases and fails orphans every [`LEASE_RENEW`].
    pub(crate) fn start(
        records: Arc<dyn TaskRecords>,
        limits: TaskLimits,
        notices: NoticeBus,
        quotas: Arc<Quotas>,
    ) -> Arc<Self> {
        let store = Arc::new(Self { records, running: Mutex::default(), limits, notices, quotas });
        tokio::spawn(keep_leases(Arc::downgrade(&store)));
        store
    }

    /// A new working task of `owner`, kept for `ttl` (2025-11-25 clients may ask; berth
    /// caps it): its record, and its call, to run here.
    pub(crate) async fn create(
        &self,
        flavor: Flavor,
        owner: Owner,
        ttl: Option<Duration>,
    ) -> Result<(TaskRecord, Arc<RunningTask>), RpcError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| RpcError::internal(format!("no randomness for a task id: {e}")))?;
        let ttl = ttl.unwrap_or(self.limits.ttl).min(self.limits.max_ttl);
        let record = TaskRecord::new(hex::encode(bytes), flavor, owner, ttl, self.limits.poll_interval);
        let caps = TaskCaps { max: self.limits.max, per_source: self.limits.per_source };
        match self.records.insert(record.clone(), caps).await.map_err(unavailable)? {
            Inserted::Stored => {}
            Inserted::Full => return Err(busy(format!("the server holds its maximum of {} tasks", caps.max))),
            Inserted::SourceFull => {
                let detail =
                    format!("this client holds {} tasks, finished ones count until they expire", caps.per_source);
                let over = OverQuota::new(Limit::Tasks, detail, self.quotas.retry_after());
                return Err(self.quotas.refuse(over).error());
            }
        }
        let outbox = (flavor == Flavor::Legacy).then(|| self.records.question_log(&record.id));
        let running = Arc::new(RunningTask::new(record.id.clone(), outbox));
        lock(&self.running).insert(record.id.clone(), running.clone());
        Ok((record, running))
    }

    /// Task `id` as `owner` may see it, of `flavor`; -32602 when there is none.
    pub(crate) async fn get(&self, id: &str, owner: &str, flavor: Flavor) -> Result<TaskRecord, RpcError> {
        match self.records.load(id).await.map_err(unavailable)? {
            Lookup::Live(record) if record.flavor == flavor && record.visible_to(owner) => Ok(*record),
            Lookup::Live(_) | Lookup::Unknown => Err(not_found(id)),
            Lookup::Expired => Err(expired(id)),
        }
    }

    /// The 2025-11-25 tasks of `owner`, oldest first.
    pub(crate) async fn list(&self, owner: &str) -> Result<Vec<TaskRecord>, RpcError> {
        self.records.list(owner, Flavor::Legacy).await.map_err(unavailable)
    }

    /// Runs `call`, the work of `task` (whose record says `record`), stopping it once the
    /// task's TTL passes or any replica cancels the task.
    pub(crate) async fn run<T>(&self, task: &RunningTask, record: &TaskRecord, call: impl Future<Output = T>) -> T {
        tokio::pin!(call);
        tokio::select! {
            done = &mut call => return done,
            () = tokio::time::sleep(record.lifetime_left()) => {}
            () = self.cancelled(&task.id) => {}
        }
        task.cancel.cancel();
        call.await
    }

    /// Resolves once task `id`'s record says it ended before its call did (cancelled by a
    /// request to any replica, or failed by one that took it for an orphan).
    async fn cancelled(&self, id: &str) {
        let mut changes = self.records.watch(id);
        loop {
            if changes.changed().await.is_err() {
                return std::future::pending().await;
            }
            if let Ok(Lookup::Live(record)) = self.records.load(id).await
                && record.state.status.is_terminal()
            {
                return;
            }
        }
    }

    /// Ends `task` with its call's answer: a result completes it, an error fails it.
    /// A task already cancelled stays cancelled.
    pub(crate) async fn finish(&self, task: &RunningTask, outcome: Result<Value, RpcError>) {
        lock(&self.running).remove(&task.id);
        let change = move |state: &mut TaskState| {
            state.input_requests.clear();
            match &outcome {
                Ok(_) => state.status = Status::Completed,
                Err(error) => {
                    state.status = Status::Failed;
                    state.status_message = Some(error.message.clone());
                }
            }
            state.outcome = Some(outcome.clone());
            true
        };
        if let Err(e) = self.change(&task.id, &change).await {
            tracing::warn!(task = %task.id, "the task's outcome was not recorded: {}", e.message);
        }
    }

    /// Cancels the task of `record`: it is `cancelled` at once and its call is stopped.
    /// Returns its cancelled record, or `None` when it had already ended.
    pub(crate) async fn cancel(&self, record: &TaskRecord) -> Result<Option<TaskRecord>, RpcError> {
        let changed = self
            .change(&record.id, &|state| {
                state.status = Status::Cancelled;
                state.status_message = Some("The task was cancelled by request.".into());
                state.input_requests.clear();
                true
            })
            .await?;
        if let Some(running) = lock(&self.running).get(&record.id) {
            running.cancel.cancel();
        }
        Ok(changed)
    }

    /// Parks `task` in `input_required` with `requests` (key → `{method, params}`) for the client.
    pub(crate) async fn ask(&self, task: &RunningTask, requests: Map<String, Value>) {
        let change = move |state: &mut TaskState| {
            state.status = Status::InputRequired;
            state.status_message = Some("The task needs input from the client.".into());
            state.responses.clear();
            state.input_requests = requests.clone();
            true
        };
        if let Err(e) = self.change(&task.id, &change).await {
            tracing::warn!(task = %task.id, "the task's questions were not recorded: {}", e.message);
        }
    }

    /// Takes the client's `responses` to task `id`'s open questions; answers to keys that
    /// are not open are ignored. Once every question is answered the task is `working` again.
    pub(crate) async fn answer(&self, id: &str, responses: &Map<String, Value>) -> Result<(), RpcError> {
        self.change(id, &|state| {
            let mut changed = false;
            for (key, response) in responses {
                if state.input_requests.remove(key).is_some() {
                    state.responses.insert(key.clone(), response.clone());
                    changed = true;
                }
            }
            if state.input_requests.is_empty() && state.status == Status::InputRequired {
                state.status = Status::Working;
                state.status_message = None;
                changed = true;
            }
            changed
        })
        .await?;
        Ok(())
    }

    /// Waits until every open question of `task` is answered; the answers, or `None` when
    /// the task ended (cancelled, expired) first.
    pub(crate) async fn answers(&self, task: &RunningTask) -> Option<Map<String, Value>> {
        let mut changes = self.records.watch(&task.id);
        loop {
            match self.records.load(&task.id).await {
                Ok(Lookup::Live(record)) if record.state.status.is_terminal() => return None,
                Ok(Lookup::Live(record)) if record.state.input_requests.is_empty() => {
                    return Some(record.state.responses);
                }
                Ok(Lookup::Live(_)) => {}
                Ok(Lookup::Expired | Lookup::Unknown) => return None,
                Err(e) => tracing::debug!(task = %task.id, "waiting for a task's answers: {e}"),
            }
            tokio::select! {
                () = task.cancel.cancelled() => return None,
                changed = changes.changed() => if changed.is_err() { return None },
            }
        }
    }

    /// Waits until the task of `record` is terminal (or its TTL passes); its final answer,
    /// as `tasks/result` (2025-11-25) returns it.
    pub(crate) async fn outcome(&self, record: &TaskRecord) -> Result<Value, RpcError> {
        let id = record.id.as_str();
        let mut changes = self.records.watch(id);
        let wait = async {
            loop {
                match self.records.load(id).await.map_err(unavailable)? {
                    Lookup::Live(record) => match record.state.status {
                        Status::Completed | Status::Failed => {
                            return record.state.outcome.unwrap_or_else(|| Err(RpcError::internal("no outcome")));
                        }
                        Status::Cancelled => return Err(RpcError::invalid_params("the task was cancelled")),
                        Status::Working | Status::InputRequired => {}
                    },
                    Lookup::Expired => return Err(expired(id)),
                    Lookup::Unknown => return Err(RpcError::internal("the task is gone")),
                }
                if changes.changed().await.is_err() {
                    return Err(RpcError::internal("the task is gone"));
                }
            }
        };
        tokio::time::timeout(record.lifetime_left(), wait).await.unwrap_or_else(|_| Err(expired(id)))
    }

    /// The questions the call of task `id` sends its client, from the first, wherever it
    /// runs (2025-11-25); `None` when it asks none.
    pub(crate) async fn questions(&self, id: &str) -> Result<Option<BoxStream<'static, Event>>, RpcError> {
        let here = lock(&self.running).get(id).and_then(|running| running.outbox.clone());
        match here {
            Some(outbox) => Ok(Some(outbox.events(0))),
            None => self.records.questions(id).await.map_err(unavailable),
        }
    }

    /// Renews the leases of the tasks running here, and fails the tasks whose replica
    /// stopped renewing theirs.
    async fn keep_leases(&self) {
        let running: Vec<String> = lock(&self.running).keys().cloned().collect();
        if let Err(e) = self.records.renew(&running).await {
            tracing::debug!("task leases not renewed: {e}");
        }
        let orphans = match self.records.orphans().await {
            Ok(orphans) => orphans,
            Err(e) => return tracing::debug!("no look for orphaned tasks: {e}"),
        };
        let message =
            format!("The replica running this task stopped: it did not renew its lease within {} s.", LEASE.as_secs());
        for id in orphans {
            let orphaned = |state: &mut TaskState| {
                state.status = Status::Failed;
                state.status_message = Some(message.clone());
                state.input_requests.clear();
                state.outcome = Some(Err(RpcError::internal(message.clone())));
                true
            };
            match self.change(&id, &orphaned).await {
                Ok(Some(_)) => tracing::warn!(task = %id, "failed a task whose replica stopped"),
                Ok(None) => {}
                Err(e) => tracing::debug!(task = %id, "orphaned task not failed yet: {}", e.message),
            }
        }
    }

    /// Applies `change` to task `id` and tells listen streams of the new state (2026-07-28
    /// tasks); the new record, or `None` when nothing changed.
    async fn change(&self, id: &str, change: records::Change<'_>) -> Result<Option<TaskRecord>, RpcError> {
        let changed = self.records.update(id, change).await.map_err(unavailable)?;
        if let Some(record) = &changed
            && record.flavor == Flavor::Extension
        {
            self.notices.publish(Notice::TaskStatus { id: record.id.clone(), task: detailed(record) });
        }
        Ok(changed)
    }
}

/// Keeps the leases of `store` every [`LEASE_RENEW`] for as long as it lives.
async fn keep_leases(store: Weak<TaskStore>) {
    let mut every = tokio::time::interval(LEASE_RENEW);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(store) = store.upgrade() else { return };
        store.keep_leases().await;
    }
}

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

/// The task store cannot be reached: the request fails as the server being busy would.
fn unavailable(e: Unavailable) -> RpcError {
    RpcError::new(SERVER_BUSY, e.to_string())
}
