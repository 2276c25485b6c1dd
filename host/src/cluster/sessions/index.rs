//! The cluster's index of legacy sessions in Redis: what makes the session cap, the
//! per-source quota and the eviction order hold across every replica.
//!
//! Next to each session's record (`<prefix>session:<id>`) Redis keeps
//!
//! - `<prefix>sessions:lru`, a sorted set of every live session by last use,
//! - `<prefix>sessions:fresh`, the sessions never used since `initialize`, by creation,
//! - `<prefix>sessions:source`, a hash from session to the source that opened it, and
//! - `<prefix>sessions:of:<source>`, each source's sessions by creation.
//!
//! A Lua script admits a new session atomically: it sweeps sessions idle past their time,
//! reclaims room the way a single server does (the source's own unused sessions when it is at
//! its quota; else unused sessions past their grace, then the least recently used ones), and
//! stores the record, or refuses. Times are Redis's clock, so replicas on different machines
//! agree on them.
//!
//! No replica knows what another is running, so "busy" is approximated by time: each replica
//! reports the sessions it uses (at most once per [`TOUCH_EVERY`] each) and the ones running a
//! request (every [`FLUSH_EVERY`]) in one batched script call, and a session used within
//! [`RECENT`] is never taken for a newcomer. The index is one Redis's keys, touched by key
//! names built inside the scripts: a single Redis (with or without replicas), not Redis Cluster.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::cluster::error::{ClusterError, ClusterResult};
use crate::cluster::link::Link;
use crate::session::SessionLimits;
use crate::sync::lock;

/// The longest a session in use can go without its last use reaching the index.
pub(crate) const TOUCH_EVERY: Duration = Duration::from_secs(1);
/// How often a replica sends the index the sessions it used and the ones running a request.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(500);
/// A session used this recently may be running a request somewhere: never reclaimed.
pub(crate) const RECENT: Duration = Duration::from_secs(3);

/// Removes a session from the index and deletes its record; the helpers the scripts share.
/// ARGV[1] is the key prefix in every script.
const PRELUDE: &str = r"
local p = ARGV[1]
local lru, fresh, sources = p..'sessions:lru', p..'sessions:fresh', p..'sessions:source'
local function forget(id)
  local source = redis.call('HGET', sources, id)
  local had = redis.call('DEL', p..'session:'..id)
  redis.call('ZREM', lru, id)
  redis.call('ZREM', fresh, id)
  redis.call('HDEL', sources, id)
  if source then redis.call('ZREM', p..'sessions:of:'..source, id) end
  return had
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
";

/// Admits a session. ARGV: prefix, id, record, source, idle, grace, recent (ms), max, per
/// source (0: none). Returns `{'ok', reason, id, reason, id…}` (the sessions reclaimed, each
/// `unused` or `idle`), `{'full'}` or `{'source-full'}`.
const ADMIT: &str = r"
local id, record, source = ARGV[2], ARGV[3], ARGV[4]
local idle, grace, recent = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local max, per_source = tonumber(ARGV[8]), tonumber(ARGV[9])
local now = now_ms()
for _, old in ipairs(redis.call('ZRANGEBYSCORE', lru, '-inf', now - idle)) do forget(old) end
local taken, count, reply = {}, 0, {'ok'}
local function take(victim, why)
  taken[victim] = true
  count = count + 1
  table.insert(reply, why)
  table.insert(reply, victim)
end
local mine = p..'sessions:of:'..source
if per_source > 0 and redis.call('ZCARD', mine) >= per_source then
  for _, own in ipairs(redis.call('ZRANGE', mine, 0, -1)) do
    local created = redis.call('ZSCORE', fresh, own)
    if created and tonumber(created) <= now - grace then
      take(own, 'unused')
      break
    end
  end
  if count == 0 then return {'source-full'} end
end
local need = redis.call('ZCARD', lru) - count + 1 - max
if need > 0 then
  for _, old in ipairs(redis.call('ZRANGEBYSCORE', fresh, '-inf', now - grace, 'LIMIT', 0, need + count)) do
    if need > 0 and not taken[old] then take(old, 'unused'); need = need - 1 end
  end
end
if need > 0 then
  for _, old in ipairs(redis.call('ZRANGEBYSCORE', lru, '-inf', now - recent, 'LIMIT', 0, need + count)) do
    if need > 0 and not taken[old] then take(old, 'idle'); need = need - 1 end
  end
end
if need > 0 then return {'full'} end
for victim in pairs(taken) do forget(victim) end
redis.call('SET', p..'session:'..id, record, 'PX', idle)
redis.call('ZADD', lru, now, id)
redis.call('ZADD', fresh, now, id)
redis.call('HSET', sources, id, source)
redis.call('ZADD', mine, now, id)
return reply
";

/// Records use of live sessions. ARGV: prefix, idle (ms), how many of the ids were used for
/// the first time, then those ids, then the others. A session whose record is gone (ended,
/// reclaimed, expired) leaves the index instead.
const TOUCH: &str = r"
local idle, first = tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
for i = 4, #ARGV do
  local id = ARGV[i]
  if redis.call('PEXPIRE', p..'session:'..id, idle) == 1 then
    redis.call('ZADD', lru, 'XX', now, id)
    if i < 4 + first then redis.call('ZREM', fresh, id) end
  else
    forget(id)
  end
end
return 0
";

/// Ends a session. ARGV: prefix, id. Returns 1 when it was live.
const END: &str = "return forget(ARGV[2])";

/// How a cluster-wide admission went.
pub(crate) enum Admission {
    /// Admitted; these sessions were reclaimed for it (`unused` is whether each was never used).
    Admitted(Vec<(bool, String)>),
    /// The cluster holds its maximum of sessions and none may be reclaimed.
    Full,
    /// The source holds its quota and none of its sessions may be reclaimed.
    SourceFull,
}

/// Sessions used since the last flush, waiting to be reported.
#[derive(Default)]
struct Pending {
    first_use: HashSet<String>,
    used: HashSet<String>,
}

/// The index as one replica talks to it.
pub(crate) struct SessionIndex {
    link: Arc<Link>,
    limits: SessionLimits,
    pending: Mutex<Pending>,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn script(body: &str) -> redis::Cmd {
    let mut command = redis::cmd("EVAL");
    command.arg(format!("{PRELUDE}{body}")).arg(0);
    command
}

impl SessionIndex {
    /// The index in `link`'s Redis, for sessions under `limits`.
    pub(crate) fn new(link: Arc<Link>, limits: SessionLimits) -> Self {
        Self { link, limits, pending: Mutex::default() }
    }

    /// Admits session `id` (with `record`, the JSON of its record) for `source` under the limits.
    pub(crate) async fn admit(&self, id: &str, record: &str, source: &str) -> ClusterResult<Admission> {
        let limits = &self.limits;
        let mut command = script(ADMIT);
        command
            .arg(self.link.key(""))
            .arg(id)
            .arg(record)
            .arg(source)
            .arg(millis(limits.idle))
            .arg(limits.grace.as_millis() as u64)
            .arg(millis(RECENT))
            .arg(limits.max)
            .arg(limits.per_source);
        let reply: Vec<String> = self.link.query(&command).await?;
        match reply.split_first() {
            Some((status, _)) if status == "full" => Ok(Admission::Full),
            Some((status, _)) if status == "source-full" => Ok(Admission::SourceFull),
            Some((status, reclaimed)) if status == "ok" => Ok(Admission::Admitted(
                reclaimed.chunks_exact(2).map(|pair| (pair[0] == "unused", pair[1].clone())).collect(),
            )),
            _ => Err(ClusterError::Unexpected("the session admission script answered nonsense")),
        }
    }

    /// Ends session `id` in the cluster; whether it was live.
    pub(crate) async fn end(&self, id: &str) -> ClusterResult<bool> {
        let mut command = script(END);
        command.arg(self.link.key("")).arg(id);
        let had: i64 = self.link.query(&command).await?;
        Ok(had > 0)
    }

    /// Notes that session `id` was used (`first`: for the first time); reported at the next flush.
    pub(crate) fn used(&self, id: &str, first: bool) {
        let mut pending = lock(&self.pending);
        if first {
            pending.first_use.insert(id.to_owned());
        } else {
            pending.used.insert(id.to_owned());
        }
    }

    /// Reports the sessions used since the last call and `busy` (those running a request here).
    async fn flush(&self, busy: Vec<String>) {
        let Pending { first_use, mut used } = std::mem::take(&mut *lock(&self.pending));
        used.extend(busy);
        used.retain(|id| !first_use.contains(id));
        if first_use.is_empty() && used.is_empty() {
            return;
        }
        let mut command = script(TOUCH);
        command.arg(self.link.key("")).arg(millis(self.limits.idle)).arg(first_use.len());
        command.arg(first_use.into_iter().collect::<Vec<_>>()).arg(used.into_iter().collect::<Vec<_>>());
        if let Err(e) = self.link.query::<i64>(&command).await {
            tracing::debug!("session use not reported to Redis: {e}");
        }
    }

    /// Reports use every [`FLUSH_EVERY`], asking `busy` for the sessions running a request,
    /// for as long as `index` lives.
    pub(crate) fn report(index: Weak<Self>, busy: impl Fn() -> Option<Vec<String>> + Send + 'static) {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(FLUSH_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let (Some(index), Some(busy)) = (index.upgrade(), busy()) else { return };
                index.flush(busy).await;
            }
        });
    }
}
