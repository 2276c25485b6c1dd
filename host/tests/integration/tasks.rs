//! Long-running tool calls as tasks, in both protocol generations: the
//! Tasks extension of 2026-07-28 (SEP-2663) and the experimental tasks of
//! 2025-11-25. A task is driven through every state: working, completed,
//! failed, cancelled, input_required, expired. The fixtures are the
//! conformance plugin's task tools (`slow_compute`, `failing_job`,
//! `protocol_error_job`, `confirm_delete`, `greet`).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;

const EXTENSION: &str = "io.modelcontextprotocol/tasks";

/// A 2026-07-28 request from a client that declares the Tasks extension (and elicitation).
pub fn with_tasks(id: u64, method: &str, params: Value) -> Value {
    let mut body = modern_body(id, method, params);
    body["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"] =
        json!({ "elicitation": {}, "extensions": { EXTENSION: {} } });
    body
}

pub async fn call(server: &Server, tool: &str, arguments: Value) -> Value {
    let reply =
        post_modern(server, &with_tasks(1, "tools/call", json!({ "name": tool, "arguments": arguments }))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["result"].clone()
}

pub async fn get(server: &Server, id: &str) -> Reply {
    post_modern(server, &with_tasks(2, "tasks/get", json!({ "taskId": id }))).await
}

/// Polls `tasks/get` until `done` holds (10 s at most).
pub async fn until(server: &Server, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let task = get(server, id).await.body["result"].clone();
        if done(&task) {
            return task;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "task never got there: {task}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn terminal(task: &Value) -> bool {
    matches!(task["status"].as_str(), Some("completed" | "failed" | "cancelled"))
}

#[tokio::test]
async fn a_2026_task_is_created_polled_and_completed() {
    let server = Server::start(&["conformance"]);
    let created = call(&server, "slow_compute", json!({ "seconds": 0.5, "label": "first" })).await;
    assert_eq!(created["resultType"], "task", "{created}");
    assert_eq!(created["status"], "working");
    assert!(created["ttlMs"].as_u64().is_some_and(|t| t > 0) && created["pollIntervalMs"].as_u64().is_some());
    assert!(created.get("result").is_none() && created.get("task").is_none(), "flat, no result yet: {created}");
    let id = created["taskId"].as_str().expect("task id").to_owned();
    assert_eq!(id.len(), 32, "128 random bits");

    let working = get(&server, &id).await;
    assert_eq!((working.status, &working.body["result"]["status"]), (200, &json!("working")));
    assert_eq!(working.body["result"]["resultType"], "complete");
    let done = until(&server, &id, terminal).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(first_text(&done["result"]), "computed first in 0.5 s");

    // A tool error is still a completed task; a protocol error fails it.
    let failing = call(&server, "failing_job", json!({})).await;
    let done = until(&server, failing["taskId"].as_str().expect("id"), terminal).await;
    assert_eq!((&done["status"], &done["result"]["isError"]), (&json!("completed"), &json!(true)), "{done}");
    let crashing = call(&server, "protocol_error_job", json!({})).await;
    let done = until(&server, crashing["taskId"].as_str().expect("id"), terminal).await;
    assert_eq!((&done["status"], &done["error"]["code"]), (&json!("failed"), &json!(-32603)), "{done}");
    assert!(done.get("result").is_none());

    // Fast calls may skip the task: the plugin says so.
    let instant = call(&server, "slow_compute", json!({ "seconds": 0 })).await;
    assert_eq!((&instant["resultType"], first_text(&instant)), (&json!("complete"), "computed job in 0 s"));
}

#[tokio::test]
async fn a_2026_task_is_cancelled_and_asks_for_input() {
    let server = Server::start(&["conformance"]);
    let created = call(&server, "slow_compute", json!({ "seconds": 30 })).await;
    let id = created["taskId"].as_str().expect("id");
    let ack = post_modern(&server, &with_tasks(3, "tasks/cancel", json!({ "taskId": id }))).await;
    assert_eq!(ack.body["result"]["resultType"], "complete");
    assert!(ack.body["result"].get("status").is_none(), "an empty ack: {}", ack.body);
    assert_eq!(get(&server, id).await.body["result"]["status"], "cancelled");
    let again = post_modern(&server, &with_tasks(4, "tasks/cancel", json!({ "taskId": id }))).await;
    assert_eq!(again.status, 200, "cancelling an ended task is acknowledged too");

    let asking = call(&server, "confirm_delete", json!({ "filename": "a.txt" })).await;
    let id = asking["taskId"].as_str().expect("id");
    let parked = until(&server, id, |t| t["status"] == "input_required").await;
    let (key, question) = parked["inputRequests"].as_object().and_then(|q| q.iter().next()).expect("a question");
    assert_eq!(question["method"], "elicitation/create");
    let responses = json!({ key: { "action": "accept", "content": { "confirm": true } } });
    let update = with_tasks(5, "tasks/update", json!({ "taskId": id, "inputResponses": responses }));
    assert_eq!(post_modern(&server, &update).await.body["result"]["resultType"], "complete");
    let done = until(&server, id, terminal).await;
    assert_eq!(first_text(&done["result"]), "deleted a.txt");
}

#[tokio::test]
async fn without_the_extension_tools_run_at_once_and_tasks_are_refused() {
    let server = Server::start(&["conformance"]);
    let plain =
        |tool: &str, arguments: Value| modern_body(1, "tools/call", json!({ "name": tool, "arguments": arguments }));
    let sync = post_modern(&server, &plain("slow_compute", json!({ "seconds": 0.1 }))).await;
    assert_eq!(sync.body["result"]["resultType"], "complete", "no task without the extension: {}", sync.body);
    let required = post_modern(&server, &plain("failing_job", json!({}))).await;
    assert_eq!(required.error_code(), -32021);
    assert_eq!(required.body["error"]["data"]["requiredCapabilities"]["extensions"][EXTENSION], json!({}));
    let get = post_modern(&server, &modern_body(2, "tasks/get", json!({ "taskId": "x" }))).await;
    assert_eq!(get.error_code(), -32021);
    let unknown = post_modern(&server, &with_tasks(3, "tasks/get", json!({ "taskId": "nope" }))).await;
    assert_eq!((unknown.status, unknown.error_code()), (400, -32602));
    let removed = post_modern(&server, &with_tasks(4, "tasks/list", json!({}))).await;
    assert_eq!(removed.error_code(), -32601, "tasks/list belongs to 2025-11-25 only");
    let discover = post_modern(&server, &modern_body(5, "server/discover", json!({}))).await;
    assert_eq!(discover.body["result"]["capabilities"]["extensions"][EXTENSION], json!({}));
    let listed = post_modern(&server, &modern_body(6, "tools/list", json!({}))).await;
    let tools = listed.body["result"]["tools"].as_array().expect("tools").clone();
    let support = |name: &str| tools.iter().find(|t| t["name"] == name).map(|t| t["execution"]["taskSupport"].clone());
    assert_eq!(support("failing_job"), Some(json!("required")));
    assert_eq!(support("slow_compute"), Some(json!("optional")));
    assert_eq!(support("greet"), Some(Value::Null), "forbidden tools carry no execution field");
}

#[tokio::test]
async fn tasks_expire_and_are_capped_per_client() {
    let server = Server::with_config(&["conformance"], "[tasks]\nttl_secs = 1\n[quota]\ntasks = 2\n");
    let first = call(&server, "slow_compute", json!({ "seconds": 0.1 })).await;
    let second = call(&server, "slow_compute", json!({ "seconds": 30 })).await;
    assert_eq!(second["resultType"], "task");
    let over = with_tasks(1, "tools/call", json!({ "name": "slow_compute", "arguments": { "seconds": 30 } }));
    let third = post_modern(&server, &over).await;
    assert_eq!(third.error_code(), -32000, "the third task is over this client's cap: {}", third.body);
    assert_eq!((third.status, &third.body["error"]["data"]["limit"]), (429, &json!("tasks")), "{}", third.body);
    let id = first["taskId"].as_str().expect("id");
    assert_eq!(until(&server, id, terminal).await["status"], "completed");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let expired = get(&server, id).await;
    assert_eq!(expired.error_code(), -32602);
    assert!(expired.body["error"]["message"].as_str().is_some_and(|m| m.contains("expired")), "{}", expired.body);
    let room = call(&server, "slow_compute", json!({ "seconds": 0.1 })).await;
    assert_eq!(room["resultType"], "task", "expired tasks no longer count against the cap");
}

#[tokio::test]
async fn a_listen_stream_hears_the_tasks_it_asked_for() {
    let server = Server::start(&["conformance"]);
    let created = call(&server, "slow_compute", json!({ "seconds": 0.5 })).await;
    let id = created["taskId"].as_str().expect("id");
    let listen = with_tasks(9, "subscriptions/listen", json!({ "notifications": { "taskIds": [id] } }));
    let mut stream = stream_modern(&server, &listen).await;
    let ack = stream.next().await.expect("ack");
    assert_eq!(ack["params"]["notifications"]["taskIds"], json!([id]));
    let notice =
        tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("in time").expect("a notice");
    assert_eq!((&notice["method"], &notice["params"]["taskId"]), (&json!("notifications/tasks"), &json!(id)));
    assert_eq!(notice["params"]["status"], "completed");
    assert_eq!(first_text(&notice["params"]["result"]), "computed job in 0.5 s");

    let undeclared = modern_body(10, "subscriptions/listen", json!({ "notifications": { "taskIds": [id] } }));
    assert_eq!(post_modern(&server, &undeclared).await.error_code(), -32021);
}

/// A request in a 2025-11-25 session.
pub fn legacy(id: u64, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

#[tokio::test]
async fn a_2025_task_through_every_state() {
    let server = Server::start(&["conformance"]);
    let initialize = legacy(
        0,
        "initialize",
        json!({ "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": { "name": "t", "version": "0" } }),
    );
    let offered = post_raw(&server, &[("content-type", "application/json")], initialize.to_string()).await;
    assert_eq!(
        offered.body["result"]["capabilities"]["tasks"],
        json!({ "list": {}, "cancel": {}, "requests": { "tools": { "call": {} } } })
    );
    let session = LegacySession::open(&server, "2025-11-25").await;
    let call = |tool: &str, arguments: Value, task: Value| {
        legacy(1, "tools/call", json!({ "name": tool, "arguments": arguments, "task": task }))
    };

    // Completed: created, polled, its result fetched with tasks/result.
    let created = session.post(&call("slow_compute", json!({ "seconds": 0.3, "label": "old" }), json!({}))).await;
    let task = &created.body["result"]["task"];
    assert_eq!(task["status"], "working", "{}", created.body);
    assert!(task["ttl"].as_u64().is_some() && task["pollInterval"].as_u64().is_some() && task.get("ttlMs").is_none());
    let id = task["taskId"].as_str().expect("id").to_owned();
    let result = session.post(&legacy(2, "tasks/result", json!({ "taskId": id }))).await;
    assert_eq!(first_text(&result.body["result"]), "computed old in 0.3 s", "{}", result.body);
    assert_eq!(result.body["result"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"], json!(id));
    let got = session.post(&legacy(3, "tasks/get", json!({ "taskId": id }))).await;
    assert_eq!(got.body["result"]["status"], "completed");

    // Failed: tasks/result returns the call's JSON-RPC error.
    let crashing = session.post(&call("protocol_error_job", json!({}), json!({}))).await;
    let crash_id = crashing.body["result"]["task"]["taskId"].as_str().expect("id").to_owned();
    let error = session.post(&legacy(4, "tasks/result", json!({ "taskId": crash_id }))).await;
    assert_eq!(error.error_code(), -32603);
    let failed = session.post(&legacy(5, "tasks/get", json!({ "taskId": crash_id }))).await;
    assert_eq!(failed.body["result"]["status"], "failed");

    // Cancelled: the cancelled task comes back; an ended task cannot be cancelled.
    let slow = session.post(&call("slow_compute", json!({ "seconds": 30 }), json!({}))).await;
    let slow_id = slow.body["result"]["task"]["taskId"].as_str().expect("id").to_owned();
    let cancelled = session.post(&legacy(6, "tasks/cancel", json!({ "taskId": slow_id }))).await;
    assert_eq!(cancelled.body["result"]["status"], "cancelled", "{}", cancelled.body);
    let again = session.post(&legacy(7, "tasks/cancel", json!({ "taskId": slow_id }))).await;
    assert_eq!(again.error_code(), -32602);

    // Listed: the session's tasks, oldest first.
    let listed = session.post(&legacy(8, "tasks/list", json!({}))).await;
    let ids: Vec<&str> =
        listed.body["result"]["tasks"].as_array().expect("tasks").iter().filter_map(|t| t["taskId"].as_str()).collect();
    assert_eq!(ids, [id.as_str(), crash_id.as_str(), slow_id.as_str()]);

    // Expired: a client may ask for a short TTL.
    let brief = session.post(&call("slow_compute", json!({ "seconds": 0.1 }), json!({ "ttl": 500 }))).await;
    let brief_id = brief.body["result"]["task"]["taskId"].as_str().expect("id").to_owned();
    assert_eq!(brief.body["result"]["task"]["ttl"], 500);
    tokio::time::sleep(Duration::from_millis(900)).await;
    let gone = session.post(&legacy(9, "tasks/get", json!({ "taskId": brief_id }))).await;
    assert!(gone.body["error"]["message"].as_str().is_some_and(|m| m.contains("expired")), "{}", gone.body);

    // The tool's support is checked both ways; other sessions see none of these tasks.
    assert_eq!(session.post(&call("greet", json!({ "name": "x" }), json!({}))).await.error_code(), -32601);
    let required = legacy(10, "tools/call", json!({ "name": "failing_job", "arguments": {} }));
    assert_eq!(session.post(&required).await.error_code(), -32601);
    let other = LegacySession::open(&server, "2025-11-25").await;
    assert_eq!(other.post(&legacy(11, "tasks/get", json!({ "taskId": id }))).await.error_code(), -32602);
    let older = LegacySession::open(&server, "2025-06-18").await;
    assert_eq!(
        older.post(&legacy(12, "tasks/list", json!({}))).await.error_code(),
        -32601,
        "no tasks before 2025-11-25"
    );
}

#[tokio::test]
async fn a_2025_task_asks_its_question_on_the_tasks_result_stream() {
    let server = Server::start(&["conformance"]);
    let session = LegacySession::open_with(&server, "2025-11-25", json!({ "elicitation": {} })).await;
    let body =
        legacy(1, "tools/call", json!({ "name": "confirm_delete", "arguments": { "filename": "b.txt" }, "task": {} }));
    let created = session.post(&body).await;
    let id = created.body["result"]["task"]["taskId"].as_str().expect("id").to_owned();
    let mut stream = session.stream(&legacy(2, "tasks/result", json!({ "taskId": id }))).await;
    let question =
        tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("in time").expect("a question");
    assert_eq!(question["method"], "elicitation/create", "{question}");
    assert_eq!(question["params"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"], json!(id));
    let status = session.post(&legacy(3, "tasks/get", json!({ "taskId": id }))).await;
    assert_eq!(status.body["result"]["status"], "input_required");
    let answer = json!({ "jsonrpc": "2.0", "id": question["id"], "result": { "action": "accept", "content": { "confirm": true } } });
    assert_eq!(session.post(&answer).await.status, 202);
    let result =
        tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("in time").expect("the result");
    assert_eq!(first_text(&result["result"]), "deleted b.txt", "{result}");
}

#[tokio::test]
async fn a_task_runs_under_its_own_deadline() {
    let dir = plugin_dir(&["conformance"]);
    std::fs::write(dir.path().join("conformance.toml"), "[limits]\ndeadline_ms = 300\ntask_deadline_ms = 5000\n")
        .expect("sidecar");
    let server = Server::start_in(dir.path(), &[]);
    let plain = modern_body(1, "tools/call", json!({ "name": "slow_compute", "arguments": { "seconds": 1 } }));
    let at_once = post_modern(&server, &plain).await.body["result"].clone();
    assert_eq!(at_once["isError"], true, "a call at once stops at deadline_ms: {at_once}");
    assert!(first_text(&at_once).contains("300 ms deadline"), "{at_once}");
    let created = call(&server, "slow_compute", json!({ "seconds": 1 })).await;
    let done = until(&server, created["taskId"].as_str().expect("id"), terminal).await;
    assert_eq!(first_text(&done["result"]), "computed job in 1 s", "a task gets task_deadline_ms: {done}");
}
