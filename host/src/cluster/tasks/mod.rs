//! Task records in Redis, so any replica answers a task's polls, takes its
//! client's answers and cancels it, while its call runs on the replica that
//! started it.
//!
//! Keys (after the prefix): `task:<id>` the record (`stored`), kept for twice the
//! task's TTL so a late poll hears "expired"; `tasks:all` and `tasks:source:<source>`
//! sorted by expiry, which the insert script counts against the caps;
//! `tasks:owner:<owner>` by creation, for `tasks/list`; `tasks:leases`, the tasks
//! running somewhere by when their lease runs out; `task-questions:<id>` a 2025-11-25
//! task's questions for its client (a Redis stream, `cluster::stream`). Every change
//! is a compare-and-set of the whole record, published on `task-changes` so the
//! watchers of that task on every replica wake (the replica running it, a
//! `tasks/result` waiting on another).

mod stored;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures_util::stream::BoxStream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use self::stored::StoredTask;
use crate::cluster::link::Link;
use crate::cluster::stream;
use crate::session::EventLog;
use crate::session::event_log::Event;
use crate::shared::Unavailable;
use crate::sync::lock;
use crate::tasks::{Change, Flavor, Inserted, Lookup, TaskCaps, TaskRecord, TaskRecords};

/// What a failure names.
const STORE: &str = "the task store";
/// The channel (after the prefix) a changed task's id is published on.
const CHANNEL: &str = "task-changes";
/// Compare-and-set attempts before a change gives up (another replica keeps winning).
const CAS_ATTEMPTS: usize = 16;

/// Stores a new task unless a cap says no. ARGV: prefix, id, record, source, owner,
/// created (ms), expiry (ms), keep (ms), max, per source, now (ms), lease (ms).
const INSERT: &str = r"
local p, id = ARGV[1], ARGV[2]
local now, keep = tonumber(ARGV[11]), tonumber(ARGV[8])
local all, mine = p..'tasks:all', p..'tasks:source:'..ARGV[4]
redis.call('ZREMRANGEBYSCORE', all, '-inf', now)
redis.call('ZREMRANGEBYSCORE', mine, '-inf', now)
if redis.call('ZCARD', all) >= tonumber(ARGV[9]) then return 'full' end
local per = tonumber(ARGV[10])
if per > 0 and redis.call('ZCARD', mine) >= per then return 'source-full' end
redis.call('SET', p..'task:'..id, ARGV[3], 'PX', keep)
redis.call('ZADD', all, ARGV[7], id)
redis.call('ZADD', mine, ARGV[7], id)
redis.call('PEXPIRE', mine, keep)
local owned = p..'tasks:owner:'..ARGV[5]
redis.call('ZADD', owned, ARGV[6], id)
redis.call('PEXPIRE', owned, keep)
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', p..'tasks:leases', clock + tonumber(ARGV[12]), id)
return 'ok'
";

/// Replaces a record if it is still what the caller read. KEYS: record, leases; ARGV:
/// old, new, whether the task ended (1/0), id, channel. Returns 1 when replaced.
const SWAP: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
if ARGV[3] == '1' then redis.call('ZREM', KEYS[2], ARGV[4]) end
redis.call('PUBLISH', ARGV[5], ARGV[4])
return 1
";

/// Pushes back the leases of the tasks given. KEYS: leases; ARGV: lease (ms), ids.
const RENEW: &str = r"
local t = redis.call('TIME')
local deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', deadline, ARGV[i]) end
return 0
";

/// Takes the tasks whose lease ran out (each goes to one caller only). KEYS: leases.
const ORPHANS: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 100)
for _, id in ipairs(ids) do redis.call('ZREM', KEYS[1], id) end
return ids
";

/// The watchers of tasks on this replica, by task id.
type Watchers = Mutex<HashMap<String, watch::Sender<u64>>>;

/// Every task's record in the cluster's Redis.
pub(crate) struct RedisTasks {
    link: Arc<Link>,
    watchers: Arc<Watchers>,
    /// How long a record outlives its TTL at least, and questions are kept.
    keep: Duration,
    /// How long a lease lasts unless renewed.
    lease: Duration,
}

impl RedisTasks {
    /// Records in `link`'s Redis, kept at least `keep` (the longest TTL a task may have),
    /// running tasks leased for `lease` at a time.
    pub(crate) fn new(link: Arc<Link>, keep: Duration, lease: Duration) -> Self {
        let watchers = Arc::<Watchers>::default();
        relay_changes(&link, Arc::downgrade(&watchers));
        Self { link, watchers, keep, lease }
    }

    fn key(&self, id: &str) -> String {
        self.link.key(&format!("task:{id}"))
    }

    fn questions_key(&self, id: &str) -> String {
        self.link.key(&format!("task-questions:{id}"))
    }

    /// How long to keep what belongs to a task with `ttl`, in milliseconds.
    fn keep_ms(&self, ttl: Duration) -> u64 {
        millis(self.keep.max(ttl) * 2)
    }

    /// The stored record of task `id` and its JSON, if Redis has one this berth can read.
    async fn fetch(&self, id: &str) -> Result<Option<(String, StoredTask)>, Unavailable> {
        let json: Option<String> =
            self.link.query(redis::cmd("GET").arg(self.key(id))).await.map_err(|e| e.unavailable(STORE))?;
        Ok(json.and_then(|json| serde_json::from_str(&json).ok().map(|stored| (json, stored))))
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, millis)
}

/// Wakes the watchers of task `id` here, and forgets watchers nobody holds any more.
fn wake(watchers: &Watchers, id: &str) {
    let mut watchers = lock(watchers);
    if let Some(sender) = watchers.get(id) {
        sender.send_modify(|n| *n += 1);
    }
    watchers.retain(|_, sender| sender.receiver_count() > 0);
}

/// Wakes this replica's watchers of the tasks any replica changes, for as long as they live.
fn relay_changes(link: &Arc<Link>, watchers: Weak<Watchers>) {
    let mut incoming = link.subscribe(CHANNEL);
    tokio::spawn(async move {
        while let Some(bytes) = incoming.recv().await {
            let Some(watchers) = watchers.upgrade() else { return };
            wake(&watchers, &String::from_utf8_lossy(&bytes));
        }
    });
}

#[async_trait]
impl TaskRecords for RedisTasks {
    async fn insert(&self, record: TaskRecord, caps: TaskCaps) -> Result<Inserted, Unavailable> {
        let stored = StoredTask::new(&record, self.link.replica());
        let json = serde_json::to_string(&stored).map_err(|e| Unavailable::new(format!("{STORE}: {e}")))?;
        let mut command = redis::cmd("EVAL");
        command
            .arg(INSERT)
            .arg(0)
            .arg(self.link.key(""))
            .arg(&record.id)
            .arg(json)
            .arg(stored.source())
            .arg(stored.owner())
            .arg(stored.created_ms())
            .arg(stored.expiry_ms())
            .arg(self.keep_ms(record.ttl))
            .arg(caps.max)
            .arg(caps.per_source)
            .arg(now_ms())
            .arg(millis(self.lease));
        let answer: String = self.link.query(&command).await.map_err(|e| e.unavailable(STORE))?;
        Ok(match answer.as_str() {
            "full" => Inserted::Full,
            "source-full" => Inserted::SourceFull,
            _ => Inserted::Stored,
        })
    }

    async fn load(&self, id: &str) -> Result<Lookup, Unavailable> {
        let Some((_, stored)) = self.fetch(id).await? else { return Ok(Lookup::Unknown) };
        Ok(match stored.record() {
            Some(record) if record.is_expired(SystemTime::now()) => Lookup::Expired,
            Some(record) => Lookup::Live(Box::new(record)),
            None => Lookup::Unknown,
        })
    }

    async fn list(&self, owner: &str, flavor: Flavor) -> Result<Vec<TaskRecord>, Unavailable> {
        let owned = self.link.key(&format!("tasks:owner:{owner}"));
        let ids: Vec<String> =
            self.link.query(redis::cmd("ZRANGE").arg(&owned).arg(0).arg(-1)).await.map_err(|e| e.unavailable(STORE))?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|id| self.key(id)).collect();
        let records: Vec<Option<String>> =
            self.link.query(redis::cmd("MGET").arg(&keys)).await.map_err(|e| e.unavailable(STORE))?;
        let now = SystemTime::now();
        let mut found = Vec::new();
        let mut gone = Vec::new();
        for (id, json) in ids.iter().zip(records) {
            match json.and_then(|json| serde_json::from_str::<StoredTask>(&json).ok()).and_then(StoredTask::record) {
                Some(record) if record.flavor == flavor && !record.is_expired(now) => found.push(record),
                Some(_) => {}
                None => gone.push(id.clone()),
            }
        }
        if !gone.is_empty() {
            let _ = self.link.query::<i64>(redis::cmd("ZREM").arg(&owned).arg(gone)).await;
        }
        found.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        Ok(found)
    }

    async fn update(&self, id: &str, change: Change<'_>) -> Result<Option<TaskRecord>, Unavailable> {
        for _ in 0..CAS_ATTEMPTS {
            let Some((old, stored)) = self.fetch(id).await? else { return Ok(None) };
            let replica = stored.replica.clone();
            let Some(mut record) = stored.record() else { return Ok(None) };
            if record.state.status.is_terminal() || !change(&mut record.state) {
                return Ok(None);
            }
            record.state.updated_at = SystemTime::now();
            let new = serde_json::to_string(&StoredTask::new(&record, &replica))
                .map_err(|e| Unavailable::new(format!("{STORE}: {e}")))?;
            let mut swap = redis::cmd("EVAL");
            swap.arg(SWAP)
                .arg(2)
                .arg(self.key(id))
                .arg(self.link.key("tasks:leases"))
                .arg(old)
                .arg(new)
                .arg(if record.state.status.is_terminal() { "1" } else { "0" })
                .arg(id)
                .arg(self.link.key(CHANNEL));
            let swapped: i64 = self.link.query(&swap).await.map_err(|e| e.unavailable(STORE))?;
            if swapped == 1 {
                // This replica's watchers need not wait for the published change to come back.
                wake(&self.watchers, id);
                return Ok(Some(record));
            }
        }
        Err(Unavailable::new(format!("{STORE} in Redis: task {id} kept changing under this change")))
    }

    fn watch(&self, id: &str) -> watch::Receiver<u64> {
        lock(&self.watchers).entry(id.to_owned()).or_insert_with(|| watch::channel(0).0).subscribe()
    }

    fn question_log(&self, id: &str) -> EventLog {
        EventLog::mirrored("t".to_owned(), stream::mirror(&self.link, self.questions_key(id), self.keep_ms(self.keep)))
    }

    async fn questions(&self, id: &str) -> Result<Option<BoxStream<'static, Event>>, Unavailable> {
        // The task may not have asked anything yet: follow its log from the start as it grows.
        let key = self.questions_key(id);
        Ok(Some(stream::follow(&self.link, key, 0, CancellationToken::new(), self.keep)))
    }

    async fn renew(&self, running: &[String]) -> Result<(), Unavailable> {
        if running.is_empty() {
            return Ok(());
        }
        let mut command = redis::cmd("EVAL");
        command.arg(RENEW).arg(1).arg(self.link.key("tasks:leases")).arg(millis(self.lease)).arg(running);
        self.link.query::<i64>(&command).await.map_err(|e| e.unavailable(STORE))?;
        Ok(())
    }

    async fn orphans(&self) -> Result<Vec<String>, Unavailable> {
        let mut command = redis::cmd("EVAL");
        command.arg(ORPHANS).arg(1).arg(self.link.key("tasks:leases"));
        self.link.query(&command).await.map_err(|e| e.unavailable(STORE))
    }
}

#[cfg(test)]
mod tests;
