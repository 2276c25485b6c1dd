//! Every live HTTP session: capped in all and per source, idle ones
//! expiring, unused and least recently used ones reclaimed for newcomers.
//!
//! A client that never sends DELETE leaves its session behind; sessions idle
//! longer than `idle` are reaped periodically. When the store is full, a new
//! session takes the place of others instead of being refused: first
//! sessions never used (no request since `initialize`) for longer than
//! `grace`, then the least recently used sessions that are not busy. A
//! session is busy while a request runs in it (a call, a question to the
//! client awaiting its answer); an open event stream alone does not make it
//! busy: real clients hold one for the session's whole life, and a client
//! that only listens is idle. An evicted session's stream ends, and the
//! client's next request gets 404. Only when every session is busy is a new
//! one refused (503). A source at its own quota may reclaim only its own
//! unused sessions, else it is refused (429): one client's flood of
//! `initialize` fills its quota, not the server.
//!
//! Clustered, the fleet applies these rules to every replica's sessions at
//! once (see [`super::fleet_index`]), and this store holds this replica's
//! copies without caps of its own.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

mod clustered;

use super::fleet::{LocalSessions, SessionFleet};
use super::fleet_index::TOUCH_EVERY;
use super::legacy::Session;
use crate::sync::{read, write};

/// The HTTP sessions by id.
pub struct SessionStore {
    inner: Arc<Index>,
    /// Clustered: the fleet that shares the sessions.
    fleet: Option<Arc<SessionFleet>>,
    limits: SessionLimits,
    epoch: Instant,
    /// Sessions dropped for newcomers, never used.
    pub evicted_unused: AtomicU64,
    /// Sessions dropped for newcomers, least recently used.
    pub evicted_idle: AtomicU64,
    /// Sessions dropped after `idle` without use.
    pub expired: AtomicU64,
}

/// How many sessions may live, and when they may go.
#[derive(Debug, Clone)]
pub struct SessionLimits {
    /// Sessions at once.
    pub max: usize,
    /// Sessions one source may hold at once (0: no cap).
    pub per_source: usize,
    /// A session unused this long is dropped.
    pub idle: Duration,
    /// A new session never used this long may be reclaimed for another.
    pub grace: Duration,
}

/// The map, behind its lock; shared with the fleet relay, which applies other replicas' events.
#[derive(Default)]
struct Index(RwLock<Inner>);

impl std::ops::Deref for Index {
    type Target = RwLock<Inner>;
    fn deref(&self) -> &RwLock<Inner> {
        &self.0
    }
}

impl LocalSessions for Index {
    fn local(&self, id: &str) -> Option<Arc<Session>> {
        read(self).sessions.get(id).map(|e| e.session.clone())
    }

    fn drop_local(&self, id: &str) {
        write(self).remove(id);
    }

    fn busy(&self) -> Vec<String> {
        read(self).sessions.iter().filter(|(_, e)| is_busy(e)).map(|(id, _)| id.clone()).collect()
    }
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<String, Entry>,
    per_source: HashMap<Arc<str>, usize>,
}

struct Entry {
    session: Arc<Session>,
    source: Arc<str>,
    /// When the session was created, in milliseconds since the store's epoch.
    created: u64,
}

/// Why a session could not be created.
#[derive(Debug, thiserror::Error)]
pub enum SessionRefused {
    /// Every session is busy.
    #[error("the server holds its maximum of {0} sessions and every one is in use; retry later")]
    Full(usize),
    /// The source holds its quota of sessions, all in use or too new to reclaim.
    #[error("this client holds {0} sessions; end unused ones with DELETE")]
    SourceFull(usize),
    /// Clustered, and the fleet's Redis cannot be reached.
    #[error("the shared session store (Redis) is unreachable ({0}); retry later")]
    Unavailable(#[from] redis::RedisError),
}

impl Inner {
    fn remove(&mut self, id: &str) -> Option<Entry> {
        let entry = self.sessions.remove(id)?;
        entry.session.ended().cancel();
        if let Some(count) = self.per_source.get_mut(&entry.source) {
            *count -= 1;
            if *count == 0 {
                self.per_source.remove(&entry.source);
            }
        }
        Some(entry)
    }
}

impl SessionStore {
    /// An empty store under `limits`.
    pub fn new(limits: SessionLimits) -> Self {
        Self {
            inner: Arc::default(),
            fleet: None,
            limits,
            epoch: Instant::now(),
            evicted_unused: AtomicU64::new(0),
            evicted_idle: AtomicU64::new(0),
            expired: AtomicU64::new(0),
        }
    }

    /// Milliseconds since the store's epoch: fine enough to order sessions made in a burst.
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Stores `session` of `source` under its id, reclaiming room if need be (alone).
    fn insert(&self, session: Session, source: &Arc<str>) -> Result<String, SessionRefused> {
        let id = session.id.clone();
        let now = self.now();
        session.last_used.store(now, Ordering::Relaxed);
        let mut inner = write(&self.inner);
        let per_source = self.limits.per_source;
        if per_source > 0 && inner.per_source.get(source).copied().unwrap_or(0) >= per_source {
            let reclaimable = self.reclaimable(&inner, now, Some(source));
            let Some(oldest) = reclaimable.first() else {
                return Err(SessionRefused::SourceFull(per_source));
            };
            let oldest = oldest.clone();
            inner.remove(&oldest);
            self.evicted_unused.fetch_add(1, Ordering::Relaxed);
        }
        if inner.sessions.len() >= self.limits.max {
            self.make_room(&mut inner, now);
        }
        if inner.sessions.len() >= self.limits.max {
            return Err(SessionRefused::Full(self.limits.max));
        }
        *inner.per_source.entry(source.clone()).or_default() += 1;
        let entry = Entry { session: Arc::new(session), source: source.clone(), created: now };
        inner.sessions.insert(id.clone(), entry);
        Ok(id)
    }

    /// Ids of sessions (of `source`, if given) never used, past their grace and not busy, oldest first.
    fn reclaimable(&self, inner: &Inner, now: u64, source: Option<&Arc<str>>) -> Vec<String> {
        let grace = millis(self.limits.grace);
        let mut found: Vec<(u64, &String)> = inner
            .sessions
            .iter()
            .filter(|(_, e)| source.is_none_or(|s| *s == e.source))
            .filter(|(_, e)| !e.session.is_used() && now.saturating_sub(e.created) >= grace && !is_busy(e))
            .map(|(id, e)| (e.created, id))
            .collect();
        found.sort_unstable();
        found.into_iter().map(|(_, id)| id.clone()).collect()
    }

    /// Drops a batch of sessions for newcomers (one scan serves many inserts
    /// during a flood): unused ones past their grace first, then the least
    /// recently used of those not busy.
    fn make_room(&self, inner: &mut Inner, now: u64) {
        let batch = (self.limits.max / 100).max(1);
        let unused = self.reclaimable(inner, now, None);
        let taken = unused.len().min(batch);
        for id in &unused[..taken] {
            inner.remove(id);
        }
        self.evicted_unused.fetch_add(taken as u64, Ordering::Relaxed);
        if taken > 0 {
            return;
        }
        let mut idle: Vec<(u64, String)> = inner
            .sessions
            .iter()
            .filter(|(_, e)| !is_busy(e))
            .map(|(id, e)| (e.session.last_used.load(Ordering::Relaxed), id.clone()))
            .collect();
        let count = idle.len().min(batch);
        if count == 0 {
            return;
        }
        idle.select_nth_unstable(count - 1);
        for (_, id) in &idle[..count] {
            inner.remove(id);
        }
        self.evicted_idle.fetch_add(count as u64, Ordering::Relaxed);
    }

    /// The session with `id`, if it is live; counts as a use of it.
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        let session = read(&self.inner).sessions.get(id)?.session.clone();
        let now = self.now();
        session.last_used.store(now, Ordering::Relaxed);
        // Clustered, the fleet's copy expires and falls behind in the eviction order unless
        // its use is reported now and then.
        if let Some(fleet) = &self.fleet
            && now.saturating_sub(session.touched.load(Ordering::Relaxed))
                >= millis(TOUCH_EVERY.min(self.limits.idle / 8))
        {
            session.touched.store(now, Ordering::Relaxed);
            fleet.touch(id, false);
        }
        Some(session)
    }

    /// Ends the session with `id`; false if there was none.
    pub fn remove(&self, id: &str) -> bool {
        write(&self.inner).remove(id).is_some()
    }

    /// Drops every session idle for longer than the idle time; how many went.
    pub fn reap(&self) -> usize {
        let now = self.now();
        let idle = millis(self.limits.idle);
        let mut inner = write(&self.inner);
        let stale: Vec<String> = inner
            .sessions
            .iter()
            .filter(|(_, e)| now.saturating_sub(e.session.last_used.load(Ordering::Relaxed)) >= idle && !is_busy(e))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &stale {
            inner.remove(id);
        }
        self.expired.fetch_add(stale.len() as u64, Ordering::Relaxed);
        stale.len()
    }

    /// How often [`reap`](Self::reap) should run: a quarter of the idle time, 1 s to 60 s.
    pub fn reap_every(&self) -> Duration {
        (self.limits.idle / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
    }

    /// How many sessions are live.
    pub fn len(&self) -> usize {
        read(&self.inner).sessions.len()
    }

    /// Whether no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Whether a request runs in the session: such a session is never reclaimed.
fn is_busy(entry: &Entry) -> bool {
    !entry.session.in_flight().is_empty()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::session::store::*;

    fn limits(max: usize, per_source: usize, grace: u64) -> SessionLimits {
        SessionLimits { max, per_source, idle: Duration::from_secs(3600), grace: Duration::from_secs(grace) }
    }

    fn session() -> Session {
        Session::new("2025-11-25", Value::Null).expect("random")
    }

    #[test]
    fn idle_sessions_are_reaped_and_live_ones_kept() {
        let source: Arc<str> = "a".into();
        let store = SessionStore::new(SessionLimits { idle: Duration::ZERO, ..limits(10, 0, 0) });
        store.insert(session(), &source).expect("room");
        assert_eq!(store.reap(), 1, "a session idle past a zero idle time goes");
        assert!(store.is_empty());
        let kept = SessionStore::new(limits(10, 0, 0));
        kept.insert(session(), &source).expect("room");
        assert_eq!(kept.reap(), 0);
        assert_eq!(kept.len(), 1);
    }

    #[test]
    fn a_full_store_of_busy_sessions_refuses_and_otherwise_reclaims() {
        let source: Arc<str> = "a".into();
        let store = SessionStore::new(limits(1, 0, 0));
        let id = store.insert(session(), &source).expect("room");
        let first = store.get(&id).expect("live");
        let running = first.in_flight().begin(&Value::from(1), tokio_util::sync::CancellationToken::new());
        assert!(matches!(store.insert(session(), &source), Err(SessionRefused::Full(1))), "the one session is busy");
        drop(running);
        store.insert(session(), &source).expect("an unused session past its grace makes room");
        assert_eq!(store.evicted_unused.load(Ordering::Relaxed), 1);
        assert!(store.get(&id).is_none(), "the old one is gone: its client gets 404");
        assert!(first.ended().is_cancelled(), "and its event stream ends");
    }

    #[test]
    fn used_sessions_go_least_recently_used_first() {
        let source: Arc<str> = "a".into();
        let store = SessionStore::new(limits(2, 0, 3600));
        let first = store.insert(session(), &source).expect("room");
        let second = store.insert(session(), &source).expect("room");
        store.get(&first).expect("live").mark_used();
        store.get(&second).expect("live").mark_used();
        store.get(&first).expect("live").last_used.store(0, Ordering::Relaxed);
        store.get(&second).expect("live").last_used.store(5, Ordering::Relaxed);
        store.insert(session(), &source).expect("the least recently used makes room");
        assert!(store.get(&first).is_none());
        assert!(store.get(&second).is_some());
        assert_eq!(store.evicted_idle.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_source_at_its_quota_reclaims_only_its_own_unused_sessions() {
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        let store = SessionStore::new(limits(10, 1, 3600));
        let used = store.insert(session(), &a).expect("room");
        store.get(&used).expect("live").mark_used();
        assert!(matches!(store.insert(session(), &a), Err(SessionRefused::SourceFull(1))));
        store.insert(session(), &b).expect("another source is not affected");
        let fresh = SessionStore::new(limits(10, 1, 0));
        let unused = fresh.insert(session(), &a).expect("room");
        fresh.insert(session(), &a).expect("its own unused session past grace makes room");
        assert!(fresh.get(&unused).is_none());
    }
}
