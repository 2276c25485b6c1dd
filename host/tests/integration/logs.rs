//! Structured logs: JSON lines with per-call spans, arguments redacted unless enabled.

use std::io::Write;
use std::process::Stdio;

use serde_json::{Value, json};

use crate::common::*;

/// Runs one echo call through `berth stdio` with `extra` flags; the JSON log lines of the call.
fn call_log_lines(extra: &[&str]) -> Vec<Value> {
    let dir = plugin_dir(&["echo"]);
    let mut child = berth()
        .args(["stdio", "--log-format", "json", "--log", "berth=debug", "--cache-dir"])
        .arg(shared_cache())
        .arg("--plugins")
        .arg(dir.path())
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn berth stdio");
    let call = modern_body(1, "tools/call", json!({ "name": "echo", "arguments": { "text": "my-secret-value" } }));
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{call}").expect("write");
    drop(stdin);
    let output = child.wait_with_output().expect("wait");
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}")))
        .collect();
    lines.into_iter().filter(|line| line["span"]["name"] == "tools/call").collect()
}

#[test]
fn json_logs_carry_call_spans_with_timing_and_redact_arguments() {
    let lines = call_log_lines(&[]);
    let finished = lines
        .iter()
        .find(|line| line["fields"]["message"] == "call finished")
        .unwrap_or_else(|| panic!("no 'call finished' line in {lines:?}"));
    assert_eq!(finished["span"]["plugin"], "echo");
    assert_eq!(finished["span"]["tool"], "echo");
    assert_eq!(finished["fields"]["outcome"], "ok");
    assert!(finished["fields"]["elapsed_us"].as_u64().is_some(), "timing field: {finished}");
    assert!(finished["span"]["argument_bytes"].as_u64().is_some_and(|n| n > 0));
    assert!(!finished.to_string().contains("my-secret-value"), "arguments are redacted by default: {finished}");

    let lines = call_log_lines(&["--log-arguments"]);
    let finished = lines.iter().find(|line| line["fields"]["message"] == "call finished").expect("line");
    assert!(finished["span"]["arguments"].as_str().is_some_and(|a| a.contains("my-secret-value")), "{finished}");
}
