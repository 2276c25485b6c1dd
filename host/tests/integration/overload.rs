//! Backpressure under overload: every request gets exactly one answer,
//! shedding does no plugin work, request timeouts, and /metrics.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;

/// The value of the metric line starting with `prefix` (labels included).
fn metric(text: &str, series: &str) -> f64 {
    metric_value(text, series).unwrap_or_else(|| panic!("no metric {series} in:\n{text}"))
}

/// Median latency of `n` sequential quick calls.
async fn median_latency(server: &Server, n: usize) -> Duration {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        assert_eq!(first_text(&call_tool(server, "faulty_ok", json!({})).await), "ok");
        samples.push(started.elapsed());
    }
    samples.sort();
    samples[n / 2]
}

#[tokio::test]
async fn past_the_in_flight_limit_every_request_gets_exactly_one_answer() {
    const REQUESTS: usize = 120;
    let config = "[http]\nmax_in_flight = 4\nretry_after_secs = 2\n[limits]\ndeadline_ms = 700\n";
    let server = Server::with_config(&["faulty"], config);
    let baseline = median_latency(&server, 20).await;
    let calls_before = metric(&metrics_text(&server).await, r#"berth_plugin_calls_total{plugin="faulty"}"#);

    let client = server.client();
    let body = modern_body(1, "tools/call", json!({ "name": "faulty_sleep", "arguments": {} }));
    let requests = (0..REQUESTS).map(|_| {
        let request = client
            .post(&server.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", MODERN)
            .header("mcp-method", "tools/call")
            .header("mcp-name", "faulty_sleep")
            .json(&body);
        async move {
            let started = Instant::now();
            let response = request.send().await.expect("every request is answered");
            let status = response.status().as_u16();
            let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let body: serde_json::Value = response.json().await.expect("a JSON body");
            (status, retry_after, body, started.elapsed())
        }
    });
    let answers = futures_util::future::join_all(requests).await;
    let (mut served, mut shed, mut over_share) = (0, 0, 0);
    for (status, retry_after, body, elapsed) in &answers {
        match status {
            200 => {
                assert_eq!(body["result"]["isError"], true, "the sleeper hit its deadline: {body}");
                served += 1;
            }
            // 503: the server is full; 429: this one client holds more than its
            // share and the last slot is kept for another.
            503 | 429 => {
                assert_eq!(retry_after.as_deref(), Some("2"));
                assert_eq!(body["error"]["code"], -32000);
                assert_eq!(body["error"]["data"]["retryAfterMs"], 2000);
                // Refused at once: well before any admitted call could finish.
                assert!(*elapsed < Duration::from_millis(700), "a refusal waited {elapsed:?}");
                if *status == 429 {
                    assert_eq!(body["error"]["data"]["limit"], "fair_share", "{body}");
                    over_share += 1;
                } else {
                    shed += 1;
                }
            }
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert_eq!(served + shed + over_share, REQUESTS, "exactly one answer per request");
    assert!(served >= 3, "the admitted requests ran ({served})");
    assert!(shed + over_share >= REQUESTS / 2, "most requests were refused ({shed} + {over_share})");

    let text = metrics_text(&server).await;
    let calls_after = metric(&text, r#"berth_plugin_calls_total{plugin="faulty"}"#);
    assert_eq!(calls_after - calls_before, served as f64, "shed requests did no plugin work");
    assert_eq!(metric(&text, "berth_shed_total"), shed as f64);
    assert_eq!(metric(&text, r#"berth_quota_refusals_total{limit="fair_share"}"#), over_share as f64);
    assert_eq!(metric(&text, "berth_in_flight_requests"), 0.0, "nothing runs once every answer arrived");

    // Load gone: quick calls are quick again.
    let after = median_latency(&server, 20).await;
    assert!(after <= baseline * 3 + Duration::from_millis(5), "latency after overload {after:?} vs {baseline:?}");
}

#[tokio::test]
async fn the_stream_limit_refuses_extra_event_streams() {
    let server = Server::with_config(&["echo"], "[http]\nmax_streams = 1\n");
    let first = WsClient::connect(&server).await;
    WsClient::expect_refused(&server, 503, "a second stream past max_streams = 1").await;
    drop(first);
    // The slot frees when the first connection ends.
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(ws) = WsClient::connect_with(&server, &[]).await {
            reopened = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reopened.is_some(), "the freed slot is usable");
}

#[tokio::test]
async fn slow_requests_and_partial_bodies_time_out_with_504() {
    let config = "[http]\nrequest_timeout_secs = 1\n[limits]\ndeadline_ms = 5000\n";
    let server = Server::with_config(&["faulty"], config);
    let reply =
        post_modern(&server, &modern_body(1, "tools/call", json!({ "name": "faulty_sleep", "arguments": {} }))).await;
    assert_eq!(reply.status, 504);
    assert_eq!(reply.error_code(), -32000);

    // Slowloris: headers promise 100 bytes, 10 arrive, then nothing.
    let addr = server.base.trim_start_matches("http://").to_owned();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"jsonrpc\""
    );
    let (status, code) = raw_http(&server, &head).await;
    assert_eq!(status, 504, "the server answered the stalled upload with 504");
    assert_eq!(code, Some(-32000));
    // The server is still healthy.
    assert_eq!(first_text(&call_tool(&server, "faulty_ok", json!({})).await), "ok");
}

#[tokio::test]
async fn metrics_count_calls_by_tool_and_outcome_with_latency() {
    let server = Server::start(&["faulty"]);
    for _ in 0..3 {
        call_tool(&server, "faulty_ok", json!({})).await;
    }
    let trapped = call_tool(&server, "faulty_trap", json!({})).await;
    assert_eq!(trapped["isError"], true);
    let text = metrics_text(&server).await;
    let ok = r#"berth_tool_calls_total{plugin="faulty",tool="faulty_ok",outcome="ok"}"#;
    assert_eq!(metric(&text, ok), 3.0);
    let trap = r#"berth_tool_calls_total{plugin="faulty",tool="faulty_trap",outcome="trap"}"#;
    assert_eq!(metric(&text, trap), 1.0);
    assert_eq!(metric(&text, r#"berth_plugin_traps_total{plugin="faulty"}"#), 1.0);
    let count = r#"berth_tool_call_duration_seconds_count{plugin="faulty",tool="faulty_ok"}"#;
    assert_eq!(metric(&text, count), 3.0);
    let inf = r#"berth_tool_call_duration_seconds_bucket{plugin="faulty",tool="faulty_ok",le="+Inf"}"#;
    assert_eq!(metric(&text, inf), 3.0);
    assert!(metric(&text, "berth_resident_memory_bytes") > 1_000_000.0);
    for gauge in ["berth_in_flight_requests", "berth_websocket_connections", "berth_event_streams", "berth_sessions"] {
        metric(&text, gauge);
    }
}
