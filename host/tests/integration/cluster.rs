//! Replicas sharing state through a real `redis-server` on a free loopback port.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

pub const SECRET: &str = "a shared secret for the test cluster";

/// A `redis-server` that writes every command to its append-only file before answering
/// (so a restart keeps acknowledged writes).
pub struct LocalRedis {
    service: Service,
    _dir: tempfile::TempDir,
}

impl LocalRedis {
    pub fn start() -> LocalRedis {
        let dir = tempfile::tempdir().expect("redis dir");
        let (port, data) = (free_port(), dir.path().to_owned());
        let service = Service::start("redis-server", port, move || {
            let mut command = Command::new("redis-server");
            command
                .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", ""])
                .args(["--appendonly", "yes", "--appendfsync", "always", "--dir"])
                .arg(&data);
            command
        });
        LocalRedis { service, _dir: dir }
    }

    fn resume(&mut self) {
        self.service.resume();
    }

    fn stop(&mut self) {
        self.service.stop();
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.service.port)
    }

    pub fn port(&self) -> u16 {
        self.service.port
    }
}

/// A replica serving `plugins`, clustered on `redis`.
fn replica(redis: &LocalRedis, plugins: &[&str], name: &str) -> (Server, tempfile::TempDir) {
    replica_with(redis, plugins, name, "")
}

/// A replica serving `plugins` with `toml` as its config file, clustered on `redis`.
pub fn replica_with(redis: &LocalRedis, plugins: &[&str], name: &str, toml: &str) -> (Server, tempfile::TempDir) {
    replica_at(&redis.url(), plugins, name, toml)
}

/// A replica serving `plugins` with `toml` as its config file, clustered on the Redis at `url`.
pub fn replica_at(url: &str, plugins: &[&str], name: &str, toml: &str) -> (Server, tempfile::TempDir) {
    let dir = plugin_dir(plugins);
    // The faulty fixture's counter needs the store.
    std::fs::write(dir.path().join("faulty.toml"), "[capabilities]\nkv = true\n").expect("sidecar");
    let config = dir.path().join("berth-config.toml");
    std::fs::write(&config, toml).expect("config");
    let env = HashMap::from([("BERTH_CLUSTER_SECRET", SECRET)]);
    let config = config.to_str().expect("utf-8 path");
    let server =
        Server::start_in_with_env(dir.path(), &["--redis", url, "--replica-id", name, "--config", config], &env);
    (server, dir)
}

async fn readyz(server: &Server) -> Value {
    let response = server.client().get(format!("{}/readyz", server.base)).send().await.expect("readyz");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

/// Waits up to 10 s for `/readyz` to report Redis as `state`.
pub async fn until_redis(server: &Server, state: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        last = readyz(server).await;
        if last["cluster"]["redis"] == state {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("redis never reported {state}: {last}");
}

fn with_elicitation(mut body: Value) -> Value {
    body["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"] = json!({ "elicitation": {} });
    body
}

#[test]
fn a_clustered_start_without_the_shared_secret_is_refused() {
    let dir = plugin_dir(&["echo"]);
    let output = berth()
        .env_remove("BERTH_CLUSTER_SECRET")
        .args(["serve", "--listen", "127.0.0.1:0", "--redis", "redis://127.0.0.1:1", "--plugins"])
        .arg(dir.path())
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("BERTH_CLUSTER_SECRET") && stderr.lines().count() == 1, "{stderr}");
}

#[tokio::test]
async fn a_listener_on_one_replica_hears_a_change_made_on_another() {
    let redis = LocalRedis::start();
    let (a, _a_dir) = replica(&redis, &["conformance"], "replica-a");
    let (b, _b_dir) = replica(&redis, &["conformance"], "replica-b");
    until_redis(&a, "up").await;
    let ready = until_redis(&b, "up").await;
    assert_eq!(ready["cluster"]["replica"], "replica-b");

    let mut listen = modern_body(5, "subscriptions/listen", json!({ "notifications": { "toolsListChanged": true } }));
    listen["params"]["_meta"] = envelope();
    let mut stream = stream_modern(&b, &listen).await;
    assert_eq!(stream.next().await.expect("ack")["method"], "notifications/subscriptions/acknowledged");
    call_tool(&a, "test_trigger_tool_change", json!({})).await;
    let notice = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("a notice").expect("open");
    assert_eq!(notice["method"], "notifications/tools/list_changed");
    assert_eq!(notice["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], 5);
}

#[tokio::test]
async fn a_multi_round_result_continues_on_another_replica() {
    let redis = LocalRedis::start();
    let (a, _a_dir) = replica(&redis, &["conformance"], "replica-a");
    let (b, _b_dir) = replica(&redis, &["conformance"], "replica-b");
    let name = "test_input_required_result_request_state";
    let call = |extra: Value| {
        let mut params = json!({ "name": name, "arguments": {} });
        if let Value::Object(extra) = extra {
            params.as_object_mut().expect("object").extend(extra);
        }
        with_elicitation(modern_body(1, "tools/call", params))
    };
    let round1 = post_modern(&a, &call(json!({}))).await;
    assert_eq!(round1.body["result"]["resultType"], "input_required", "{}", round1.body);
    let token = round1.body["result"]["requestState"].clone();
    let answers = json!({ "confirm": { "action": "accept", "content": { "ok": true } } });
    let round2 = post_modern(&b, &call(json!({ "inputResponses": answers, "requestState": token }))).await;
    assert_eq!(round2.body["result"]["resultType"], "complete", "{}", round2.body);
    assert!(first_text(&round2.body["result"]).contains("state-ok"));
}

#[tokio::test]
async fn redis_going_away_is_reported_survived_and_recovered_from() {
    let mut redis = LocalRedis::start();
    let (a, _a_dir) = replica(&redis, &["echo", "conformance"], "replica-a");
    let (b, _b_dir) = replica(&redis, &["conformance"], "replica-b");
    until_redis(&a, "up").await;
    until_redis(&b, "up").await;

    let up = |text: &str| metric_value(text, r#"berth_redis_up{replica="replica-a"}"#);
    assert_eq!(up(&metrics_text(&a).await), Some(1.0));
    redis.stop();
    until_redis(&a, "down").await;
    assert_eq!(up(&metrics_text(&a).await), Some(0.0));
    // Stateless calls touch no shared state: they keep working.
    let result = call_tool(&a, "echo", json!({ "text": "no redis needed" })).await;
    assert_eq!(first_text(&result), "no redis needed");

    // Redis comes back on the same port: the replicas reconnect by themselves.
    redis.resume();
    until_redis(&a, "up").await;
    until_redis(&b, "up").await;
    assert_eq!(up(&metrics_text(&a).await), Some(1.0));
    let mut listen = modern_body(6, "subscriptions/listen", json!({ "notifications": { "toolsListChanged": true } }));
    listen["params"]["_meta"] = envelope();
    let mut stream = stream_modern(&b, &listen).await;
    stream.next().await.expect("ack");
    call_tool(&a, "test_trigger_tool_change", json!({})).await;
    let notice = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("a notice").expect("open");
    assert_eq!(notice["method"], "notifications/tools/list_changed");
}

async fn counter(server: &Server) -> (bool, String) {
    let result = call_tool(server, "faulty_counter", json!({})).await;
    (result["isError"] == true, first_text(&result).to_owned())
}

#[tokio::test]
async fn plugin_key_values_are_shared_and_kept_across_a_redis_restart() {
    let mut redis = LocalRedis::start();
    let (a, _a_dir) = replica(&redis, &["faulty"], "replica-a");
    let (b, _b_dir) = replica(&redis, &["faulty"], "replica-b");
    // Written through one replica, read and incremented through the other.
    assert_eq!(counter(&a).await, (false, "1".to_owned()));
    assert_eq!(counter(&b).await, (false, "2".to_owned()));
    assert_eq!(counter(&a).await, (false, "3".to_owned()));

    // Without Redis a kv call fails that call, with the reason; other tools still answer.
    redis.stop();
    let (failed, text) = counter(&a).await;
    assert!(failed && text.contains("unreachable"), "{text}");
    let result = call_tool(&a, "faulty_ok", json!({})).await;
    assert_ne!(result["isError"], true, "{result}");

    // Redis back (with its append-only file): every acknowledged write is still there.
    redis.resume();
    let mut last = (true, String::new());
    for _ in 0..50 {
        last = counter(&b).await;
        if !last.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last, (false, "4".to_owned()));
    let cleared = call_tool(&a, "faulty_kv_clear", json!({})).await;
    assert_eq!(first_text(&cleared), "count");
    assert_eq!(counter(&b).await, (false, "1".to_owned()));
}

#[tokio::test]
async fn a_legacy_session_made_on_one_replica_continues_and_ends_on_another() {
    let redis = LocalRedis::start();
    let (a, _a_dir) = replica(&redis, &["echo"], "replica-a");
    let (b, _b_dir) = replica(&redis, &["echo"], "replica-b");
    let on_a = LegacySession::open(&a, "2025-06-18").await;
    let on_b = LegacySession { server: &b, id: on_a.id.clone(), version: on_a.version.clone() };

    let call = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": { "name": "echo", "arguments": { "text": "hop" } } });
    let reply = on_b.post(&call).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(first_text(&reply.body["result"]), "hop");
    let level = json!({ "jsonrpc": "2.0", "id": 3, "method": "logging/setLevel", "params": { "level": "debug" } });
    assert_eq!(on_b.post(&level).await.status, 200);

    // Ended through A, the session is gone on B too.
    let deleted = a.client().delete(&a.url).header("mcp-session-id", &on_a.id).send().await.expect("delete");
    assert_eq!(deleted.status(), 204);
    let mut gone = 0;
    for _ in 0..50 {
        gone = on_b.post(&call).await.status;
        if gone == 404 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(gone, 404);
    // A session no replica ever made is unknown everywhere.
    let stranger = LegacySession { server: &b, id: "0".repeat(32), version: on_a.version.clone() };
    assert_eq!(stranger.post(&call).await.status, 404);
}

#[tokio::test]
async fn a_question_asked_on_one_replica_is_answered_through_another() {
    let redis = LocalRedis::start();
    let (a, _a_dir) = replica(&redis, &["conformance"], "replica-a");
    let (b, _b_dir) = replica(&redis, &["conformance"], "replica-b");
    let on_a = LegacySession::open_with(&a, "2025-11-25", json!({ "sampling": {} })).await;
    let on_b = LegacySession { server: &b, id: on_a.id.clone(), version: on_a.version.clone() };
    let call = json!({ "jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": { "name": "test_sampling", "arguments": { "prompt": "Capital of France?" } } });
    let mut stream = on_a.stream(&call).await;
    let asked = stream.next().await.expect("a sampling request");
    assert_eq!(asked["method"], "sampling/createMessage");
    let answer = json!({
        "jsonrpc": "2.0", "id": asked["id"],
        "result": { "role": "assistant", "content": { "type": "text", "text": "Paris" }, "model": "test" }
    });
    assert_eq!(on_b.post(&answer).await.status, 202);
    let done = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("answered").expect("result");
    assert_eq!(done["id"], 5);
    assert_eq!(first_text(&done["result"]), "LLM response: Paris");
}

#[tokio::test]
async fn a_call_running_on_one_replica_is_cancelled_through_another() {
    let redis = LocalRedis::start();
    let (a, _a_dir) = replica(&redis, &["conformance"], "replica-a");
    let (b, _b_dir) = replica(&redis, &["conformance"], "replica-b");
    let on_a = LegacySession::open(&a, "2025-11-25").await;
    let on_b = LegacySession { server: &b, id: on_a.id.clone(), version: on_a.version.clone() };
    let call = json!({ "jsonrpc": "2.0", "id": "loop-1", "method": "tools/call", "params": { "name": "test_wait_for_cancel" } });
    let request = a
        .client()
        .post(&a.url)
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &on_a.id)
        .body(call.to_string())
        .send();
    let cancel = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let cancelled = json!({ "jsonrpc": "2.0", "method": "notifications/cancelled", "params": { "requestId": "loop-1", "reason": "test" } });
        on_b.post(&cancelled).await
    };
    let (response, cancelled) = tokio::join!(request, cancel);
    assert_eq!(cancelled.status, 202);
    let mut stream = SseReader::new(response.expect("send"));
    let end = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("the call ended");
    assert!(end.is_none(), "a cancelled request ends its stream without a response: {end:?}");
}

#[tokio::test]
async fn without_redis_a_legacy_initialize_is_refused_with_503() {
    let mut redis = LocalRedis::start();
    let (a, _a_dir) = replica(&redis, &["echo"], "replica-a");
    redis.stop();
    let body = json!({
        "jsonrpc": "2.0", "id": 9, "method": "initialize",
        "params": { "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "t", "version": "0" } }
    });
    let reply = post_raw(&a, &[("content-type", "application/json")], body.to_string()).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.body["id"], 9);
    assert!(reply.body["error"]["message"].as_str().is_some_and(|m| m.contains("Redis")), "{}", reply.body);
    // 2026-07-28 calls need no shared state.
    let result = call_tool(&a, "echo", json!({ "text": "stateless" })).await;
    assert_eq!(first_text(&result), "stateless");
}

#[tokio::test]
async fn a_stream_dropped_on_one_replica_resumes_on_another() {
    let redis = LocalRedis::start();
    let (a, _a_dir) = replica(&redis, &["conformance"], "replica-a");
    let (b, _b_dir) = replica(&redis, &["conformance"], "replica-b");
    let on_a = LegacySession::open(&a, "2025-11-25").await;
    let on_b = LegacySession { server: &b, id: on_a.id.clone(), version: on_a.version.clone() };
    let call = json!({
        "jsonrpc": "2.0", "id": 9, "method": "tools/call",
        "params": { "name": "test_tool_with_progress", "_meta": { "progressToken": 7 } }
    });
    let mut stream = on_a.stream(&call).await;
    let first = stream.next().await.expect("first progress");
    assert_eq!(first["params"]["progress"], 0.0);
    let last = stream.last_id.clone().expect("events carry ids");
    drop(stream); // the connection drops mid-call; the call keeps running on A

    let mut resumed = SseReader::new(on_b.get_stream(Some(&last)).await);
    let mut rest = Vec::new();
    while let Some(message) = tokio::time::timeout(Duration::from_secs(10), resumed.next()).await.expect("events") {
        rest.push(message);
    }
    let progress: Vec<Value> = rest
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .map(|m| m["params"]["progress"].clone())
        .collect();
    assert_eq!(progress, [json!(50.0), json!(100.0)], "{rest:?}");
    assert_eq!(rest.last().expect("response")["id"], 9, "the response arrives after the replayed events");
}
