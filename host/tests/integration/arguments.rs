//! Tool arguments checked by the host (SEP-1303): bad arguments are a tool
//! error the model can read, with each violation's JSON pointer, in both eras
//! and on every transport; no plugin instance is spent on them. Also: the
//! plugin's own "invalid params", structured output against the output
//! schema, and `validate = false`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

const HEADER: &str = "Invalid arguments (they do not match the tool's input schema):";

/// Arguments for `faulty_strict` and the exact text of the tool error each gets.
fn cases() -> Vec<(&'static str, Value, String)> {
    let expect = |lines: &[&str]| format!("{HEADER}\n{}", lines.join("\n"));
    let mut many_wrong = vec![String::from("/values: 5000 items, more than the 100 allowed")];
    many_wrong.extend((0..19).map(|i| format!("/values/{i}: expected integer, got string")));
    many_wrong.push("(and 4981 more)".into());
    vec![
        ("wrong type", json!({ "name": 5 }), expect(&["/name: expected string, got integer"])),
        ("missing required", json!({}), expect(&["/: missing required property \"name\""])),
        (
            "extra property with additionalProperties false",
            json!({ "name": "a", "colour": "red" }),
            expect(&["/: unexpected property \"colour\" (not allowed by the schema)"]),
        ),
        (
            "enum miss",
            json!({ "name": "a", "mode": "medium" }),
            expect(&["/mode: expected one of [\"fast\",\"slow\"], got \"medium\""]),
        ),
        (
            "nested path",
            json!({ "name": "a", "point": { "x": 1, "y": "2" } }),
            expect(&["/point/y: expected integer, got string"]),
        ),
        (
            "array over maxItems",
            json!({ "name": "a", "values": (0..101).collect::<Vec<u32>>() }),
            expect(&["/values: 101 items, more than the 100 allowed"]),
        ),
        (
            "huge array of wrong items",
            json!({ "name": "a", "values": vec!["x"; 5000] }),
            format!("{HEADER}\n{}", many_wrong.join("\n")),
        ),
    ]
}

/// The mismatches between `reply` (a JSON-RPC response) and a tool error with `text`.
fn check(name: &str, reply: &Value, text: &str) -> Option<String> {
    let result = &reply["result"];
    let ok = result["isError"] == true && result["content"][0]["text"] == text && result["content"][1].is_null();
    (!ok).then(|| format!("{name}: expected a tool error with\n{text}\ngot {reply}"))
}

#[tokio::test]
async fn bad_arguments_over_http_are_tool_errors_and_cost_no_instance() {
    let server = Server::start(&["faulty"]);
    let mut wrong = Vec::new();
    for (name, arguments, text) in cases() {
        let body = modern_body(1, "tools/call", json!({ "name": "faulty_strict", "arguments": arguments }));
        let reply = post_modern(&server, &body).await;
        if reply.status != 200 {
            wrong.push(format!("{name}: HTTP {}", reply.status));
        }
        wrong.extend(check(name, &reply.body, &text));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(first_text(&call_tool(&server, "faulty_strict", json!({ "name": "a", "mode": "fast" })).await), "ok");
    let text = metrics_text(&server).await;
    assert!(
        text.contains(
            "berth_tool_calls_total{plugin=\"faulty\",tool=\"faulty_strict\",outcome=\"invalid_arguments\"} 7"
        ),
        "{text}"
    );
    assert!(text.contains("berth_plugin_calls_total{plugin=\"faulty\"} 1"), "only the valid call ran: {text}");
}

#[tokio::test]
async fn bad_arguments_in_a_legacy_session_are_tool_errors() {
    let server = Server::start(&["faulty"]);
    let session = LegacySession::open(&server, "2025-11-25").await;
    let mut wrong = Vec::new();
    for (n, (name, arguments, text)) in cases().into_iter().enumerate() {
        let body = json!({ "jsonrpc": "2.0", "id": n + 10, "method": "tools/call",
            "params": { "name": "faulty_strict", "arguments": arguments } });
        wrong.extend(check(name, &session.post(&body).await.body, &text));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn bad_arguments_over_websocket_are_tool_errors() {
    let server = Server::start(&["faulty"]);
    let mut ws = WsClient::connect(&server).await;
    let mut wrong = Vec::new();
    for (n, (name, arguments, text)) in cases().into_iter().enumerate() {
        let mut body = modern_body(0, "tools/call", json!({ "name": "faulty_strict", "arguments": arguments }));
        body["id"] = json!(n);
        ws.send(&body).await;
        wrong.extend(check(name, &ws.reply().await, &text));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn bad_arguments_over_stdio_are_tool_errors() {
    let mut stdio = StdioServer::spawn(&["faulty"]);
    let mut wrong = Vec::new();
    for (name, arguments, text) in cases() {
        stdio.send(&modern_body(1, "tools/call", json!({ "name": "faulty_strict", "arguments": arguments }))).await;
        wrong.extend(check(name, &stdio.reply().await, &text));
    }
    stdio.finish().await;
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn the_plugins_own_invalid_params_and_unknown_tools() {
    // Unvalidated, the plugin's own parsing refuses the bad argument: still a tool error.
    let dir = plugin_dir(&["echo"]);
    std::fs::write(dir.path().join("echo.toml"), "validate = false\n").expect("sidecar");
    let server = Server::start_in(dir.path(), &[]);
    let result = call_tool(&server, "echo", json!({ "text": 5 })).await;
    assert_eq!(result["isError"], true, "{result}");
    let text = first_text(&result);
    assert!(text.starts_with("Invalid arguments: ") && !text.contains(HEADER), "the plugin's own words: {text}");
    let text = metrics_text(&server).await;
    assert!(text.contains("tool=\"echo\",outcome=\"invalid_arguments\"} 1"), "{text}");
    assert!(text.contains("berth_plugin_calls_total{plugin=\"echo\"} 1"), "the plugin did the checking: {text}");
    // An unknown tool stays a protocol error.
    let unknown = post_modern(&server, &modern_body(2, "tools/call", json!({ "name": "nope", "arguments": {} }))).await;
    assert_eq!((unknown.status, unknown.error_code()), (400, -32602));
}

#[tokio::test]
async fn a_schema_that_does_not_compile_refuses_the_plugin_naming_the_tool() {
    let dir = plugin_dir(&["faulty"]);
    std::fs::write(dir.path().join("faulty.toml"), "[capabilities]\nenv = [\"FAULTY_BROKEN_SCHEMA\"]\n")
        .expect("sidecar");
    let output = berth()
        .env("FAULTY_BROKEN_SCHEMA", "1")
        .args(["list", "--cache-dir"])
        .arg(shared_cache())
        .arg("--plugins")
        .arg(dir.path())
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr.lines().find(|l| l.starts_with("berth: error:")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        line.contains("faulty.wasm") && line.contains("tool \"faulty_broken\"") && line.contains("input-schema"),
        "one line naming the file, the tool and the schema error: {line}"
    );

    // Hot reload: the broken version is refused and the old one keeps serving.
    let live = plugin_dir(&["faulty"]);
    let env = std::collections::HashMap::from([("FAULTY_BROKEN_SCHEMA", "1")]);
    let server = Server::start_in_with_env(live.path(), &[], &env);
    let before = tool_names(&server).await;
    std::fs::write(live.path().join("faulty.toml"), "[capabilities]\nenv = [\"FAULTY_BROKEN_SCHEMA\"]\n")
        .expect("sidecar");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(tool_names(&server).await, before, "the refused version never served");
    assert_eq!(first_text(&call_tool(&server, "faulty_strict", json!({ "name": "a" })).await), "ok");
}

#[tokio::test]
async fn structured_output_that_breaks_the_output_schema_is_reported_as_a_plugin_bug() {
    let server = Server::start(&["faulty"]);
    let honest = call_tool(&server, "faulty_counted", json!({})).await;
    assert_eq!((honest["isError"].clone(), honest["structuredContent"].clone()), (json!(false), json!({ "count": 3 })));
    let lying = call_tool(&server, "faulty_counted", json!({ "lie": true })).await;
    assert_eq!(lying["isError"], true, "{lying}");
    assert!(lying.get("structuredContent").is_none(), "the bad output is not passed on: {lying}");
    let text = first_text(&lying);
    assert!(
        text.contains("does not match its outputSchema (a bug in plugin faulty)")
            && text.contains("/count: expected integer, got string"),
        "{text}"
    );
    assert!(metrics_text(&server).await.contains("tool=\"faulty_counted\",outcome=\"invalid_output\"} 1"));
}

#[tokio::test]
async fn validate_false_passes_arguments_and_output_through() {
    let dir = plugin_dir(&["faulty"]);
    std::fs::write(dir.path().join("faulty.toml"), "validate = false\n").expect("sidecar");
    let server = Server::start_in(dir.path(), &[]);
    assert_eq!(first_text(&call_tool(&server, "faulty_strict", json!({ "name": 5, "extra": true })).await), "ok");
    let lying = call_tool(&server, "faulty_counted", json!({ "lie": true })).await;
    assert_eq!(lying["structuredContent"], json!({ "count": "three" }), "unchecked: {lying}");
}

/// A `tools/call echo` whose arguments name `text` twice (`"first"`, then `second`),
/// as raw bytes: no JSON library would write that.
async fn echo_with_text_twice(server: &Server, second: &str) -> Value {
    let body = modern_body(1, "tools/call", json!({ "name": "echo", "arguments": { "text": "PLACEHOLDER" } }));
    let text = body.to_string().replace(r#""text":"PLACEHOLDER""#, &format!(r#""text":"first","text":"{second}""#));
    let headers = [
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-protocol-version", MODERN),
        ("mcp-method", "tools/call"),
        ("mcp-name", "echo"),
    ];
    let reply = post_raw(server, &headers, text).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["result"].clone()
}

#[tokio::test]
async fn a_member_named_twice_reaches_the_plugin_as_the_value_berth_checked() {
    // The schema check reads the last `text`; the plugin must run on exactly that, not on
    // the client's text, where its parser would meet `text` twice and refuse it.
    let server = Server::start(&["echo"]);
    let result = echo_with_text_twice(&server, "checked").await;
    assert_eq!((result["isError"].as_bool(), first_text(&result)), (Some(false), "checked"), "{result}");
    // With nothing checked (`validate = false`) the plugin gets the client's own text, as
    // sent: echo's parser refuses a field given twice, and says so.
    let dir = plugin_dir(&["echo"]);
    std::fs::write(dir.path().join("echo.toml"), "validate = false\n").expect("sidecar");
    let unchecked = Server::start_in(dir.path(), &[]);
    let result = echo_with_text_twice(&unchecked, "unchecked").await;
    assert_eq!(result["isError"], true, "{result}");
    assert!(first_text(&result).contains("duplicate field"), "{result}");
}

/// A `tools/call faulty_region` with `Mcp-Param-Region: header` and the raw `arguments` text.
async fn region_call(server: &Server, header: &str, arguments: &str) -> Reply {
    let body = modern_body(1, "tools/call", json!({ "name": "faulty_region", "arguments": {} }));
    let text = body.to_string().replace(r#""arguments":{}"#, &format!(r#""arguments":{arguments}"#));
    let headers = [
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-protocol-version", MODERN),
        ("mcp-method", "tools/call"),
        ("mcp-name", "faulty_region"),
        ("mcp-param-region", header),
    ];
    post_raw(server, &headers, text).await
}

#[tokio::test]
async fn an_mcp_param_header_and_the_call_read_the_same_arguments() {
    // The header is checked when the request is routed and the input schema when the call
    // runs, against one parse of the arguments: the value the header must match is the one
    // the plugin runs on, for a member named twice too (the last counts).
    let dir = plugin_dir(&["faulty"]);
    std::fs::write(dir.path().join("faulty.toml"), "[capabilities]\nkv = true\n").expect("sidecar");
    let server = Server::start_in(dir.path(), &[]);
    for (header, arguments) in [("eu", r#"{"region":"eu"}"#), ("eu", r#"{"region":"us","region":"eu"}"#)] {
        let reply = region_call(&server, header, arguments).await;
        assert_eq!(
            (reply.status, first_text(&reply.body["result"])),
            (200, "region=eu"),
            "{arguments}: {}",
            reply.body
        );
    }
    let mismatch = region_call(&server, "us", r#"{"region":"us","region":"eu"}"#).await;
    assert_eq!((mismatch.status, mismatch.error_code()), (400, -32020), "{}", mismatch.body);
    // With the schema check off the header check still parses the arguments, and the call
    // runs on that parse's text.
    std::fs::write(dir.path().join("faulty.toml"), "validate = false\n[capabilities]\nkv = true\n").expect("sidecar");
    let unvalidated = Server::start_in(dir.path(), &[]);
    let reply = region_call(&unvalidated, "eu", r#"{"region":"us","region":"eu"}"#).await;
    assert_eq!((reply.status, first_text(&reply.body["result"])), (200, "region=eu"), "{}", reply.body);
}
