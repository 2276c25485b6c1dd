//! Where task records live: the trait the task store needs, and its
//! in-process implementation.
//!
//! The call a task runs stays on the replica that started it; its record is
//! what any replica may read and change (a poll, a client's answers, a
//! cancellation), and what wakes the replica running it. Alone, records are
//! in this process; in a cluster they are in Redis, behind the same trait, so
//! a poll may land on any replica. A replica holds a lease on the tasks it
//! runs and renews it; a task whose lease runs out (its replica died) is an
//! orphan, which any replica then fails.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use futures_util::stream::BoxStream;
use tokio::sync::watch;

use super::record::{Flavor, TaskRecord, TaskState};
use crate::session::EventLog;
use crate::session::event_log::Event;
use crate::shared::Unavailable;
use crate::sync::lock;

/// Expired task ids remembered, so a late poll hears "expired", not "unknown".
const KEPT_TOMBSTONES: usize = 10_000;

/// How many tasks may be held at once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TaskCaps {
    /// Across the server (the cluster).
    pub(crate) max: usize,
    /// By one source; 0: no cap.
    pub(crate) per_source: usize,
}

/// How an insert went.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Inserted {
    Stored,
    /// The store holds `max` tasks.
    Full,
    /// The task's source holds `per_source` tasks.
    SourceFull,
}

/// What a lookup found.
#[derive(Debug)]
pub(crate) enum Lookup {
    Live(Box<TaskRecord>),
    /// The task existed and outlived its TTL.
    Expired,
    Unknown,
}

/// A change to a task's state: whether it changed anything.
pub(crate) type Change<'a> = &'a (dyn Fn(&mut TaskState) -> bool + Send + Sync);

/// Every task's record.
#[async_trait]
pub(crate) trait TaskRecords: Send + Sync {
    /// Stores `record` unless `caps` say no (finished tasks count until they expire).
    async fn insert(&self, record: TaskRecord, caps: TaskCaps) -> Result<Inserted, Unavailable>;
    /// The record of task `id`.
    async fn load(&self, id: &str) -> Result<Lookup, Unavailable>;
    /// The live records of `owner` of `flavor`, oldest first.
    async fn list(&self, owner: &str, flavor: Flavor) -> Result<Vec<TaskRecord>, Unavailable>;
    /// Applies `change` to task `id`'s state unless the task is terminal or gone; the new
    /// record when `change` changed something (its `updated_at` set, watchers woken).
    async fn update(&self, id: &str, change: Change<'_>) -> Result<Option<TaskRecord>, Unavailable>;
    /// A receiver that sees every later change of task `id`, made on any replica (closed
    /// when the task is gone).
    fn watch(&self, id: &str) -> watch::Receiver<u64>;
    /// The log a 2025-11-25 task's call writes its questions for the client to, readable by
    /// every replica through [`questions`](Self::questions).
    fn question_log(&self, id: &str) -> EventLog;
    /// The questions of task `id`, running on another replica, from the first; `None`
    /// when no replica wrote any.
    async fn questions(&self, id: &str) -> Result<Option<BoxStream<'static, Event>>, Unavailable>;
    /// Keeps this replica's lease on the tasks it runs (`running`) for another while.
    async fn renew(&self, running: &[String]) -> Result<(), Unavailable>;
    /// Takes the tasks whose replica stopped renewing their lease, for the caller to fail.
    async fn orphans(&self) -> Result<Vec<String>, Unavailable>;
}

/// A live record and what wakes its watchers.
struct Held {
    record: TaskRecord,
    changed: watch::Sender<u64>,
}

/// Every task's record, in this process.
#[derive(Default)]
pub(crate) struct InProcessTasks {
    tasks: Mutex<HashMap<String, Held>>,
    /// Ids of tasks dropped at their TTL, and when.
    tombstones: Mutex<HashMap<String, SystemTime>>,
    /// When expired tasks were last swept (seconds since the epoch).
    last_reap: AtomicU64,
}

impl InProcessTasks {
    /// Drops tasks past their TTL, at most once a second.
    fn reap_if_due(&self) {
        let now = SystemTime::now();
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if self.last_reap.swap(second, Ordering::Relaxed) == second {
            return;
        }
        let expired: Vec<(String, Duration)> = lock(&self.tasks)
            .values()
            .filter(|held| held.record.is_expired(now))
            .map(|held| (held.record.id.clone(), held.record.ttl))
            .collect();
        for (id, ttl) in expired {
            self.drop_expired(&id, ttl);
        }
    }

    /// Forgets task `id` (kept for `ttl`), remembering that it expired.
    fn drop_expired(&self, id: &str, ttl: Duration) {
        lock(&self.tasks).remove(id);
        let mut tombstones = lock(&self.tombstones);
        if tombstones.len() >= KEPT_TOMBSTONES {
            let horizon = SystemTime::now() - ttl;
            tombstones.retain(|_, at| *at > horizon);
            if tombstones.len() >= KEPT_TOMBSTONES {
                tombstones.clear();
            }
        }
        tombstones.insert(id.to_owned(), SystemTime::now());
    }
}

#[async_trait]
impl TaskRecords for InProcessTasks {
    async fn insert(&self, record: TaskRecord, caps: TaskCaps) -> Result<Inserted, Unavailable> {
        self.reap_if_due();
        let mut tasks = lock(&self.tasks);
        if tasks.len() >= caps.max {
            return Ok(Inserted::Full);
        }
        if caps.per_source > 0
            && tasks.values().filter(|held| held.record.owner.source == record.owner.source).count() >= caps.per_source
        {
            return Ok(Inserted::SourceFull);
        }
        tasks.insert(record.id.clone(), Held { record, changed: watch::channel(0).0 });
        Ok(Inserted::Stored)
    }

    async fn load(&self, id: &str) -> Result<Lookup, Unavailable> {
        self.reap_if_due();
        let found = lock(&self.tasks).get(id).map(|held| held.record.clone());
        Ok(match found {
            Some(record) if record.is_expired(SystemTime::now()) => {
                self.drop_expired(id, record.ttl);
                Lookup::Expired
            }
            Some(record) => Lookup::Live(Box::new(record)),
            None if lock(&self.tombstones).contains_key(id) => Lookup::Expired,
            None => Lookup::Unknown,
        })
    }

    async fn list(&self, owner: &str, flavor: Flavor) -> Result<Vec<TaskRecord>, Unavailable> {
        self.reap_if_due();
        let now = SystemTime::now();
        let mut found: Vec<TaskRecord> = lock(&self.tasks)
            .values()
            .map(|held| &held.record)
            .filter(|r| r.flavor == flavor && r.owner.key == owner && !r.is_expired(now))
            .cloned()
            .collect();
        found.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        Ok(found)
    }

    async fn update(&self, id: &str, change: Change<'_>) -> Result<Option<TaskRecord>, Unavailable> {
        let mut tasks = lock(&self.tasks);
        let Some(held) = tasks.get_mut(id) else { return Ok(None) };
        if held.record.state.status.is_terminal() || !change(&mut held.record.state) {
            return Ok(None);
        }
        held.record.state.updated_at = SystemTime::now();
        held.changed.send_modify(|n| *n += 1);
        Ok(Some(held.record.clone()))
    }

    fn watch(&self, id: &str) -> watch::Receiver<u64> {
        match lock(&self.tasks).get(id) {
            Some(held) => held.changed.subscribe(),
            // Gone: a receiver whose sender is dropped, so a waiter sees the end at once.
            None => watch::channel(0).1,
        }
    }

    fn question_log(&self, _id: &str) -> EventLog {
        EventLog::new("t".to_owned())
    }

    async fn questions(&self, _id: &str) -> Result<Option<BoxStream<'static, Event>>, Unavailable> {
        // Every task runs in this process: its questions are in its call's own log.
        Ok(None)
    }

    async fn renew(&self, _running: &[String]) -> Result<(), Unavailable> {
        Ok(())
    }

    async fn orphans(&self) -> Result<Vec<String>, Unavailable> {
        // The replica running a task is this process: if it stopped, so did its tasks.
        Ok(Vec::new())
    }
}
