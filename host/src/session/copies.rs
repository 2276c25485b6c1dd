//! The sessions this replica holds: by id, counted per source, used, busy or
//! idle, and how many went for which reason.
//!
//! Both session stores keep their sessions here: the in-process one decides
//! admission and eviction over this map (`in_process`); a cluster's store
//! holds its copies of the cluster's sessions here and lets Redis decide.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockWriteGuard};
use std::time::{Duration, Instant};

use crate::session::legacy::Session;
use crate::sync::{read, write};

/// This replica's sessions, behind one lock.
pub(crate) struct SessionMap {
    inner: RwLock<Held>,
    epoch: Instant,
    /// Sessions dropped for newcomers, never used.
    evicted_unused: AtomicU64,
    /// Sessions dropped for newcomers, least recently used.
    evicted_idle: AtomicU64,
    /// Sessions dropped after the idle time without use.
    expired: AtomicU64,
}

/// The map and the per-source counts.
#[derive(Default)]
pub(crate) struct Held {
    pub(crate) sessions: HashMap<String, Entry>,
    pub(crate) per_source: HashMap<Arc<str>, usize>,
}

/// One held session.
pub(crate) struct Entry {
    pub(crate) session: Arc<Session>,
    pub(crate) source: Arc<str>,
    /// When it was created (or adopted), in milliseconds since the map's epoch.
    pub(crate) created: u64,
}

impl Entry {
    /// Whether a request runs in the session: such a session is never reclaimed.
    pub(crate) fn is_busy(&self) -> bool {
        !self.session.in_flight().is_empty()
    }
}

/// How many sessions are held, and how many went for which reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SessionStats {
    /// Sessions held now.
    pub(crate) live: usize,
    /// Dropped for newcomers, never used.
    pub(crate) evicted_unused: u64,
    /// Dropped for newcomers, least recently used.
    pub(crate) evicted_idle: u64,
    /// Dropped after the idle time without use.
    pub(crate) expired: u64,
}

impl Held {
    /// Removes session `id`, ending it (its streams close); whether it was held.
    pub(crate) fn remove(&mut self, id: &str) -> bool {
        let Some(entry) = self.sessions.remove(id) else { return false };
        entry.session.end();
        if let Some(count) = self.per_source.get_mut(&entry.source) {
            *count -= 1;
            if *count == 0 {
                self.per_source.remove(&entry.source);
            }
        }
        true
    }

    /// Holds `session` of `source`, created at `now`; the copy held already when there is one.
    pub(crate) fn insert(&mut self, session: Arc<Session>, source: &Arc<str>, now: u64) -> Arc<Session> {
        if let Some(entry) = self.sessions.get(&session.id) {
            return entry.session.clone();
        }
        session.last_used.store(now, Ordering::Relaxed);
        *self.per_source.entry(source.clone()).or_default() += 1;
        self.sessions
            .insert(session.id.clone(), Entry { session: session.clone(), source: source.clone(), created: now });
        session
    }
}

impl Default for SessionMap {
    fn default() -> Self {
        Self {
            inner: RwLock::default(),
            epoch: Instant::now(),
            evicted_unused: AtomicU64::new(0),
            evicted_idle: AtomicU64::new(0),
            expired: AtomicU64::new(0),
        }
    }
}

impl SessionMap {
    /// Milliseconds since the map's epoch: fine enough to order sessions made in a burst.
    pub(crate) fn now(&self) -> u64 {
        millis(self.epoch.elapsed())
    }

    /// The map, for a change of several steps.
    pub(crate) fn lock(&self) -> RwLockWriteGuard<'_, Held> {
        write(&self.inner)
    }

    /// The session with `id`, if held; counts as a use of it.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Session>> {
        let session = read(&self.inner).sessions.get(id)?.session.clone();
        session.last_used.store(self.now(), Ordering::Relaxed);
        Some(session)
    }

    /// Holds `session` of `source`; the copy held already when two requests adopt it at once.
    pub(crate) fn hold(&self, session: Session, source: &Arc<str>) -> Arc<Session> {
        let now = self.now();
        session.touched.store(now, Ordering::Relaxed);
        self.lock().insert(Arc::new(session), source, now)
    }

    /// Ends session `id` here; whether it was held.
    pub(crate) fn remove(&self, id: &str) -> bool {
        self.lock().remove(id)
    }

    /// Counts sessions dropped for newcomers: `unused` ones, or least recently used.
    pub(crate) fn count_evicted(&self, unused: bool, count: u64) {
        let counter = if unused { &self.evicted_unused } else { &self.evicted_idle };
        counter.fetch_add(count, Ordering::Relaxed);
    }

    /// Drops every session not used for `idle` and not busy; how many went.
    pub(crate) fn reap(&self, idle: Duration) -> usize {
        let (now, idle) = (self.now(), millis(idle));
        let mut held = self.lock();
        let stale: Vec<String> = held
            .sessions
            .iter()
            .filter(|(_, e)| now.saturating_sub(e.session.last_used.load(Ordering::Relaxed)) >= idle && !e.is_busy())
            .map(|(id, _)| id.clone())
            .collect();
        for id in &stale {
            held.remove(id);
        }
        self.expired.fetch_add(stale.len() as u64, Ordering::Relaxed);
        stale.len()
    }

    /// The ids of the sessions running a request here.
    pub(crate) fn busy(&self) -> Vec<String> {
        read(&self.inner).sessions.iter().filter(|(_, e)| e.is_busy()).map(|(id, _)| id.clone()).collect()
    }

    /// How many are held, and how many went.
    pub(crate) fn stats(&self) -> SessionStats {
        SessionStats {
            live: read(&self.inner).sessions.len(),
            evicted_unused: self.evicted_unused.load(Ordering::Relaxed),
            evicted_idle: self.evicted_idle.load(Ordering::Relaxed),
            expired: self.expired.load(Ordering::Relaxed),
        }
    }
}

/// `duration` in whole milliseconds, saturating.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
