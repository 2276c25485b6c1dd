//! Structured logs: JSON lines with per-call spans, arguments redacted unless enabled.

use std::io::Write;
use std::process::Stdio;

use serde_json::{Value, json};

use crate::cluster::{LocalRedis, SECRET};
use crate::common::*;

/// Runs one echo call through `berth stdio` with `extra` flags and `env`; its stderr.
fn stdio_call_stderr(extra: &[&str], env: &[(&str, &str)]) -> String {
    let dir = plugin_dir(&["echo"]);
    let mut child = berth()
        .envs(env.iter().copied())
        .args(["stdio", "--log", "berth=debug", "--cache-dir"])
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
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    stderr
}

/// Every stderr line of [`stdio_call_stderr`] in JSON format, parsed.
fn json_lines(extra: &[&str], env: &[(&str, &str)]) -> Vec<Value> {
    let extra = [&["--log-format", "json"], extra].concat();
    stdio_call_stderr(&extra, env)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}")))
        .collect()
}

/// The JSON log lines of the one call, run with `extra` flags.
fn call_log_lines(extra: &[&str]) -> Vec<Value> {
    json_lines(extra, &[]).into_iter().filter(|line| line["span"]["name"] == "tools/call").collect()
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

#[test]
fn a_clustered_replica_names_itself_on_every_log_line() {
    let redis = LocalRedis::start();
    let url = redis.url();
    let clustered = ["--redis", url.as_str(), "--replica-id", "replica-logs"];
    let env = [("BERTH_CLUSTER_SECRET", SECRET)];

    let lines = json_lines(&clustered, &env);
    assert!(lines.iter().any(|line| line["fields"]["message"] == "call finished"), "{lines:?}");
    for line in &lines {
        assert_eq!(line["replica"], "replica-logs", "{line}");
    }

    let text = stdio_call_stderr(&[&clustered[..], &["--log-format", "human"]].concat(), &env);
    assert!(text.contains("call finished"), "{text}");
    for line in text.lines() {
        assert!(line.starts_with("replica=replica-logs "), "{line}");
    }

    // Not clustered: no replica to name.
    let lines = json_lines(&[], &[]);
    assert!(lines.iter().all(|line| line.get("replica").is_none()), "{lines:?}");
}
