//! The session store of a server alone: every session in this process,
//! capped in all and per source, idle ones expiring, unused and least
//! recently used ones reclaimed for newcomers.
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

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;

use crate::session::copies::{Held, SessionMap, SessionStats, millis};
use crate::session::legacy::Session;
use crate::session::share::{SessionShare, unshared};
use crate::session::store::{Replay, SessionLimits, SessionRefused, SessionStore, reap_every};
use crate::shared::Unavailable;

/// Every session, in this process.
pub(crate) struct InProcessSessions {
    map: SessionMap,
    limits: SessionLimits,
}

impl InProcessSessions {
    /// An empty store under `limits`.
    pub(crate) fn new(limits: SessionLimits) -> Self {
        Self { map: SessionMap::default(), limits }
    }

    /// Ids of sessions (of `source`, if given) never used, past their grace and not busy, oldest first.
    fn reclaimable(&self, held: &Held, now: u64, source: Option<&Arc<str>>) -> Vec<String> {
        let grace = millis(self.limits.grace);
        let mut found: Vec<(u64, &String)> = held
            .sessions
            .iter()
            .filter(|(_, e)| source.is_none_or(|s| *s == e.source))
            .filter(|(_, e)| !e.session.is_used() && now.saturating_sub(e.created) >= grace && !e.is_busy())
            .map(|(id, e)| (e.created, id))
            .collect();
        found.sort_unstable();
        found.into_iter().map(|(_, id)| id.clone()).collect()
    }

    /// Drops a batch of sessions for newcomers (one scan serves many inserts
    /// during a flood): unused ones past their grace first, then the least
    /// recently used of those not busy.
    fn make_room(&self, held: &mut Held, now: u64) {
        let batch = (self.limits.max / 100).max(1);
        let unused = self.reclaimable(held, now, None);
        let taken = unused.len().min(batch);
        for id in &unused[..taken] {
            held.remove(id);
        }
        self.map.count_evicted(true, taken as u64);
        if taken > 0 {
            return;
        }
        let mut idle: Vec<(u64, String)> = held
            .sessions
            .iter()
            .filter(|(_, e)| !e.is_busy())
            .map(|(id, e)| (e.session.last_used.load(Ordering::Relaxed), id.clone()))
            .collect();
        let count = idle.len().min(batch);
        if count == 0 {
            return;
        }
        idle.select_nth_unstable(count - 1);
        for (_, id) in &idle[..count] {
            held.remove(id);
        }
        self.map.count_evicted(false, count as u64);
    }
}

#[async_trait]
impl SessionStore for InProcessSessions {
    fn share(&self) -> Arc<dyn SessionShare> {
        unshared()
    }

    async fn open(&self, session: Session, source: &Arc<str>) -> Result<Arc<Session>, SessionRefused> {
        let now = self.map.now();
        let mut held = self.map.lock();
        let per_source = self.limits.per_source;
        if per_source > 0 && held.per_source.get(source).copied().unwrap_or(0) >= per_source {
            let Some(oldest) = self.reclaimable(&held, now, Some(source)).into_iter().next() else {
                return Err(SessionRefused::SourceFull(per_source));
            };
            held.remove(&oldest);
            self.map.count_evicted(true, 1);
        }
        if held.sessions.len() >= self.limits.max {
            self.make_room(&mut held, now);
        }
        if held.sessions.len() >= self.limits.max {
            return Err(SessionRefused::Full(self.limits.max));
        }
        Ok(held.insert(Arc::new(session), source, now))
    }

    fn get(&self, id: &str) -> Option<Arc<Session>> {
        self.map.get(id)
    }

    async fn adopt(&self, _id: &str, _source: &Arc<str>) -> Result<Option<Arc<Session>>, Unavailable> {
        // No other replica: what is not held here does not exist.
        Ok(None)
    }

    async fn end(&self, id: &str) -> Result<bool, Unavailable> {
        Ok(self.map.remove(id))
    }

    async fn replay(&self, _session: &Session, _event_id: &str) -> Result<Option<Replay>, Unavailable> {
        Ok(None)
    }

    fn reap(&self) -> usize {
        self.map.reap(self.limits.idle)
    }

    fn reap_every(&self) -> Duration {
        reap_every(&self.limits)
    }

    fn stats(&self) -> SessionStats {
        self.map.stats()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use serde_json::Value;

    use crate::session::in_process::InProcessSessions;
    use crate::session::{Session, SessionLimits, SessionStore, cases, unshared};

    #[tokio::test]
    async fn the_in_process_store_passes_the_shared_cases() {
        cases::all(&|limits| Box::new(InProcessSessions::new(limits))).await;
    }

    fn limits(max: usize, grace: u64) -> SessionLimits {
        SessionLimits { max, per_source: 0, idle: Duration::from_secs(3600), grace: Duration::from_secs(grace) }
    }

    fn session() -> Session {
        Session::new("2025-11-25", Value::Null, unshared()).expect("random")
    }

    #[tokio::test]
    async fn used_sessions_go_least_recently_used_first() {
        // Alone, a session not running a request is not busy, however recently it was used
        // (a cluster cannot tell, and keeps recently used sessions instead: `cluster::sessions`).
        let source: Arc<str> = "a".into();
        let store = InProcessSessions::new(limits(2, 3600));
        let first = store.open(session(), &source).await.expect("room");
        let second = store.open(session(), &source).await.expect("room");
        first.mark_used();
        second.mark_used();
        first.last_used.store(0, Ordering::Relaxed);
        second.last_used.store(5, Ordering::Relaxed);
        store.open(session(), &source).await.expect("the least recently used makes room");
        assert!(store.get(&first.id).is_none());
        assert!(store.get(&second.id).is_some());
        assert_eq!(store.stats().evicted_idle, 1);
    }
}
