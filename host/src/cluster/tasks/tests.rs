//! Task records in a real `redis-server`: the cases every store passes, and what
//! only a cluster has (another replica's changes, orphans).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;

use super::RedisTasks;
use crate::cluster::testing::{TestRedis, until_subscribed};
use crate::tasks::{Flavor, Lookup, Owner, Status, TaskCaps, TaskRecord, TaskRecords, TaskState, cases};

const HOUR: Duration = Duration::from_secs(3600);

fn record(id: &str) -> TaskRecord {
    let owner = Owner { key: "client".into(), bound: false, source: Arc::from("source") };
    TaskRecord::new(id.into(), Flavor::Extension, owner, HOUR, Duration::from_millis(500))
}

#[tokio::test]
async fn the_redis_records_pass_the_shared_cases() {
    let redis = TestRedis::start();
    cases::all(&RedisTasks::new(redis.link("a"), HOUR, HOUR), "task").await;
}

#[tokio::test]
async fn a_change_on_one_replica_wakes_the_watchers_of_another() {
    let redis = TestRedis::start();
    let (link_a, link_b) = (redis.link("a"), redis.link("b"));
    let (a, b) = (RedisTasks::new(link_a.clone(), HOUR, HOUR), RedisTasks::new(link_b, HOUR, HOUR));
    until_subscribed(&link_a, "task-changes", 2).await;
    let caps = TaskCaps { max: 10, per_source: 0 };
    a.insert(record("shared"), caps).await.expect("insert");
    let mut on_a = a.watch("shared");
    let Lookup::Live(seen) = b.load("shared").await.expect("load") else { panic!("b reads a's task") };
    assert_eq!(seen.state.status, Status::Working);
    let answered = |state: &mut TaskState| {
        state.responses.insert("q".into(), json!({ "ok": true }));
        true
    };
    b.update("shared", &answered).await.expect("update").expect("changed");
    tokio::time::timeout(Duration::from_secs(5), on_a.changed()).await.expect("a woken").expect("open");
    let Lookup::Live(now) = a.load("shared").await.expect("load") else { panic!("live") };
    assert_eq!(now.state.responses["q"], json!({ "ok": true }));

    // Questions a task's call writes on one replica are read, as they come, on another.
    let log = a.question_log("shared");
    let mut questions = b.questions("shared").await.expect("ask").expect("a stream");
    log.push(&json!({ "method": "elicitation/create" }));
    let (seq, text) =
        tokio::time::timeout(Duration::from_secs(5), questions.next()).await.expect("in time").expect("one");
    assert_eq!((seq, &*text), (1, r#"{"method":"elicitation/create"}"#));
}

#[tokio::test]
async fn a_task_whose_replica_stops_renewing_is_an_orphan_once() {
    let redis = TestRedis::start();
    let lease = Duration::from_millis(300);
    let (a, b) = (RedisTasks::new(redis.link("a"), HOUR, lease), RedisTasks::new(redis.link("b"), HOUR, lease));
    let caps = TaskCaps { max: 10, per_source: 0 };
    a.insert(record("kept"), caps).await.expect("insert");
    a.insert(record("lost"), caps).await.expect("insert");
    let mut found = Vec::new();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        a.renew(&["kept".to_owned()]).await.expect("renew");
        found.extend(b.orphans().await.expect("look"));
        found.extend(a.orphans().await.expect("look"));
    }
    assert_eq!(found, ["lost"], "the task nobody renewed, handed to one replica once; the renewed one kept");
    // A task that ended holds no lease.
    let done = |state: &mut TaskState| {
        state.status = Status::Completed;
        true
    };
    a.update("kept", &done).await.expect("update").expect("changed");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(b.orphans().await.expect("look").is_empty());
}
