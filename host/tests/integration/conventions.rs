//! The OpenTelemetry MCP metric conventions in `/metrics`: `mcp.server.operation.duration` by
//! method, tool and error type (a tool error counts as an error although HTTP said 200) and
//! `mcp.server.session.duration` of legacy sessions, as Prometheus histograms.

use serde_json::json;

use crate::common::*;

const OPERATIONS: &str = "mcp_server_operation_duration_seconds";

#[tokio::test]
async fn requests_are_measured_by_method_tool_and_error_type() {
    let server = Server::start(&["echo"]);
    post_modern(&server, &modern_body(1, "tools/call", json!({ "name": "echo", "arguments": { "text": "a" } }))).await;
    post_modern(&server, &modern_body(2, "tools/call", json!({ "name": "echo", "arguments": { "text": "b" } }))).await;
    // Arguments the schema refuses: an isError result, HTTP 200.
    let refused = post_modern(&server, &modern_body(3, "tools/call", json!({ "name": "echo", "arguments": {} }))).await;
    assert_eq!(refused.status, 200);
    assert_eq!(refused.body["result"]["isError"], true);
    // A tool no snapshot has is a protocol error and never a label of its own.
    let unknown = post_modern(&server, &modern_body(4, "tools/call", json!({ "name": "made_up_tool_1" }))).await;
    assert_eq!(unknown.error_code(), -32602);
    post_modern(&server, &modern_body(5, "tools/list", json!({}))).await;
    post_modern(&server, &modern_body(6, "vendor/whatever", json!({}))).await;

    let text = metrics_text(&server).await;
    assert!(text.contains(&format!("# TYPE {OPERATIONS} histogram")), "{text}");
    let count = |labels: &str| metric_value(&text, &format!("{OPERATIONS}_count{{{labels}}}"));
    assert_eq!(count("mcp_method_name=\"tools/call\",gen_ai_tool_name=\"echo\""), Some(2.0), "{text}");
    assert_eq!(count("mcp_method_name=\"tools/call\",gen_ai_tool_name=\"echo\",error_type=\"tool_error\""), Some(1.0));
    assert_eq!(count("mcp_method_name=\"tools/call\",error_type=\"-32602\""), Some(1.0));
    assert_eq!(count("mcp_method_name=\"tools/list\""), Some(1.0));
    assert_eq!(count("mcp_method_name=\"other\",error_type=\"-32601\""), Some(1.0));
    assert!(!text.contains("made_up_tool_1") && !text.contains("vendor/whatever"), "client names stay out of labels");
    // Buckets are cumulative and end at the count.
    let buckets: Vec<f64> = text
        .lines()
        .filter(|l| {
            l.starts_with(&format!("{OPERATIONS}_bucket{{mcp_method_name=\"tools/call\",gen_ai_tool_name=\"echo\",le="))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    assert_eq!(buckets.len(), 17, "16 bounds and +Inf");
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]) && buckets.last() == Some(&2.0), "{buckets:?}");
}

#[tokio::test]
async fn legacy_sessions_are_measured_when_they_end() {
    let server = Server::start(&["echo"]);
    let before = metric_value(&metrics_text(&server).await, "mcp_server_session_duration_seconds_count");
    assert_eq!(before, Some(0.0), "the histogram is there before any session ends");
    let session = LegacySession::open(&server, "2025-11-25").await;
    let text = metrics_text(&server).await;
    assert_eq!(
        metric_value(&text, "mcp_server_operation_duration_seconds_count{mcp_method_name=\"initialize\"}"),
        Some(1.0)
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let deleted =
        server.client().delete(&server.url).header("mcp-session-id", &session.id).send().await.expect("delete");
    assert!(deleted.status().is_success());
    let text = metrics_text(&server).await;
    assert_eq!(metric_value(&text, "mcp_server_session_duration_seconds_count"), Some(1.0), "{text}");
    let lasted = metric_value(&text, "mcp_server_session_duration_seconds_sum").expect("sum");
    assert!(lasted >= 0.3, "the session lasted at least the pause: {lasted}");
    assert_eq!(metric_value(&text, "mcp_server_session_duration_seconds_bucket{le=\"0.25\"}"), Some(0.0));
}
