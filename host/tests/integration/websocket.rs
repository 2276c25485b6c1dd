//! WebSocket at `/ws`: both eras, out-of-order answers, cancellation, limits,
//! keep-alive, idle timeout, shutdown and a thousand concurrent connections.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

fn call(id: u64, tool: &str, arguments: Value) -> Value {
    modern_body(id, "tools/call", json!({ "name": tool, "arguments": arguments }))
}

#[tokio::test]
async fn modern_and_legacy_clients_call_tools() {
    let server = Server::start(&["echo"]);
    let mut modern = WsClient::connect(&server).await;
    modern.send(&call(1, "echo", json!({ "text": "over ws" }))).await;
    let reply = modern.reply().await;
    assert_eq!(reply["id"], 1);
    assert_eq!(reply["result"]["content"][0]["text"], "over ws");
    assert_eq!(reply["result"]["resultType"], "complete");

    let mut legacy = WsClient::connect(&server).await;
    legacy
        .send(&json!({ "jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "t", "version": "0" } } }))
        .await;
    assert_eq!(legacy.reply().await["result"]["protocolVersion"], "2025-11-25");
    legacy.send(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" })).await;
    legacy
        .send(&json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": { "name": "echo", "arguments": { "text": "legacy" } } }))
        .await;
    let reply = legacy.reply().await;
    assert_eq!(reply["id"], 2);
    assert_eq!(reply["result"]["content"][0]["text"], "legacy");
    assert!(reply["result"].get("resultType").is_none(), "legacy results are not decorated");
}

#[tokio::test]
async fn answers_arrive_as_calls_finish_not_in_order() {
    let server = Server::with_config(&["faulty"], "[limits]\ndeadline_ms = 800\n");
    let mut ws = WsClient::connect(&server).await;
    ws.send(&call(1, "faulty_sleep", json!({}))).await;
    ws.send(&call(2, "faulty_ok", json!({}))).await;
    let first = ws.reply().await;
    assert_eq!(first["id"], 2, "the quick call answers first: {first}");
    let second = ws.reply().await;
    assert_eq!(second["id"], 1);
    assert_eq!(second["result"]["isError"], true, "the sleeper hit its deadline: {second}");
}

#[tokio::test]
async fn a_cancelled_call_is_stopped_and_gets_no_answer() {
    let server = Server::start(&["faulty"]);
    let mut ws = WsClient::connect(&server).await;
    ws.send(&call(7, "faulty_spin", json!({}))).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    ws.send(&json!({ "jsonrpc": "2.0", "method": "notifications/cancelled", "params": { "requestId": 7 } })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    ws.send(&call(8, "faulty_ok", json!({}))).await;
    let reply = ws.reply().await;
    assert_eq!(reply["id"], 8, "the cancelled call must not answer: {reply}");
    let metrics = server.client().get(format!("{}/metrics", server.base)).send().await.expect("metrics");
    let text = metrics.text().await.expect("text");
    assert!(
        text.contains(r#"berth_tool_calls_total{plugin="faulty",tool="faulty_spin",outcome="cancelled"} 1"#),
        "the spin was stopped as cancelled:\n{text}"
    );
}

#[tokio::test]
async fn the_per_connection_in_flight_cap_refuses_with_a_retry_hint() {
    let config = "[limits]\ndeadline_ms = 1000\n[ws]\nmax_in_flight_per_connection = 2\n";
    let server = Server::with_config(&["faulty"], config);
    let mut ws = WsClient::connect(&server).await;
    for id in 1..=3 {
        ws.send(&call(id, "faulty_sleep", json!({}))).await;
    }
    let refused = ws.reply().await;
    assert_eq!(refused["id"], 3);
    assert_eq!(refused["error"]["code"], -32000);
    assert_eq!(refused["error"]["data"]["retryAfterMs"], 1000);
    let mut finished: Vec<Value> = vec![ws.reply().await["id"].clone(), ws.reply().await["id"].clone()];
    finished.sort_by_key(|id| id.as_u64());
    assert_eq!(finished, vec![json!(1), json!(2)]);
    // Slots free again once the calls answered.
    ws.send(&call(4, "faulty_ok", json!({}))).await;
    assert_eq!(ws.reply().await["result"]["content"][0]["text"], "ok");
}

#[tokio::test]
async fn binary_frames_are_refused_and_oversized_messages_close_with_1009() {
    let server = Server::with_config(&["echo"], "[ws]\nmax_message_bytes = 2048\n");
    let mut ws = WsClient::connect(&server).await;
    ws.send_raw(Message::Binary(b"{}".to_vec().into())).await;
    let refused = ws.message().await;
    assert_eq!(refused["error"]["code"], -32600);
    assert!(refused["error"]["message"].as_str().unwrap_or_default().contains("text frame"));
    ws.send(&call(1, "echo", json!({ "text": "still open" }))).await;
    assert_eq!(ws.reply().await["result"]["content"][0]["text"], "still open");
    ws.send(&call(2, "echo", json!({ "text": "x".repeat(4096) }))).await;
    match ws.next().await {
        WsEvent::Close(code, _) => assert_eq!(code, Some(1009)),
        other => panic!("expected a 1009 close, got {other:?}"),
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_with_1008_not_buffered_for() {
    use futures_util::{SinkExt, StreamExt};
    let server = Server::with_config(&["echo"], "[ws]\nsend_queue = 4\n");
    let ws = WsClient::connect(&server).await;
    let (mut sink, mut stream) = ws.socket.split();
    // ~19 MB of answers: far more than the socket buffers hold while the client does not read.
    let text = "x".repeat(96 * 1024);
    let sender = tokio::spawn(async move {
        for id in 0..200 {
            let frame = Message::Text(call(id, "echo", json!({ "text": text })).to_string().into());
            if sink.send(frame).await.is_err() {
                break;
            }
        }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut answers = 0;
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(20), stream.next()).await.expect("the server ends it in time") {
            Some(Ok(Message::Text(_))) => answers += 1,
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break None,
        }
    };
    sender.abort();
    assert_eq!(code, Some(1008), "closed as a slow consumer after {answers} answers");
    assert!(answers < 200, "the server stopped queueing for the client ({answers} answers)");
    // The server itself is fine.
    let mut fresh = WsClient::connect(&server).await;
    fresh.send(&call(1, "echo", json!({ "text": "ok" }))).await;
    assert_eq!(fresh.reply().await["result"]["content"][0]["text"], "ok");
}

#[tokio::test]
async fn the_server_pings_and_closes_idle_connections() {
    use futures_util::StreamExt;
    let server = Server::with_config(&["echo"], "[ws]\nping_interval_secs = 1\nidle_timeout_secs = 2\n");
    // Started before the handshake: the server's idle clock starts after it,
    // so the close can never come sooner than this by the client's clock.
    let started = Instant::now();
    let mut ws = WsClient::connect(&server).await;
    let mut pinged = false;
    let close = loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.socket.next()).await.expect("a frame in time");
        match frame {
            Some(Ok(Message::Ping(_))) => pinged = true,
            Some(Ok(Message::Close(frame))) => break frame,
            other => panic!("unexpected frame {other:?}"),
        }
    };
    assert!(pinged, "a keep-alive ping came before the idle close");
    let close = close.expect("a close frame");
    assert_eq!(u16::from(close.code), 1000);
    assert_eq!(close.reason.as_str(), "idle timeout");
    assert!(started.elapsed() >= Duration::from_secs(2), "not before the idle timeout");
}

#[tokio::test]
async fn foreign_origins_cannot_open_a_socket() {
    let server = Server::start(&["echo"]);
    let refused = WsClient::connect_with(&server, &[("origin", "https://evil.example")]).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        Err(other) => panic!("expected an HTTP 403, got {other}"),
        Ok(_) => panic!("a foreign origin opened a socket"),
    }
    assert!(WsClient::connect_with(&server, &[("origin", "http://localhost:3000")]).await.is_ok());
    // A plain GET without the handshake is a clear 400, not a hang.
    let plain = server.client().get(format!("{}/ws", server.base)).send().await.expect("get");
    assert_eq!(plain.status().as_u16(), 400);
}

#[tokio::test]
async fn shutdown_lets_running_calls_answer_then_closes_with_1001() {
    let mut server =
        Server::with_config(&["faulty"], "[limits]\ndeadline_ms = 1500\n[http]\nshutdown_grace_secs = 5\n");
    let mut ws = WsClient::connect(&server).await;
    ws.send(&call(1, "faulty_sleep", json!({}))).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = server.pid().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    let reply = ws.reply().await;
    assert_eq!(reply["id"], 1, "the running call answered before the close");
    match ws.next().await {
        WsEvent::Close(code, reason) => {
            assert_eq!(code, Some(1001));
            assert_eq!(reason, "server shutting down: reconnect");
        }
        other => panic!("expected a 1001 close, got {other:?}"),
    }
    assert!(server.wait_for_exit(Duration::from_secs(10)).is_some_and(|s| s.success()));
}

#[tokio::test]
async fn a_thousand_connections_each_with_requests_in_flight() {
    const CONNECTIONS: usize = 1000;
    const PER_CONNECTION: u64 = 3;
    // One client on purpose: its per-source quotas are lifted.
    let config = "[ws]\nmax_in_flight_per_connection = 8\n[quota]\nin_flight = 0\nstreams = 0\nconnections = 0\n";
    let server = Server::with_config(&["echo"], config);
    // Open every connection first, so all of them are held at once.
    let mut sockets = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        sockets.push(WsClient::connect(&server).await);
    }
    let metrics = server.client().get(format!("{}/metrics", server.base)).send().await.expect("metrics");
    let text = metrics.text().await.expect("text");
    assert!(text.contains(&format!("berth_websocket_connections {CONNECTIONS}")), "all connections are open");
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(n, mut ws)| {
            tokio::spawn(async move {
                for id in 0..PER_CONNECTION {
                    ws.send(&call(id, "echo", json!({ "text": format!("{n}/{id}") }))).await;
                }
                let mut answered = Vec::new();
                for _ in 0..PER_CONNECTION {
                    let reply = ws.reply().await;
                    let id = reply["id"].as_u64().expect("id");
                    assert_eq!(reply["result"]["content"][0]["text"], format!("{n}/{id}"), "{reply}");
                    answered.push(id);
                }
                answered.sort_unstable();
                answered == (0..PER_CONNECTION).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut complete = 0;
    for task in tasks {
        if task.await.expect("client task") {
            complete += 1;
        }
    }
    assert_eq!(complete, CONNECTIONS, "every connection got every answer");
}

#[tokio::test]
async fn clients_leaving_at_once_each_get_the_closing_handshake_while_others_are_served() {
    use futures_util::{SinkExt, StreamExt};
    const LEAVING: usize = 200;
    let config = "[quota]\nin_flight = 0\nstreams = 0\nconnections = 0\npace_to_share = false\n";
    let server = Server::with_config(&["echo"], config);
    let mut staying = WsClient::connect(&server).await;
    let mut leaving = Vec::with_capacity(LEAVING);
    for n in 0..LEAVING {
        let mut ws = WsClient::connect(&server).await;
        ws.send(&call(1, "echo", json!({ "text": format!("{n}") }))).await;
        assert_eq!(ws.reply().await["result"]["content"][0]["text"], format!("{n}"));
        leaving.push(ws);
    }
    // One client leaves after asking for far more than it ever reads: its close must not
    // hold up the others' (closes take turns).
    let stuck = WsClient::connect(&server).await;
    let (mut stuck_sink, _stuck_stream) = stuck.socket.split();
    let text = "x".repeat(96 * 1024);
    for id in 0..100 {
        let frame = Message::Text(call(id, "echo", json!({ "text": text })).to_string().into());
        if stuck_sink.send(frame).await.is_err() {
            break;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), stuck_sink.send(Message::Close(None))).await;

    let started = Instant::now();
    let closing: Vec<_> = leaving
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                ws.send_raw(Message::Close(None)).await;
                // The server answers with its own close frame, then ends the connection.
                loop {
                    match ws.next().await {
                        WsEvent::Close(..) => break true,
                        WsEvent::Ended => break false,
                        WsEvent::Message(_) => {}
                    }
                }
            })
        })
        .collect();
    // Meanwhile a connection that stays is served.
    staying.send(&call(7, "echo", json!({ "text": "still here" }))).await;
    assert_eq!(staying.reply().await["result"]["content"][0]["text"], "still here");
    let mut handshakes = 0;
    for task in closing {
        if task.await.expect("client task") {
            handshakes += 1;
        }
    }
    assert_eq!(handshakes, LEAVING, "every leaving client got the server's close frame");
    assert!(started.elapsed() < Duration::from_secs(10), "closing took {:?}", started.elapsed());
    // Every one of them is gone from the server, the stuck one included (within its 5 s).
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = metrics_text(&server).await;
        if text.contains("berth_websocket_connections 1\n") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "connections left open: {}",
            text.lines().find(|l| l.starts_with("berth_websocket_connections ")).unwrap_or("?")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    staying.send(&call(8, "echo", json!({ "text": "after" }))).await;
    assert_eq!(staying.reply().await["result"]["content"][0]["text"], "after");
}
