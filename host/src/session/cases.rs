//! The behaviour every session store must have, run against each (the
//! in-process one, the Redis one in `cluster`), so the two cannot drift.
//!
//! Only what both promise is here: a cluster cannot see which sessions run a
//! request on another replica, so it keeps every session used in the last few
//! seconds where a server alone would evict the least recently used one.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::session::legacy::Session;
use crate::session::store::{SessionLimits, SessionRefused, SessionStore};

/// Makes a store under the limits given.
pub(crate) type MakeStore<'a> = dyn Fn(SessionLimits) -> Box<dyn SessionStore> + 'a;

fn limits(max: usize, per_source: usize, grace_secs: u64) -> SessionLimits {
    SessionLimits { max, per_source, idle: Duration::from_secs(3600), grace: Duration::from_secs(grace_secs) }
}

fn session(store: &dyn SessionStore) -> Session {
    Session::new("2025-11-25", json!({ "elicitation": {} }), store.share()).expect("random")
}

/// Runs every case, each against a fresh store from `make`.
pub(crate) async fn all(make: &MakeStore<'_>) {
    opened_sessions_are_found_until_ended(make).await;
    unused_sessions_past_their_grace_make_room(make).await;
    a_source_at_its_quota_reclaims_only_its_own_unused_sessions(make).await;
    a_store_of_sessions_in_use_refuses(make).await;
    idle_sessions_are_reaped_and_live_ones_kept(make).await;
}

async fn opened_sessions_are_found_until_ended(make: &MakeStore<'_>) {
    let store = make(limits(10, 0, 0));
    let source: Arc<str> = "a".into();
    let opened = store.open(session(&*store), &source).await.expect("room");
    let found = store.get(&opened.id).expect("held where opened");
    assert!(Arc::ptr_eq(&opened, &found), "the one copy");
    assert_eq!(found.client_capabilities, json!({ "elicitation": {} }));
    assert_eq!(store.stats().live, 1);
    assert!(store.end(&opened.id).await.expect("end"), "it was live");
    assert!(opened.ended().is_cancelled(), "its streams end");
    assert!(store.get(&opened.id).is_none());
    assert!(!store.end(&opened.id).await.expect("end"), "ending it again finds nothing");
    assert!(store.adopt(&opened.id, &source).await.expect("ask").is_none(), "no replica knows it any more");
}

async fn unused_sessions_past_their_grace_make_room(make: &MakeStore<'_>) {
    let store = make(limits(1, 0, 0));
    let source: Arc<str> = "a".into();
    let first = store.open(session(&*store), &source).await.expect("room");
    let second = store.open(session(&*store), &source).await.expect("an unused session makes room");
    assert!(store.get(&first.id).is_none(), "the unused one is gone: its client gets 404");
    assert!(first.ended().is_cancelled(), "and its event stream ends");
    assert!(store.get(&second.id).is_some());
    assert_eq!(store.stats().evicted_unused, 1);
}

async fn a_source_at_its_quota_reclaims_only_its_own_unused_sessions(make: &MakeStore<'_>) {
    let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
    let patient = make(limits(10, 1, 3600));
    patient.open(session(&*patient), &a).await.expect("room");
    assert!(
        matches!(patient.open(session(&*patient), &a).await, Err(SessionRefused::SourceFull(1))),
        "its one session is within its grace"
    );
    patient.open(session(&*patient), &b).await.expect("another source is not affected");

    let quick = make(limits(10, 1, 0));
    let unused = quick.open(session(&*quick), &a).await.expect("room");
    quick.open(session(&*quick), &a).await.expect("its own unused session past grace makes room");
    assert!(quick.get(&unused.id).is_none());
}

async fn a_store_of_sessions_in_use_refuses(make: &MakeStore<'_>) {
    let store = make(limits(1, 0, 0));
    let source: Arc<str> = "a".into();
    let first = store.open(session(&*store), &source).await.expect("room");
    first.mark_used();
    let running = first.in_flight().begin(&Value::from(1), CancellationToken::new());
    // A cluster's replicas report use in batches, twice a second: let this one report.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        matches!(store.open(session(&*store), &source).await, Err(SessionRefused::Full(1))),
        "the one session is in use"
    );
    assert!(store.get(&first.id).is_some(), "and kept");
    drop(running);
}

async fn idle_sessions_are_reaped_and_live_ones_kept(make: &MakeStore<'_>) {
    let source: Arc<str> = "a".into();
    let idle = make(SessionLimits { idle: Duration::ZERO, ..limits(10, 0, 0) });
    let gone = idle.open(session(&*idle), &source).await.expect("room");
    assert_eq!(idle.reap(), 1, "a session idle past a zero idle time goes");
    assert!(idle.get(&gone.id).is_none());
    assert_eq!(idle.stats().expired, 1);
    let kept = make(limits(10, 0, 0));
    kept.open(session(&*kept), &source).await.expect("room");
    assert_eq!(kept.reap(), 0);
    assert_eq!(kept.stats().live, 1);
}
