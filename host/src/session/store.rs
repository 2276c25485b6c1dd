//! Every live HTTP session, capped, with idle ones expiring.
//!
//! A client that never sends DELETE leaves its session behind; sessions idle
//! longer than `idle` are reaped periodically (and at once when room is
//! needed), so abandoned sessions cannot fill the store or memory for good.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::legacy::Session;
use crate::sync::{read, write};

/// The HTTP sessions by id.
pub struct SessionStore {
    sessions: RwLock<HashMap<String, Arc<Session>>>,
    max: usize,
    idle: Duration,
    epoch: Instant,
}

/// Why a session could not be created.
#[derive(Debug, thiserror::Error)]
#[error("the server holds its maximum of {0} sessions; end unused sessions with DELETE or retry later")]
pub struct SessionsFull(pub usize);

impl SessionStore {
    /// An empty store holding at most `max` sessions, expiring those idle for `idle`.
    pub fn new(max: usize, idle: Duration) -> Self {
        Self { sessions: RwLock::new(HashMap::new()), max, idle, epoch: Instant::now() }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_secs()
    }

    /// Stores `session` under its id.
    pub fn insert(&self, session: Session) -> Result<String, SessionsFull> {
        let id = session.id.clone();
        let now = self.now();
        session.last_used.store(now, Ordering::Relaxed);
        let mut sessions = write(&self.sessions);
        if sessions.len() >= self.max {
            let idle = self.idle.as_secs();
            sessions.retain(|_, s| now.saturating_sub(s.last_used.load(Ordering::Relaxed)) < idle);
        }
        if sessions.len() >= self.max {
            return Err(SessionsFull(self.max));
        }
        sessions.insert(id.clone(), Arc::new(session));
        Ok(id)
    }

    /// The session with `id`, if it is live; counts as a use of it.
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        let session = read(&self.sessions).get(id).cloned()?;
        session.last_used.store(self.now(), Ordering::Relaxed);
        Some(session)
    }

    /// Ends the session with `id`; false if there was none.
    pub fn remove(&self, id: &str) -> bool {
        write(&self.sessions).remove(id).is_some()
    }

    /// Drops every session idle for longer than the idle time; how many went.
    pub fn reap(&self) -> usize {
        let now = self.now();
        let idle = self.idle.as_secs();
        let mut sessions = write(&self.sessions);
        let before = sessions.len();
        sessions.retain(|_, s| now.saturating_sub(s.last_used.load(Ordering::Relaxed)) < idle);
        before - sessions.len()
    }

    /// How often [`reap`](Self::reap) should run: a quarter of the idle time, 1 s to 60 s.
    pub fn reap_every(&self) -> Duration {
        (self.idle / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
    }

    /// How many sessions are live.
    pub fn len(&self) -> usize {
        read(&self.sessions).len()
    }

    /// Whether no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::session::store::*;

    #[test]
    fn idle_sessions_are_reaped_and_live_ones_kept() {
        let store = SessionStore::new(10, Duration::ZERO);
        store.insert(Session::new("2025-11-25", Value::Null).expect("random")).expect("room");
        assert_eq!(store.reap(), 1, "a session idle past a zero idle time goes");
        assert!(store.is_empty());
        let kept = SessionStore::new(10, Duration::from_secs(3600));
        kept.insert(Session::new("2025-11-25", Value::Null).expect("random")).expect("room");
        assert_eq!(kept.reap(), 0);
        assert_eq!(kept.len(), 1);
    }

    #[test]
    fn a_full_store_refuses() {
        let store = SessionStore::new(1, Duration::from_secs(3600));
        store.insert(Session::new("2025-11-25", Value::Null).expect("random")).expect("room");
        assert!(store.insert(Session::new("2025-11-25", Value::Null).expect("random")).is_err());
    }
}
