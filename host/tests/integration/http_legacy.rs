//! The 2025 revisions over Streamable HTTP: handshake, sessions, GET stream, DELETE.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn initialize_negotiates_each_legacy_version() {
    let server = Server::start(&["echo"]);
    for version in ["2025-11-25", "2025-06-18", "2025-03-26"] {
        let session = LegacySession::open(&server, version).await;
        assert_eq!(session.version, version);
        assert_eq!(session.id.len(), 32, "128 random bits in hex");
        assert!(session.id.chars().all(|c| c.is_ascii_hexdigit()));
    }
    let unknown = LegacySession::open(&server, "2024-01-01").await;
    assert_eq!(unknown.version, "2025-11-25", "an unknown version is answered with the newest legacy one");
    let other = LegacySession::open(&server, "2025-11-25").await;
    assert_ne!(unknown.id, other.id);
}

#[tokio::test]
async fn a_session_lists_and_calls_tools() {
    let server = Server::start(&["echo", "textkit"]);
    let session = LegacySession::open(&server, "2025-11-25").await;
    let list = session.post(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" })).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["result"]["tools"].as_array().map(Vec::len), Some(6));
    assert!(list.body["result"].get("resultType").is_none(), "legacy results carry no resultType");

    let call = json!({ "jsonrpc": "2.0", "id": "call-1", "method": "tools/call", "params": { "name": "echo", "arguments": { "text": "legacy" } } });
    let reply = session.post(&call).await;
    assert_eq!(reply.body["id"], "call-1");
    assert_eq!(reply.body["result"]["content"][0]["text"], "legacy");

    let sse = session.post_accepting(&call, "text/event-stream").await;
    assert_eq!(sse.status, 200);
    assert_eq!(sse.headers.get("content-type").and_then(|v| v.to_str().ok()), Some("text/event-stream"));
    assert_eq!(sse.body["result"]["content"][0]["text"], "legacy");

    let ping = session.post(&json!({ "jsonrpc": "2.0", "id": 2, "method": "ping" })).await;
    assert_eq!(ping.body["result"], json!({}));

    let missing = session
        .post(&json!({ "jsonrpc": "2.0", "id": 3, "method": "resources/read", "params": { "uri": "textkit://nope" } }))
        .await;
    assert_eq!(missing.error_code(), -32002);
    assert_eq!(missing.body["error"]["data"]["uri"], "textkit://nope");

    let unknown_tool =
        session.post(&json!({ "jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": { "name": "nope" } })).await;
    assert_eq!(unknown_tool.error_code(), -32602);
}

#[tokio::test]
async fn unknown_and_deleted_sessions_are_404() {
    let server = Server::start(&["echo"]);
    let session = LegacySession::open(&server, "2025-06-18").await;
    let forged = LegacySession { server: &server, id: "00".repeat(16), version: "2025-06-18".into() };
    let reply = forged.post(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" })).await;
    assert_eq!(reply.status, 404);

    let client = server.client();
    let deleted = client.delete(&server.url).header("mcp-session-id", &session.id).send().await.expect("delete");
    assert!(deleted.status().is_success());
    let after = session.post(&json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" })).await;
    assert_eq!(after.status, 404);
    let again = client.delete(&server.url).header("mcp-session-id", &session.id).send().await.expect("delete");
    assert_eq!(again.status().as_u16(), 404);
}

#[tokio::test]
async fn get_opens_the_session_event_stream() {
    let server = Server::start(&["echo"]);
    let session = LegacySession::open(&server, "2025-11-25").await;
    let client = server.client();
    let stream = session.get_stream(None).await;
    assert_eq!(stream.status().as_u16(), 200);
    assert_eq!(stream.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("text/event-stream"));
    drop(stream);

    let wrong_accept = client
        .get(&server.url)
        .header("accept", "application/json")
        .header("mcp-session-id", &session.id)
        .send()
        .await
        .expect("get");
    assert_eq!(wrong_accept.status().as_u16(), 406);
    let unknown = client
        .get(&server.url)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", "ab")
        .send()
        .await
        .expect("get");
    assert_eq!(unknown.status().as_u16(), 404);
}

#[tokio::test]
async fn abandoned_sessions_expire_after_the_idle_time() {
    let server = Server::with_config(&["echo"], "[http]\nsession_idle_secs = 1\n");
    let session = LegacySession::open(&server, "2025-11-25").await;
    assert_eq!(session.post(&json!({ "jsonrpc": "2.0", "id": 1, "method": "ping" })).await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(2600)).await;
    let gone = session.post(&json!({ "jsonrpc": "2.0", "id": 2, "method": "ping" })).await;
    assert_eq!(gone.status, 404, "the reaper dropped it: {}", gone.body);
    let expired = metric_value(&metrics_text(&server).await, r#"berth_sessions_evicted_total{reason="expired"}"#);
    assert_eq!(expired, Some(1.0));
}

#[tokio::test]
async fn sigint_stops_the_server_even_with_open_streams() {
    let mut server = Server::with_config(&["echo"], "[http]\nshutdown_grace_secs = 1\n");
    let session = LegacySession::open(&server, "2025-11-25").await;
    let stream = session.get_stream(None).await;
    assert_eq!(stream.status().as_u16(), 200);
    let pid = server.pid().to_string();
    let signalled = std::process::Command::new("kill").args(["-INT", &pid]).status().expect("kill");
    assert!(signalled.success());
    let exited = server.wait_for_exit(std::time::Duration::from_secs(30));
    assert!(exited.is_some_and(|status| status.success()), "berth serve did not stop cleanly: {exited:?}");
    drop(stream);
}
