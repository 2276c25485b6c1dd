//! Protocol mechanisms beyond plain calls: multi-round-trip in both eras,
//! cancellation, subscriptions, pagination, logging and progress.

use serde_json::{Value, json};

use crate::common::*;

/// A 2026-07-28 `tools/call` with retry fields.
fn modern_call(name: &str, extra: Value) -> Value {
    let mut params = json!({ "name": name, "arguments": {} });
    if let Value::Object(extra) = extra {
        for (key, value) in extra {
            params[key] = value;
        }
    }
    modern_body(1, "tools/call", params)
}

#[tokio::test]
async fn modern_multi_round_trip_seals_request_state() {
    let server = Server::start(&["conformance"]);
    let name = "test_input_required_result_request_state";
    let mut first = modern_call(name, json!({}));
    first["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"] = json!({ "elicitation": {} });
    let round1 = post_modern(&server, &first).await;
    assert_eq!(round1.status, 200, "{}", round1.body);
    let result = &round1.body["result"];
    assert_eq!(result["resultType"], "input_required");
    assert_eq!(result["inputRequests"]["confirm"]["method"], "elicitation/create");
    let token = result["requestState"].as_str().expect("requestState").to_owned();
    assert!(!token.contains("awaiting-confirmation"), "the plugin's state is sealed, not sent in clear: {token}");

    let answers = json!({ "confirm": { "action": "accept", "content": { "ok": true } } });
    let mut tampered_token = token.clone();
    let last = tampered_token.pop().expect("non-empty");
    tampered_token.push(if last == 'A' { 'B' } else { 'A' });
    let mut tampered = modern_call(name, json!({ "inputResponses": answers, "requestState": tampered_token }));
    tampered["params"]["_meta"] = first["params"]["_meta"].clone();
    let rejected = post_modern(&server, &tampered).await;
    assert_eq!((rejected.status, rejected.error_code()), (400, -32602), "{}", rejected.body);

    let mut other_tool = modern_call(
        "test_input_required_result_elicitation",
        json!({ "inputResponses": answers, "requestState": token }),
    );
    other_tool["params"]["_meta"] = first["params"]["_meta"].clone();
    let replayed = post_modern(&server, &other_tool).await;
    assert_eq!(replayed.error_code(), -32602, "a token only works for the tool it was issued by");

    let mut round2 = modern_call(name, json!({ "inputResponses": answers, "requestState": token }));
    round2["params"]["_meta"] = first["params"]["_meta"].clone();
    let done = post_modern(&server, &round2).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["result"]["resultType"], "complete");
    assert!(first_text(&done.body["result"]).contains("state-ok"));
}

#[tokio::test]
async fn a_missing_client_capability_is_refused() {
    let server = Server::start(&["conformance"]);
    let reply = post_modern(&server, &modern_call("test_missing_capability", json!({}))).await;
    assert_eq!((reply.status, reply.error_code()), (400, -32021));
    assert_eq!(reply.body["error"]["data"]["requiredCapabilities"], json!({ "sampling": {} }));
}

#[tokio::test]
async fn legacy_sampling_round_trip_over_the_post_stream() {
    let server = Server::start(&["conformance"]);
    let body = json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": { "protocolVersion": "2025-11-25", "capabilities": { "sampling": {} }, "clientInfo": { "name": "t", "version": "0" } }
    });
    let init = post_raw(&server, &[("content-type", "application/json")], body.to_string()).await;
    let session = init.headers.get("mcp-session-id").expect("session").to_str().expect("ascii").to_owned();
    let client = server.client();
    let call = json!({ "jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": { "name": "test_sampling", "arguments": { "prompt": "Capital of France?" } } });
    let response = client
        .post(&server.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", &session)
        .body(call.to_string())
        .send()
        .await
        .expect("send");
    let mut stream = SseReader::new(response);
    let asked = stream.next().await.expect("a sampling request");
    assert_eq!(asked["method"], "sampling/createMessage");
    assert_eq!(asked["params"]["messages"][0]["content"]["text"], "Capital of France?");
    let answer = json!({
        "jsonrpc": "2.0", "id": asked["id"],
        "result": { "role": "assistant", "content": { "type": "text", "text": "Paris" }, "model": "test" }
    });
    let accepted = client
        .post(&server.url)
        .header("content-type", "application/json")
        .header("mcp-session-id", &session)
        .body(answer.to_string())
        .send()
        .await
        .expect("answer");
    assert_eq!(accepted.status().as_u16(), 202);
    let done = stream.next().await.expect("the tool's response");
    assert_eq!(done["id"], 5);
    assert_eq!(first_text(&done["result"]), "LLM response: Paris");
}

#[tokio::test]
async fn legacy_cancellation_stops_a_looping_plugin() {
    // A long deadline: only cancellation can end the call before the test's own timeout.
    let server = Server::with_config(&["conformance"], "[limits]\ndeadline_ms = 120000\n");
    let session = LegacySession::open(&server, "2025-11-25").await;
    let client = server.client();
    let call = json!({ "jsonrpc": "2.0", "id": "loop-1", "method": "tools/call", "params": { "name": "test_wait_for_cancel" } });
    let request = client
        .post(&server.url)
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session.id)
        .body(call.to_string())
        .send();
    let cancel = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let cancelled = json!({ "jsonrpc": "2.0", "method": "notifications/cancelled", "params": { "requestId": "loop-1", "reason": "test" } });
        session.post(&cancelled).await
    };
    let (response, cancelled) = tokio::join!(request, cancel);
    assert_eq!(cancelled.status, 202);
    let mut stream = SseReader::new(response.expect("send"));
    assert!(stream.next().await.is_none(), "a cancelled request ends its stream without a response");
}

#[tokio::test]
async fn listen_streams_only_what_was_asked_for() {
    let server = Server::start(&["conformance"]);
    let mut listen = modern_body(40, "subscriptions/listen", json!({ "notifications": { "toolsListChanged": true } }));
    listen["params"]["_meta"] = envelope();
    let mut stream = stream_modern(&server, &listen).await;
    let ack = stream.next().await.expect("acknowledgement");
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
    assert_eq!(ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], 40);
    // A prompt change is not wanted; the tool change that follows is.
    call_tool(&server, "test_trigger_prompt_change", json!({})).await;
    call_tool(&server, "test_trigger_tool_change", json!({})).await;
    let next =
        tokio::time::timeout(std::time::Duration::from_secs(10), stream.next()).await.expect("a notice").expect("open");
    assert_eq!(next["method"], "notifications/tools/list_changed");
    assert_eq!(next["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], 40);
}

#[tokio::test]
async fn legacy_subscribers_hear_about_updates_on_the_get_stream() {
    let server = Server::start(&["conformance"]);
    let session = LegacySession::open(&server, "2025-11-25").await;
    let subscribe = json!({ "jsonrpc": "2.0", "id": 1, "method": "resources/subscribe", "params": { "uri": "test://watched-resource" } });
    assert_eq!(session.post(&subscribe).await.body["result"], json!({}));
    let mut stream = SseReader::new(session.get_stream(None).await);
    let trigger = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": { "name": "test_trigger_resource_update" } });
    session.post_accepting(&trigger, "application/json").await;
    let update =
        tokio::time::timeout(std::time::Duration::from_secs(10), stream.next()).await.expect("a notice").expect("open");
    assert_eq!(update["method"], "notifications/resources/updated");
    assert_eq!(update["params"]["uri"], "test://watched-resource");
}

#[tokio::test]
async fn lists_are_paginated_with_opaque_cursors() {
    let server = Server::start(&["bulk"]);
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let params = match &cursor {
            Some(c) => json!({ "cursor": c }),
            None => json!({}),
        };
        let reply = post_modern(&server, &modern_body(1, "tools/list", params)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let result = &reply.body["result"];
        names.extend(
            result["tools"].as_array().expect("tools").iter().map(|t| t["name"].as_str().expect("name").to_owned()),
        );
        pages += 1;
        match result["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3, "250 tools in pages of 100");
    assert_eq!(names.len(), 250);
    assert_eq!(names.first().map(String::as_str), Some("bulk_000"));
    assert_eq!(names.last().map(String::as_str), Some("bulk_249"));
    let bad = post_modern(&server, &modern_body(2, "tools/list", json!({ "cursor": "not-a-cursor" }))).await;
    assert_eq!((bad.status, bad.error_code()), (400, -32602));
}

#[tokio::test]
async fn progress_and_logs_stream_before_the_result() {
    let server = Server::start(&["conformance"]);
    let mut body = modern_call("test_tool_with_progress", json!({}));
    body["params"]["_meta"]["progressToken"] = json!("p-1");
    let reply = post_modern(&server, &body).await;
    let progress: Vec<&Value> = reply.events.iter().filter(|e| e["method"] == "notifications/progress").collect();
    assert_eq!(progress.len(), 3, "{:?}", reply.events);
    assert_eq!(progress[1]["params"], json!({ "progressToken": "p-1", "progress": 50.0, "total": 100.0 }));
    assert_eq!(reply.events.last().expect("events")["result"]["content"][0]["type"], "text");

    let mut quiet = modern_call("test_logging_tool", json!({}));
    quiet["params"]["_meta"] = envelope();
    let silent = post_modern(&server, &quiet).await;
    assert!(silent.events.is_empty(), "no logLevel, no log notifications (and no stream)");
    quiet["params"]["_meta"]["io.modelcontextprotocol/logLevel"] = json!("info");
    let logged = post_modern(&server, &quiet).await;
    assert_eq!(logged.events[0]["method"], "notifications/message");
    assert_eq!(logged.events[0]["params"]["level"], "info");
}

#[tokio::test]
async fn completion_suggests_prompt_arguments() {
    let server = Server::start(&["conformance"]);
    let params = json!({ "ref": { "type": "ref/prompt", "name": "test_prompt_with_arguments" }, "argument": { "name": "arg1", "value": "par" } });
    let reply = post_modern(&server, &modern_body(1, "completion/complete", params)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["result"]["completion"]["values"], json!(["paris", "park", "party"]));
}

#[tokio::test]
async fn a_legacy_stream_resumes_after_last_event_id() {
    let server = Server::start(&["conformance"]);
    let session = LegacySession::open(&server, "2025-11-25").await;
    let call = json!({
        "jsonrpc": "2.0", "id": 9, "method": "tools/call",
        "params": { "name": "test_tool_with_progress", "_meta": { "progressToken": 7 } }
    });
    let mut stream = session.stream(&call).await;
    let first = stream.next().await.expect("first progress");
    assert_eq!(first["params"]["progress"], 0.0);
    let last = stream.last_id.clone().expect("events carry ids");
    drop(stream); // the connection drops mid-call; a 2025 call keeps running

    let resumed = session.get_stream(Some(&last)).await;
    let mut stream = SseReader::new(resumed);
    let mut rest = Vec::new();
    while let Some(message) = stream.next().await {
        rest.push(message);
    }
    let progress: Vec<&Value> = rest.iter().filter(|m| m["method"] == "notifications/progress").collect();
    assert_eq!(
        progress.iter().map(|m| m["params"]["progress"].clone()).collect::<Vec<_>>(),
        [json!(50.0), json!(100.0)]
    );
    assert_eq!(rest.last().expect("response")["id"], 9, "the response arrives after the replayed events");
}

#[tokio::test]
async fn closing_a_modern_stream_cancels_the_call() {
    // One pool slot and a long deadline: the next call finds a free instance
    // only if closing the stream stopped the first one.
    let server = Server::with_config(&["conformance"], "[limits]\ndeadline_ms = 120000\n[pool]\ninstances = 1\n");
    let mut body = modern_call("test_wait_for_cancel", json!({}));
    body["params"]["_meta"]["progressToken"] = json!("stream");
    let response = server
        .client()
        .post(&server.url)
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .header("mcp-protocol-version", MODERN)
        .header("mcp-method", "tools/call")
        .header("mcp-name", "test_wait_for_cancel")
        .body(body.to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 200);
    drop(response);
    let mut freed = false;
    for _ in 0..100 {
        let next = call_tool(&server, "test_simple_text", json!({})).await;
        if next["isError"] == false {
            freed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(freed, "the cancelled call still holds the only instance");
}
