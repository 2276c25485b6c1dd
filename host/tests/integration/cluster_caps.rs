//! The session cap and the per-source session quota hold across a cluster of replicas
//! sharing a real `redis-server`: counted, and reclaimed, cluster-wide.

use std::time::Duration;

use serde_json::json;

use crate::cluster::{LocalRedis, replica_with};
use crate::common::*;

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

/// Opens a session on `server`; its id.
async fn open(server: &Server) -> String {
    let reply = legacy_initialize(server, &server.client()).await;
    assert_eq!(reply.status, 200, "initialize: {}", reply.body);
    reply.headers.get("mcp-session-id").expect("session id").to_str().expect("ascii").to_owned()
}

/// The status of a ping in session `id` through `server`.
async fn ping(server: &Server, id: &str) -> u16 {
    let headers = [
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-session-id", id),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    post_raw(server, &headers, PING).await.status
}

/// Waits up to 5 s for session `id` to be gone (404) through `server`.
async fn until_gone(server: &Server, id: &str) {
    let mut status = 0;
    for _ in 0..50 {
        status = ping(server, id).await;
        if status == 404 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("session {id} still answers {status} through {}", server.base);
}

async fn evicted(server: &Server, reason: &str) -> f64 {
    let series = format!("berth_sessions_evicted_total{{reason=\"{reason}\"}}");
    metric_value(&metrics_text(server).await, &series).unwrap_or(0.0)
}

/// Lets each replica's batched report of session use (every 0.5 s) reach Redis.
async fn reported() {
    tokio::time::sleep(Duration::from_millis(1200)).await;
}

#[tokio::test]
async fn the_session_cap_counts_and_reclaims_across_the_cluster() {
    let redis = LocalRedis::start();
    // The long call below must outlast the test.
    let config = "[http]\nmax_sessions = 3\nsession_grace_secs = 1\n[limits]\ndeadline_ms = 60000\n";
    let (a, _a_dir) = replica_with(&redis, &["conformance"], "replica-a", config);
    let (b, _b_dir) = replica_with(&redis, &["conformance"], "replica-b", config);

    // Two used sessions, each made on one replica and used on the other, and one never used.
    let first = open(&a).await;
    assert_eq!(ping(&b, &first).await, 200);
    let second = open(&b).await;
    assert_eq!(ping(&a, &second).await, 200);
    let unused = open(&a).await;
    reported().await;

    // The cluster is full: a newcomer on B takes the unused session A made, not a used one.
    let fourth = open(&b).await;
    until_gone(&a, &unused).await;
    assert_eq!(ping(&a, &second).await, 200);
    assert_eq!(ping(&b, &first).await, 200);
    assert_eq!(ping(&b, &fourth).await, 200);
    assert_eq!(evicted(&b, "unused").await, 1.0);
    reported().await;

    // Nothing may go now (all used, and so recently that they may be running a request): 503.
    let refused = legacy_initialize(&a, &a.client()).await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    let message = refused.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("maximum of 3 sessions"), "{}", refused.body);
    assert!(refused.headers.contains_key("retry-after"));

    // The second starts a long call on A, then the first is used, later the fourth. Then
    // the least recently used session that is not busy (the first, last used through B)
    // goes for a newcomer on A; the busy one, though used before it, stays.
    let call =
        json!({ "jsonrpc": "2.0", "id": "long", "method": "tools/call", "params": { "name": "test_wait_for_cancel" } });
    let running = tokio::spawn(
        a.client()
            .post(&a.url)
            .header("content-type", "application/json")
            .header("accept", "text/event-stream")
            .header("mcp-session-id", &second)
            .header("mcp-protocol-version", "2025-11-25")
            .body(call.to_string())
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ping(&b, &first).await, 200);
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(ping(&a, &fourth).await, 200);
    reported().await;
    let fifth = open(&a).await;
    until_gone(&b, &first).await;
    until_gone(&a, &first).await;
    // Its stream is still open: no answer came (a cancelled or failed call would have ended it).
    let mut stream = SseReader::new(running.await.expect("task").expect("sent"));
    let pending = tokio::time::timeout(Duration::from_millis(300), stream.next()).await;
    assert!(pending.is_err(), "the long call still runs: {pending:?}");
    drop(stream);
    for (server, id) in [(&b, &second), (&b, &fourth), (&b, &fifth)] {
        assert_eq!(ping(server, id).await, 200, "session {id}");
    }
    assert_eq!(evicted(&a, "idle").await, 1.0);
}

#[tokio::test]
async fn a_source_quota_counts_its_sessions_on_every_replica() {
    let redis = LocalRedis::start();
    let config = "[http]\nsession_grace_secs = 60\n[quota]\nsessions = 2\nrefusal_delay_ms = 0\n";
    let (a, _a_dir) = replica_with(&redis, &["echo"], "replica-a", config);
    let (b, _b_dir) = replica_with(&redis, &["echo"], "replica-b", config);
    let one = open(&a).await;
    let _two = open(&b).await;

    // A third from the same address is over quota, on either replica.
    for server in [&a, &b] {
        let refused = legacy_initialize(server, &server.client()).await;
        assert_eq!(refused.status, 429, "{}", refused.body);
        assert_eq!(refused.body["error"]["data"]["limit"], "sessions", "{}", refused.body);
    }
    // Another address is not.
    let other = legacy_initialize(&b, &b.client_from(2)).await;
    assert_eq!(other.status, 200, "{}", other.body);

    // Ending one of its sessions through the replica that did not make it frees its place.
    let deleted = b.client().delete(&b.url).header("mcp-session-id", &one).send().await.expect("delete");
    assert_eq!(deleted.status(), 204);
    let again = legacy_initialize(&a, &a.client()).await;
    assert_eq!(again.status, 200, "{}", again.body);
}
