//! Tasks shared by the replicas of a cluster through a real `redis-server`: made on one
//! replica, polled, answered, listed and cancelled through another; failed when the
//! replica running one dies; capped per client across the cluster.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cluster::{LocalRedis, replica_with};
use crate::common::*;
use crate::tasks::{call, get, legacy, terminal, until, with_tasks};

/// How long a task may stay `working` after its replica died (`tasks::ORPHAN_BOUND`, 8 s),
/// with a second for this test's own polling.
const ORPHAN_BOUND: Duration = Duration::from_secs(9);

#[tokio::test]
async fn a_task_made_on_one_replica_is_polled_answered_cancelled_and_heard_on_another() {
    let redis = LocalRedis::start();
    let (a, _a_dir) = replica_with(&redis, &["conformance"], "replica-a", "");
    let (b, _b_dir) = replica_with(&redis, &["conformance"], "replica-b", "");

    // A task's questions, asked on A, answered through B; its result read on B.
    let asking = call(&a, "confirm_delete", json!({ "filename": "a.txt" })).await;
    let id = asking["taskId"].as_str().expect("a task").to_owned();
    let listen = with_tasks(9, "subscriptions/listen", json!({ "notifications": { "taskIds": [id] } }));
    let mut heard = stream_modern(&b, &listen).await;
    assert_eq!(heard.next().await.expect("ack")["method"], "notifications/subscriptions/acknowledged");
    let parked = until(&b, &id, |t| t["status"] == "input_required").await;
    let (key, question) = parked["inputRequests"].as_object().and_then(|q| q.iter().next()).expect("a question");
    assert_eq!(question["method"], "elicitation/create");
    let responses = json!({ key: { "action": "accept", "content": { "confirm": true } } });
    let update = with_tasks(5, "tasks/update", json!({ "taskId": id, "inputResponses": responses }));
    assert_eq!(post_modern(&b, &update).await.body["result"]["resultType"], "complete");
    let done = until(&b, &id, terminal).await;
    assert_eq!((done["status"].as_str(), first_text(&done["result"])), (Some("completed"), "deleted a.txt"));
    // The status changes on A reach the listener on B, the last one with the result.
    let last = loop {
        let notice = tokio::time::timeout(Duration::from_secs(10), heard.next()).await.expect("in time").expect("open");
        assert_eq!((&notice["method"], &notice["params"]["taskId"]), (&json!("notifications/tasks"), &json!(id)));
        if notice["params"]["status"] == "completed" {
            break notice;
        }
    };
    assert_eq!(first_text(&last["params"]["result"]), "deleted a.txt");

    // Cancelled through B, the call on A stops: the task stays cancelled, never completes.
    let slow = call(&a, "slow_compute", json!({ "seconds": 3 })).await;
    let slow_id = slow["taskId"].as_str().expect("a task");
    let cancel = with_tasks(6, "tasks/cancel", json!({ "taskId": slow_id }));
    assert_eq!(post_modern(&b, &cancel).await.status, 200);
    assert_eq!(get(&a, slow_id).await.body["result"]["status"], "cancelled");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(get(&b, slow_id).await.body["result"]["status"], "cancelled", "the call did not complete it");
}

#[tokio::test]
async fn a_2025_session_lists_and_waits_for_its_tasks_on_any_replica() {
    let redis = LocalRedis::start();
    let (a, _a_dir) = replica_with(&redis, &["conformance"], "replica-a", "");
    let (b, _b_dir) = replica_with(&redis, &["conformance"], "replica-b", "");
    let on_a = LegacySession::open(&a, "2025-11-25").await;
    let on_b = LegacySession { server: &b, id: on_a.id.clone(), version: on_a.version.clone() };
    let call = legacy(
        1,
        "tools/call",
        json!({ "name": "slow_compute", "arguments": { "seconds": 1, "label": "far" }, "task": {} }),
    );
    let created = on_a.post(&call).await;
    let id = created.body["result"]["task"]["taskId"].as_str().expect("a task").to_owned();
    let listed = on_b.post(&legacy(2, "tasks/list", json!({}))).await;
    let ids: Vec<&Value> =
        listed.body["result"]["tasks"].as_array().expect("tasks").iter().map(|t| &t["taskId"]).collect();
    assert_eq!(ids, [&json!(id)], "{}", listed.body);
    let result = on_b.post(&legacy(3, "tasks/result", json!({ "taskId": id }))).await;
    assert_eq!(first_text(&result.body["result"]), "computed far in 1 s", "{}", result.body);
    assert_eq!(on_b.post(&legacy(4, "tasks/get", json!({ "taskId": id }))).await.body["result"]["status"], "completed");
}

#[tokio::test]
async fn a_task_whose_replica_dies_fails_within_the_bound() {
    let redis = LocalRedis::start();
    let (a, _a_dir) = replica_with(&redis, &["conformance"], "replica-a", "");
    let (b, _b_dir) = replica_with(&redis, &["conformance"], "replica-b", "");
    let slow = call(&a, "slow_compute", json!({ "seconds": 60 })).await;
    let id = slow["taskId"].as_str().expect("a task").to_owned();
    assert_eq!(get(&b, &id).await.body["result"]["status"], "working");
    drop(a); // SIGKILL: no drain, no goodbye
    let died = Instant::now();
    let failed = loop {
        let task = get(&b, &id).await.body["result"].clone();
        if terminal(&task) {
            break task;
        }
        assert!(died.elapsed() < ORPHAN_BOUND, "still {} after {:?}", task["status"], died.elapsed());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(failed["status"], "failed");
    let message = failed["statusMessage"].as_str().expect("a message");
    assert!(message.contains("replica running this task stopped"), "{message}");
    assert_eq!(failed["error"]["code"], -32603, "{failed}");
}

#[tokio::test]
async fn the_task_quota_counts_the_whole_cluster() {
    let redis = LocalRedis::start();
    let quota = "[quota]\ntasks = 1\n";
    let (a, _a_dir) = replica_with(&redis, &["conformance"], "replica-a", quota);
    let (b, _b_dir) = replica_with(&redis, &["conformance"], "replica-b", quota);
    call(&a, "slow_compute", json!({ "seconds": 30 })).await;
    let over = with_tasks(1, "tools/call", json!({ "name": "slow_compute", "arguments": { "seconds": 30 } }));
    let refused = post_modern(&b, &over).await;
    assert_eq!((refused.status, refused.error_code()), (429, -32000), "{}", refused.body);
    assert_eq!(refused.body["error"]["data"]["limit"], "tasks");
}
