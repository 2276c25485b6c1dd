//! `berth stdio`: newline-delimited JSON-RPC with a real child process.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::common::*;

/// Runs `berth stdio` over `plugins`, writes `messages`, closes stdin and returns every stdout line.
fn exchange(plugins: &[&str], messages: &[Value]) -> Vec<String> {
    let dir = plugin_dir(plugins);
    let mut child: std::process::Child = {
        let mut command: Command = berth();
        command
            .arg("stdio")
            .arg("--plugins")
            .arg(dir.path())
            .arg("--cache-dir")
            .arg(shared_cache())
            .env("BERTH_LOG", "info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        command.spawn().expect("spawn berth stdio")
    };
    let mut stdin = child.stdin.take().expect("stdin");
    for message in messages {
        writeln!(stdin, "{message}").expect("write");
    }
    drop(stdin);
    let lines: Vec<String> =
        BufReader::new(child.stdout.take().expect("stdout")).lines().map(|l| l.expect("line")).collect();
    assert!(child.wait().expect("wait").success());
    lines
}

fn by_id(lines: &[String], id: i64) -> Value {
    lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}")))
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("no reply with id {id} in {lines:?}"))
}

#[test]
fn legacy_handshake_then_calls() {
    let lines = exchange(
        &["echo", "faulty"],
        &[
            json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": { "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "t", "version": "0" } } }),
            json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
            json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": { "name": "echo", "arguments": { "text": "over stdio" } } }),
            json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": { "name": "faulty_print" } }),
            json!({ "jsonrpc": "2.0", "id": 4, "method": "ping" }),
        ],
    );
    assert_eq!(by_id(&lines, 1)["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(by_id(&lines, 2)["result"]["content"][0]["text"], "over stdio");
    assert_eq!(by_id(&lines, 3)["result"]["content"][0]["text"], "printed");
    assert_eq!(by_id(&lines, 4)["result"], json!({}));
    assert_eq!(lines.len(), 4, "stdout holds only the four replies (plugin output goes to the log): {lines:?}");
}

#[test]
fn modern_requests_and_errors() {
    let mut call = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": { "name": "echo", "arguments": { "text": "modern" } } });
    call["params"]["_meta"] = envelope();
    let mut discover = json!({ "jsonrpc": "2.0", "id": 2, "method": "server/discover", "params": {} });
    discover["params"]["_meta"] = envelope();
    let lines = exchange(
        &["echo"],
        &[call, discover, json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/list" }), json!("not an object")],
    );
    let reply = by_id(&lines, 1);
    assert_eq!(reply["result"]["content"][0]["text"], "modern");
    assert_eq!(reply["result"]["resultType"], "complete");
    assert_eq!(by_id(&lines, 2)["result"]["supportedVersions"][0], MODERN);
    assert_eq!(by_id(&lines, 3)["error"]["code"], -32602, "no _meta and no initialize");
    let invalid: Vec<Value> =
        lines.iter().map(|l| serde_json::from_str::<Value>(l).expect("json")).filter(|m| m["id"].is_null()).collect();
    assert_eq!(invalid.len(), 1);
    assert_eq!(invalid[0]["error"]["code"], -32600);
}

#[test]
fn notifications_cancelled_stops_a_call() {
    let dir = plugin_dir(&["conformance"]);
    let config = dir.path().join("berth.toml");
    std::fs::write(&config, "[limits]\ndeadline_ms = 120000\n").expect("write");
    let mut child = berth()
        .arg("stdio")
        .arg("--plugins")
        .arg(dir.path())
        .arg("--config")
        .arg(&config)
        .arg("--cache-dir")
        .arg(shared_cache())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut call =
        json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": { "name": "test_wait_for_cancel" } });
    call["params"]["_meta"] = envelope();
    writeln!(stdin, "{call}").expect("write");
    std::thread::sleep(std::time::Duration::from_millis(300));
    writeln!(
        stdin,
        "{}",
        json!({ "jsonrpc": "2.0", "method": "notifications/cancelled", "params": { "requestId": 1 } })
    )
    .expect("write");
    drop(stdin);
    // The process exits once its calls end; only cancellation can end this one before its deadline.
    let started = std::time::Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the cancelled call kept running");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let lines: Vec<String> =
        BufReader::new(child.stdout.take().expect("stdout")).lines().map(|l| l.expect("line")).collect();
    assert!(lines.is_empty(), "a cancelled request gets no response: {lines:?}");
}
