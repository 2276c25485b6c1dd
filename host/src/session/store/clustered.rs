//! The store's side in a fleet: sessions admitted under the fleet-wide caps, and copies
//! adopted from other replicas.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Entry, SessionLimits, SessionRefused, SessionStore};
use crate::cluster::Cluster;
use crate::session::fleet::{LocalSessions, SessionFleet};
use crate::session::fleet_index::{Admission, AdmitLimits};
use crate::session::legacy::Session;
use crate::sync::write;

impl SessionStore {
    /// An empty store whose sessions are shared with the other replicas of `cluster`.
    pub fn clustered(limits: SessionLimits, cluster: Arc<Cluster>) -> Self {
        let mut store = Self::new(limits);
        let fleet = SessionFleet::new(cluster, store.limits.idle);
        let local: Arc<dyn LocalSessions> = store.inner.clone();
        fleet.relay(Arc::downgrade(&local));
        store.fleet = Some(fleet);
        store
    }

    /// The fleet the sessions are shared in, when clustered.
    pub fn fleet(&self) -> Option<&Arc<SessionFleet>> {
        self.fleet.as_ref()
    }

    /// The session with `id`: held here, or (clustered) adopted from the fleet. `None` when
    /// no replica knows it; `Err` when the fleet cannot be asked.
    pub async fn find(&self, id: &str, source: &Arc<str>) -> Result<Option<Arc<Session>>, redis::RedisError> {
        if let Some(session) = self.get(id) {
            return Ok(Some(session));
        }
        let Some(fleet) = &self.fleet else { return Ok(None) };
        let Some(record) = fleet.fetch(id).await? else { return Ok(None) };
        let Some(session) = Session::restore(id, &record) else { return Ok(None) };
        // Reaching another replica is a use, maybe the session's first.
        fleet.touch(id, true);
        self.hold(session, source);
        Ok(self.get(id))
    }

    /// Opens `session` for `source`: admitted under the caps (clustered: the fleet's), or refused.
    pub async fn open(&self, session: Session, source: &Arc<str>) -> Result<String, SessionRefused> {
        let Some(fleet) = &self.fleet else { return self.insert(session, source) };
        let limits = AdmitLimits {
            idle: self.limits.idle,
            grace: self.limits.grace,
            max: self.limits.max,
            per_source: self.limits.per_source,
        };
        match fleet.admit(&session, source, &limits).await? {
            Admission::Full => Err(SessionRefused::Full(self.limits.max)),
            Admission::SourceFull => Err(SessionRefused::SourceFull(self.limits.per_source)),
            Admission::Admitted(reclaimed) => {
                for (unused, id) in reclaimed {
                    write(&self.inner).remove(&id);
                    let counter = if unused { &self.evicted_unused } else { &self.evicted_idle };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                Ok(self.hold(session, source))
            }
        }
    }

    /// Keeps a clustered session's copy here: the fleet applied the caps.
    fn hold(&self, session: Session, source: &Arc<str>) -> String {
        if let Some(fleet) = &self.fleet {
            session.join(fleet.hook());
        }
        let id = session.id.clone();
        let now = self.now();
        session.last_used.store(now, Ordering::Relaxed);
        session.touched.store(now, Ordering::Relaxed);
        let mut inner = write(&self.inner);
        // Two requests may adopt it at once: the first copy stays (a request may be using it).
        if !inner.sessions.contains_key(&id) {
            *inner.per_source.entry(source.clone()).or_default() += 1;
            let entry = Entry { session: Arc::new(session), source: source.clone(), created: now };
            inner.sessions.insert(id.clone(), entry);
        }
        id
    }
}
