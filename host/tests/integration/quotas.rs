//! One abusive client must not lock out the others: per-source quotas,
//! sessions reclaimed for newcomers, and the server's slots shared fairly.
//! Sources are told apart by loopback address (127.0.0.x), by bearer token
//! when auth is on, and by `X-Forwarded-For` only from a trusted proxy.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#;

/// POSTs a legacy `initialize` with `client`; the reply.
async fn initialize(server: &Server, client: &reqwest::Client) -> Reply {
    let response = client
        .post(&server.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(INITIALIZE)
        .send()
        .await
        .expect("initialize");
    Reply::read(response).await
}

/// POSTs a request in legacy session `id` with `client`.
async fn in_session(server: &Server, client: &reqwest::Client, id: &str, body: &Value) -> Reply {
    let response = client
        .post(&server.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", id)
        .header("mcp-protocol-version", "2025-11-25")
        .json(body)
        .send()
        .await
        .expect("post");
    Reply::read(response).await
}

fn session_id(reply: &Reply) -> String {
    reply.headers.get("mcp-session-id").expect("a session id").to_str().expect("ascii").to_owned()
}

fn ping(id: u64) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": "ping" })
}

/// A modern echo call with `client`, carrying `extra` headers.
async fn echo_with(server: &Server, client: &reqwest::Client, extra: &[(&str, &str)]) -> Reply {
    let body = modern_body(1, "tools/call", json!({ "name": "echo", "arguments": { "text": "hi" } }));
    let mut request = modern_request_from(client, &server.url, &body);
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    Reply::read(request.send().await.expect("call")).await
}

/// Checks a 429 over quota `limit`: `Retry-After`, and a JSON-RPC -32000 naming the limit.
fn assert_over_quota(reply: &Reply, limit: &str) {
    assert_eq!(reply.status, 429, "{}", reply.body);
    assert!(reply.headers.get("retry-after").is_some(), "429 carries Retry-After");
    let error = &reply.body["error"];
    assert_eq!(error["code"], -32000, "{}", reply.body);
    assert_eq!(error["data"]["limit"], limit, "{}", reply.body);
    assert_eq!(error["data"]["scope"], "source");
    assert!(error["data"]["retryAfterMs"].as_u64().is_some_and(|ms| ms > 0));
    assert!(error["message"].as_str().is_some_and(|m| m.starts_with("over quota:")), "{}", reply.body);
}

#[tokio::test]
async fn a_session_flood_from_one_source_leaves_room_for_everyone_else() {
    // No refusal delay: 280 held refusals would outlast the unused sessions' grace.
    let server =
        Server::with_config(&["echo"], "[http]\nmax_sessions = 100\n[quota]\nsessions = 20\nrefusal_delay_ms = 0\n");
    let flooder = server.client_from(1);
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut refused = None;
    for _ in 0..300 {
        let reply = initialize(&server, &flooder).await;
        *statuses.entry(reply.status).or_default() += 1;
        if reply.status == 429 {
            refused = Some(reply);
        }
    }
    assert_eq!(statuses, [(200, 20), (429, 280)].into(), "the flood fills its own quota, not the server");
    let refused = refused.expect("a refusal");
    assert_over_quota(&refused, "sessions");
    assert_eq!(refused.body["id"], 0, "the refusal answers the initialize request");

    // Another client starts at once and works.
    let other = server.client_from(2);
    let opened = initialize(&server, &other).await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    let id = session_id(&opened);
    let call = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": { "name": "echo", "arguments": { "text": "in" } } });
    let answer = in_session(&server, &other, &id, &call).await;
    assert_eq!(answer.body["result"]["content"][0]["text"], "in", "{}", answer.body);
    assert!(metrics_text(&server).await.contains("berth_quota_refusals_total{limit=\"sessions\"} 280"));
}

#[tokio::test]
async fn over_quota_answers_are_held_for_the_refusal_delay() {
    let server = Server::with_config(&["echo"], "[quota]\nsessions = 1\nrefusal_delay_ms = 1500\n");
    let client = server.client_from(1);
    let started = Instant::now();
    assert_eq!(initialize(&server, &client).await.status, 200);
    assert!(started.elapsed() < Duration::from_millis(1500), "an admitted request is not held");
    let started = Instant::now();
    assert_over_quota(&initialize(&server, &client).await, "sessions");
    assert!(started.elapsed() >= Duration::from_millis(1500), "the refusal came after {:?}", started.elapsed());
}

#[tokio::test]
async fn sessions_never_used_are_reclaimed_after_their_grace() {
    let server = Server::with_config(&["echo"], "[http]\nsession_grace_secs = 1\n[quota]\nsessions = 3\n");
    let client = server.client_from(1);
    // Three sessions nobody sends a request in; the first completes its
    // handshake (notifications/initialized), which alone is no use.
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(session_id(&initialize(&server, &client).await));
    }
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    assert_eq!(in_session(&server, &client, &ids[0], &initialized).await.status, 202);
    assert_over_quota(&initialize(&server, &client).await, "sessions");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let reclaimed = initialize(&server, &client).await;
    assert_eq!(reclaimed.status, 200, "an unused session past its grace made room: {}", reclaimed.body);
    let oldest = in_session(&server, &client, &ids[0], &ping(1)).await;
    assert_eq!(oldest.status, 404, "the oldest unused session went: {}", oldest.body);
    assert_eq!(in_session(&server, &client, &ids[1], &ping(2)).await.status, 200, "one was enough");
    assert!(metrics_text(&server).await.contains("berth_sessions_evicted_total{reason=\"unused\"} 1"));
}

#[tokio::test]
async fn a_full_server_evicts_unused_then_least_recently_used_sessions_never_busy_ones() {
    let config = "[http]\nmax_sessions = 3\nsession_grace_secs = 1\n[limits]\ndeadline_ms = 3000\n";
    let server = Server::with_config(&["faulty"], config);
    let client = server.client();
    let busy = session_id(&initialize(&server, &client).await);
    let used = session_id(&initialize(&server, &client).await);
    let unused = session_id(&initialize(&server, &client).await);
    assert_eq!(in_session(&server, &client, &used, &ping(1)).await.status, 200);
    // The busy session has a call running through all of this.
    let sleeper = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": { "name": "faulty_sleep", "arguments": {} } });
    let running = {
        let (server_url, busy, client) = (server.url.clone(), busy.clone(), client.clone());
        tokio::spawn(async move {
            client
                .post(&server_url)
                .header("content-type", "application/json")
                .header("accept", "application/json")
                .header("mcp-session-id", &busy)
                .json(&sleeper)
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    };
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Touch the unused session (a notification is not a use), so it is also the most recently seen.
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let touched = in_session(&server, &client, &unused, &initialized).await;
    assert_eq!(touched.status, 202);

    assert_eq!(initialize(&server, &client).await.status, 200, "room for a newcomer");
    assert_eq!(in_session(&server, &client, &unused, &ping(3)).await.status, 404, "the unused one went first");
    assert_eq!(initialize(&server, &client).await.status, 200, "room again");
    assert_eq!(in_session(&server, &client, &used, &ping(4)).await.status, 404, "then the least recently used");
    let text = metrics_text(&server).await;
    assert!(text.contains("berth_sessions_evicted_total{reason=\"unused\"} 1"), "{text}");
    assert_eq!(running.await.expect("join").expect("answered"), 200, "the busy session's call was never cut off");
    assert_eq!(in_session(&server, &client, &busy, &ping(5)).await.status, 200, "a busy session is never evicted");
}

#[tokio::test]
async fn a_store_full_of_running_sessions_is_the_only_503_and_listening_is_not_running() {
    let server = Server::with_config(&["faulty"], "[http]\nmax_sessions = 1\n[limits]\ndeadline_ms = 1500\n");
    let client = server.client();
    let id = session_id(&initialize(&server, &client).await);
    let sleeper = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": { "name": "faulty_sleep", "arguments": {} } });
    let running = {
        let (server_url, id, client) = (server.url.clone(), id.clone(), client.clone());
        tokio::spawn(async move {
            let response = client
                .post(&server_url)
                .header("content-type", "application/json")
                .header("accept", "application/json")
                .header("mcp-session-id", &id)
                .json(&sleeper)
                .send()
                .await
                .expect("call");
            response.status().as_u16()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let full = initialize(&server, &client).await;
    assert_eq!(full.status, 503, "its one session has a call running: {}", full.body);
    assert_eq!(full.body["error"]["code"], -32000);
    assert!(full.headers.get("retry-after").is_some());
    assert_eq!(running.await.expect("join"), 200);

    // Listening on the event stream is not work: the session can go, and its stream ends.
    let stream = client
        .get(&server.url)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &id)
        .send()
        .await
        .expect("GET stream");
    let mut stream = SseReader::new(stream);
    assert_eq!(initialize(&server, &client).await.status, 200, "the idle listener was evicted");
    let ended = tokio::time::timeout(Duration::from_secs(5), stream.next()).await;
    assert!(matches!(ended, Ok(None)), "the evicted session's stream ends");
    assert_eq!(in_session(&server, &client, &id, &ping(2)).await.status, 404);
}

#[tokio::test]
async fn each_quota_refuses_with_429_and_its_name() {
    let config = "[quota]\nin_flight = 2\nstreams = 1\n[limits]\ndeadline_ms = 1500\n";
    let server = Server::with_config(&["faulty", "echo"], config);
    let client = server.client_from(3);

    // In flight: two sleepers run, a third is refused at once.
    let sleeper = modern_body(1, "tools/call", json!({ "name": "faulty_sleep", "arguments": {} }));
    let send = |client: reqwest::Client| {
        let request = modern_request_from(&client, &server.url, &sleeper);
        async move { Reply::read(request.send().await.expect("send")).await }
    };
    let running = [tokio::spawn(send(client.clone())), tokio::spawn(send(client.clone()))];
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_over_quota(&send(client.clone()).await, "in_flight");
    assert_eq!(echo_with(&server, &server.client_from(4), &[]).await.status, 200, "another source runs");
    for call in running {
        assert_eq!(call.await.expect("join").status, 200);
    }

    // Streams: one listen stream, the WebSocket after it is refused before the upgrade.
    let mut listen = modern_body(2, "subscriptions/listen", json!({ "notifications": { "toolsListChanged": true } }));
    listen["params"]["_meta"] = envelope();
    let stream = stream_modern(&server, &listen).await;
    WsClient::expect_refused(&server, 429, "a second stream past quota.streams = 1").await;
    drop(stream);
}

#[tokio::test]
async fn the_request_rate_is_a_token_bucket_per_source_on_http_and_websocket() {
    let server = Server::with_config(&["echo"], "[quota]\nrequests_per_sec = 2\nburst = 3\n");
    let client = server.client_from(5);
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..6 {
        let reply = echo_with(&server, &client, &[]).await;
        statuses.push(reply.status);
        last = Some(reply);
    }
    assert_eq!(&statuses[..3], &[200, 200, 200], "the burst passes");
    assert!(statuses[3..].contains(&429), "then the rate holds: {statuses:?}");
    let last = last.expect("a reply");
    if last.status == 429 {
        assert_over_quota(&last, "rate");
        assert_eq!(last.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    }
    assert_eq!(echo_with(&server, &server.client_from(6), &[]).await.status, 200, "another source has its own bucket");

    // Over WebSocket: -32000 with retryAfterMs, and the socket stays open.
    let mut ws = WsClient::connect(&server).await;
    let mut codes = Vec::new();
    for id in 0..8u64 {
        ws.send(&modern_body(id, "tools/call", json!({ "name": "echo", "arguments": { "text": "x" } }))).await;
        let reply = ws.reply().await;
        if let Some(code) = reply["error"]["code"].as_i64() {
            assert_eq!(reply["error"]["data"]["limit"], "rate", "{reply}");
            assert!(reply["error"]["data"]["retryAfterMs"].as_u64().is_some_and(|ms| ms > 0 && ms <= 1000));
            codes.push(code);
        }
    }
    assert!(!codes.is_empty() && codes.iter().all(|c| *c == -32000), "{codes:?}");
}

#[tokio::test]
async fn with_auth_on_quotas_follow_the_token_not_the_address() {
    let config = "[auth]\ntokens = [\"alpha-token\", \"beta-token\"]\n[quota]\nrequests_per_sec = 1\nburst = 2\n";
    let server = Server::with_config(&["echo"], config);
    let client = server.client();
    let alpha = [("authorization", "Bearer alpha-token")];
    let beta = [("authorization", "Bearer beta-token")];
    assert_eq!(echo_with(&server, &client, &alpha).await.status, 200);
    assert_eq!(echo_with(&server, &client, &alpha).await.status, 200);
    assert_over_quota(&echo_with(&server, &client, &alpha).await, "rate");
    assert_eq!(echo_with(&server, &client, &beta).await.status, 200, "same address, another token: its own quota");
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_a_trusted_proxy() {
    let limited = "[quota]\nrequests_per_sec = 1\nburst = 1\n";
    // Untrusted peer: X-Forwarded-For is ignored, so a fresh header per request does not help.
    let server = Server::with_config(&["echo"], limited);
    let client = server.client_from(7);
    assert_eq!(echo_with(&server, &client, &[("x-forwarded-for", "203.0.113.1")]).await.status, 200);
    assert_over_quota(&echo_with(&server, &client, &[("x-forwarded-for", "203.0.113.2")]).await, "rate");

    // Behind a trusted proxy (127.0.0.8): each forwarded client has its own quota.
    let trusted = format!("{limited}trusted_proxies = [\"127.0.0.8\"]\n");
    let server = Server::with_config(&["echo"], &trusted);
    let proxy = server.client_from(8);
    assert_eq!(echo_with(&server, &proxy, &[("x-forwarded-for", "203.0.113.1")]).await.status, 200);
    assert_eq!(echo_with(&server, &proxy, &[("x-forwarded-for", "203.0.113.2")]).await.status, 200);
    assert_eq!(echo_with(&server, &proxy, &[("forwarded", "for=203.0.113.3")]).await.status, 200);
    assert_over_quota(&echo_with(&server, &proxy, &[("x-forwarded-for", "203.0.113.1")]).await, "rate");
    // Another peer is still not trusted.
    let other = server.client_from(9);
    assert_eq!(echo_with(&server, &other, &[("x-forwarded-for", "203.0.113.9")]).await.status, 200);
    assert_over_quota(&echo_with(&server, &other, &[("x-forwarded-for", "203.0.113.10")]).await, "rate");
}

#[tokio::test]
async fn connections_over_the_address_quota_are_answered_429_and_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::with_config(&["echo"], "[quota]\nconnections = 2\n");
    let addr = server.base.trim_start_matches("http://").to_owned();
    let _held = [
        tokio::net::TcpStream::connect(&addr).await.expect("connect"),
        tokio::net::TcpStream::connect(&addr).await.expect("connect"),
    ];
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let body = modern_body(1, "tools/list", json!({})).to_string();
    let request = format!(
        "POST /mcp HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\naccept: application/json\r\n\
         mcp-protocol-version: {MODERN}\r\nmcp-method: tools/list\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    third.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), third.read_to_string(&mut answer))
        .await
        .expect("the server closes the connection after answering")
        .expect("read");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 429"), "{answer}");
    assert!(head.contains("connection: close") && head.contains("retry-after:"), "{answer}");
    let body: Value = serde_json::from_str(body).expect("a JSON-RPC body");
    assert_eq!(body["error"]["data"]["limit"], "connections", "{body}");
}

#[tokio::test]
async fn one_source_cannot_take_every_slot_of_a_full_server() {
    let config = "[http]\nmax_in_flight = 10\n[quota]\nin_flight = 0\n[limits]\ndeadline_ms = 2000\n";
    let server = Server::with_config(&["faulty", "echo"], config);
    let heavy = server.client_from(10);
    let sleeper = modern_body(1, "tools/call", json!({ "name": "faulty_sleep", "arguments": {} }));
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let request = modern_request_from(&heavy, &server.url, &sleeper);
            tokio::spawn(async move { request.send().await.expect("send").status().as_u16() })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let newcomer = echo_with(&server, &server.client_from(11), &[]).await;
    assert_eq!(newcomer.status, 200, "the reserve was kept for another client: {}", newcomer.body);
    let mut statuses = Vec::new();
    for call in calls {
        statuses.push(call.await.expect("join"));
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 9, "nine tenths for one source: {statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429), "{statuses:?}");
}
