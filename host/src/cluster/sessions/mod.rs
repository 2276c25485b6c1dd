//! Legacy sessions shared by the replicas of a cluster, through Redis.
//!
//! The session record (negotiated version, client capabilities, log level, resource
//! subscriptions) is a JSON string under `<prefix>session:<id>` that expires after the
//! idle time, refreshed as the session is used. A replica that gets a request for a
//! session it does not hold reads the record and adopts the session; each replica keeps
//! its copy in memory (`session::SessionMap`), so a request costs no Redis round trip once
//! the session is known. Changes go to Redis and to the other replicas' copies (`relay`),
//! as do ends (DELETE), a client's answer to a question another replica asked, and
//! `notifications/cancelled` for a call another replica runs; streamed answers are copied
//! for resumption elsewhere (`stream`). The session cap, per-source quotas and the
//! eviction order hold cluster-wide through the index (`index`).

mod core;
mod index;
mod relay;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;

use crate::cluster::link::Link;
use crate::cluster::sessions::core::Core;
use crate::cluster::sessions::index::{Admission, SessionIndex, TOUCH_EVERY};
use crate::cluster::sessions::relay::{Event, Hook};
use crate::cluster::stream;
use crate::session::{
    Replay, Session, SessionLimits, SessionMap, SessionRefused, SessionShare, SessionStats, SessionStore, millis,
};
use crate::shared::Unavailable;

/// What a failure names.
const STORE: &str = "the session store";

/// This replica's copies of the cluster's sessions, and its way to the others.
pub(crate) struct ClusterSessions {
    map: Arc<SessionMap>,
    core: Arc<Core>,
    hook: Arc<dyn SessionShare>,
}

impl ClusterSessions {
    /// The sessions shared through `link`'s Redis under `limits` (the caps hold cluster-wide).
    pub(crate) fn new(link: Arc<Link>, limits: SessionLimits) -> Self {
        let index = Arc::new(SessionIndex::new(link.clone(), limits.clone()));
        let core = Arc::new(Core { link: link.clone(), index: index.clone(), limits });
        let map = Arc::new(SessionMap::default());
        relay::apply_to(&link, Arc::downgrade(&map));
        let busy = Arc::downgrade(&map);
        SessionIndex::report(Arc::downgrade(&index), move || busy.upgrade().map(|map| map.busy()));
        Self { map, hook: Arc::new(Hook(core.clone())), core }
    }
}

#[async_trait]
impl SessionStore for ClusterSessions {
    fn share(&self) -> Arc<dyn SessionShare> {
        self.hook.clone()
    }

    async fn open(&self, session: Session, source: &Arc<str>) -> Result<Arc<Session>, SessionRefused> {
        let json = serde_json::to_string(&session.record()).unwrap_or_default();
        let admission = self.core.index.admit(&session.id, &json, source).await.map_err(|e| e.unavailable(STORE))?;
        match admission {
            Admission::Full => Err(SessionRefused::Full(self.core.limits.max)),
            Admission::SourceFull => Err(SessionRefused::SourceFull(self.core.limits.per_source)),
            Admission::Admitted(reclaimed) => {
                for (unused, id) in reclaimed {
                    // Ended on every replica: here at once, on the others by the relay.
                    self.map.remove(&id);
                    self.map.count_evicted(unused, 1);
                    relay::send(&self.core.link, &id, Event::Ended);
                }
                Ok(self.map.hold(session, source))
            }
        }
    }

    fn get(&self, id: &str) -> Option<Arc<Session>> {
        let session = self.map.get(id)?;
        // The cluster's copy expires and falls behind in the eviction order unless its use
        // is reported now and then.
        let now = self.map.now();
        let every = millis(TOUCH_EVERY.min(self.core.limits.idle / 8));
        if now.saturating_sub(session.touched.load(Ordering::Relaxed)) >= every {
            session.touched.store(now, Ordering::Relaxed);
            self.core.index.used(id, false);
        }
        Some(session)
    }

    async fn adopt(&self, id: &str, source: &Arc<str>) -> Result<Option<Arc<Session>>, Unavailable> {
        let Some(record) = self.core.fetch(id).await.map_err(|e| e.unavailable(STORE))? else { return Ok(None) };
        let Some(session) = Session::restore(id, &record, self.hook.clone()) else { return Ok(None) };
        // Reaching another replica is a use, maybe the session's first.
        self.core.index.used(id, true);
        Ok(Some(self.map.hold(session, source)))
    }

    async fn end(&self, id: &str) -> Result<bool, Unavailable> {
        let here = self.map.remove(id);
        let known = self.core.index.end(id).await.map_err(|e| e.unavailable(STORE))?;
        relay::send(&self.core.link, id, Event::Ended);
        Ok(here || known)
    }

    async fn replay(&self, session: &Session, event_id: &str) -> Result<Option<Replay>, Unavailable> {
        let Some((stream, after)) = event_id.split_once(':').and_then(|(s, n)| Some((s, n.parse::<u64>().ok()?)))
        else {
            return Ok(None);
        };
        let key = self.core.events_key(&session.id, stream);
        let events = stream::replay(&self.core.link, key, after, session.ended().clone(), stream::REPLAY_QUIET).await;
        Ok(events.map_err(|e| e.unavailable(STORE))?.map(|events| (stream.to_owned(), events)))
    }

    fn reap(&self) -> usize {
        self.map.reap(self.core.limits.idle)
    }

    fn reap_every(&self) -> Duration {
        crate::session::reap_every(&self.core.limits)
    }

    fn stats(&self) -> SessionStats {
        self.map.stats()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::ClusterSessions;
    use crate::cluster::testing::{TestRedis, until_subscribed};
    use crate::session::{Session, SessionLimits, SessionStore, cases};

    #[tokio::test]
    async fn the_redis_store_passes_the_shared_cases() {
        let redis = TestRedis::start();
        let replica = std::sync::atomic::AtomicUsize::new(0);
        // Each case gets a store of its own prefix-sharing Redis, so their sessions never meet.
        cases::all(&|limits| {
            let n = replica.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Box::new(ClusterSessions::new(redis.link_with_prefix(&format!("case{n}")), limits))
        })
        .await;
    }

    fn limits() -> SessionLimits {
        SessionLimits { max: 100, per_source: 0, idle: Duration::from_secs(3600), grace: Duration::from_secs(60) }
    }

    #[tokio::test]
    async fn a_session_opened_on_one_replica_is_adopted_changed_and_ended_on_another() {
        let redis = TestRedis::start();
        let (link_a, link_b) = (redis.link("a"), redis.link("b"));
        let a = ClusterSessions::new(link_a.clone(), limits());
        let b = ClusterSessions::new(link_b, limits());
        until_subscribed(&link_a, "sessions", 2).await;
        let source: Arc<str> = "client".into();
        let opened = a.open(Session::new("2025-06-18", json!({}), a.share()).expect("random"), &source).await;
        let on_a = opened.expect("admitted");
        assert!(b.get(&on_a.id).is_none(), "b holds no copy yet");
        let on_b = b.adopt(&on_a.id, &source).await.expect("ask").expect("b adopts it");
        assert_eq!(on_b.version, "2025-06-18");

        // A change made through b reaches a's copy.
        on_b.set_log_level("debug");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while on_a.log_level() != "debug" {
            assert!(tokio::time::Instant::now() < deadline, "the change never reached a");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // A question asked on a is answered through b.
        let (question, answer) = on_a.expect_answer();
        on_b.deliver(&Value::from(question), Ok(json!({ "ok": true })));
        let answered = tokio::time::timeout(Duration::from_secs(10), answer).await.expect("in time").expect("sent");
        assert_eq!(answered.expect("a result"), json!({ "ok": true }));

        // Ended through a, b's copy ends too.
        assert!(a.end(&on_a.id).await.expect("end"));
        tokio::time::timeout(Duration::from_secs(10), on_b.ended().cancelled()).await.expect("b's copy ended");
        assert!(b.adopt(&on_a.id, &source).await.expect("ask").is_none());
    }
}
