//! The command line: `list`, start-up errors, config strictness, the artifact cache.

use std::process::Output;

use crate::common::*;

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn list_prints_each_plugin_offer() {
    let dir = plugin_dir(&["echo", "textkit"]);
    let output = list_plugins(dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "echo (",
        "tool      echo",
        "tool      json_query",
        "resource  textkit://help",
        "template  textkit://sha256/{text}",
        "prompt    explain_regex",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let json = berth()
        .arg("list")
        .arg("--json")
        .arg("--plugins")
        .arg(dir.path())
        .arg("--cache-dir")
        .arg(shared_cache())
        .output()
        .expect("run");
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).expect("list --json is JSON");
    assert_eq!(parsed["plugins"][1]["tools"].as_array().map(Vec::len), Some(5));
}

/// Runs `berth list` over a folder holding `files` and returns the failed run's stderr.
fn failing_list(files: &[(&str, &[u8])]) -> String {
    let dir = tempfile::tempdir().expect("dir");
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).expect("write");
    }
    let output = berth().arg("list").arg("--plugins").arg(dir.path()).arg("--no-cache").output().expect("run");
    assert!(!output.status.success(), "expected failure, got {}", String::from_utf8_lossy(&output.stdout));
    stderr(&output)
}

#[test]
fn bad_plugins_fail_with_one_line_naming_the_file() {
    let text = failing_list(&[("notes.wasm", b"hello")]);
    assert!(text.contains("notes.wasm") && text.contains("not a WebAssembly file"), "{text}");
    assert_eq!(text.trim().lines().count(), 1, "{text}");

    // A core module is WebAssembly but not a component.
    let text = failing_list(&[("core.wasm", b"\0asm\x01\0\0\0")]);
    assert!(text.contains("core.wasm") && text.contains("not a valid WebAssembly component"), "{text}");

    // An empty component exports none of berth's interfaces.
    let text = failing_list(&[("empty.wasm", b"\0asm\x0d\0\x01\0")]);
    assert!(text.contains("empty.wasm") && text.contains("exports none of"), "{text}");
}

#[test]
fn duplicate_tool_names_are_refused_naming_both_plugins() {
    let echo = std::fs::read(plugin_file("echo")).expect("echo");
    let text = failing_list(&[("echo.wasm", &echo), ("echo-copy.wasm", &echo)]);
    assert!(text.contains("\"echo\"") && text.contains("echo.wasm") && text.contains("echo-copy.wasm"), "{text}");
}

#[test]
fn config_is_strict_and_errors_name_the_key() {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("berth.toml");
    std::fs::write(&config, "[limits]\ndeadline_msec = 5\n").expect("write");
    let output = berth().arg("list").arg("--config").arg(&config).output().expect("run");
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(text.contains("deadline_msec") && text.contains("berth.toml"), "{text}");
}

#[test]
fn a_busy_port_is_one_clear_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let dir = plugin_dir(&["echo"]);
    let output = berth().arg("serve").arg("--plugins").arg(dir.path()).args(["--listen", &addr]).output().expect("run");
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(text.contains(&addr) && text.contains("in use"), "{text}");
    assert_eq!(text.trim().lines().count(), 1, "{text}");
}

#[test]
fn a_second_start_compiles_nothing() {
    let cache = tempfile::tempdir().expect("cache");
    let dir = plugin_dir(&["echo"]);
    let run = || {
        berth()
            .arg("list")
            .arg("--plugins")
            .arg(dir.path())
            .arg("--cache-dir")
            .arg(cache.path())
            .env("BERTH_LOG", "info")
            .output()
            .expect("run")
    };
    let first = stderr(&run());
    assert!(first.contains("cached=false"), "{first}");
    let artifacts = std::fs::read_dir(cache.path()).expect("cache dir").count();
    assert_eq!(artifacts, 1, "one compiled artifact written");
    let second = stderr(&run());
    assert!(second.contains("cached=true"), "{second}");
}

#[test]
fn berth_new_scaffolds_a_plugin_that_builds_and_loads() {
    let work = tempfile::tempdir().expect("dir");
    let project = work.path().join("hello-kit");
    let scaffolded = work.path().join("scaffolded");
    let output = berth().args(["new", "hello-kit", "--lang", "rust", "--dir"]).arg(&scaffolded).output().expect("run");
    assert!(output.status.success(), "{}", stderr(&output));
    // The project must build without berth's source tree: nothing in it may point there.
    let checkout =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("checkout").to_string_lossy().into_owned();
    for file in walk(&scaffolded) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(!text.contains(&checkout), "{} names the berth checkout {checkout}", file.display());
    }
    let manifest = std::fs::read_to_string(scaffolded.join("Cargo.toml")).expect("Cargo.toml");
    assert!(manifest.contains(r#"berth-sdk = { path = "berth-sdk" }"#), "{manifest}");
    assert!(scaffolded.join("berth-sdk/src/lib.rs").is_file() && scaffolded.join("wit/plugin.wit").is_file());
    // Moved after scaffolding, as a project copied to another machine: it still builds.
    std::fs::rename(&scaffolded, &project).expect("move the project");
    let build = std::process::Command::new("cargo")
        .args(["build", "--release", "--target", "wasm32-wasip2", "--quiet"])
        .current_dir(&project)
        .output()
        .expect("cargo");
    assert!(build.status.success(), "{}", String::from_utf8_lossy(&build.stderr));
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| project.join("target"), std::path::PathBuf::from);
    let wasm = target.join("wasm32-wasip2/release/hello_kit.wasm");
    let plugins = work.path().join("plugins");
    std::fs::create_dir(&plugins).expect("plugins");
    std::fs::copy(&wasm, plugins.join("hello-kit.wasm")).expect("copy the built plugin");
    let list = list_plugins(&plugins);
    assert!(list.status.success(), "{}", stderr(&list));
    assert!(String::from_utf8_lossy(&list.stdout).contains("tool      hello_kit_greet"));
    let mut json = berth();
    json.arg("list").arg("--json").arg("--plugins").arg(&plugins).arg("--cache-dir").arg(shared_cache());
    let listed: serde_json::Value = serde_json::from_slice(&json.output().expect("run").stdout).expect("JSON");
    assert_eq!(
        listed["plugins"][0]["tools"][0]["execution"]["taskSupport"], "optional",
        "the template shows how a tool is marked as able to run as a task"
    );

    let again = berth().args(["new", "hello-kit", "--dir"]).arg(&project).output().expect("run");
    assert!(!again.status.success(), "an existing project is never overwritten");
    let cobol =
        berth().args(["new", "old", "--lang", "cobol", "--dir"]).arg(work.path().join("old")).output().expect("run");
    assert!(stderr(&cobol).contains("unknown language"), "{}", stderr(&cobol));
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

#[test]
fn bench_measures_a_tool_and_reports_percentiles() {
    let dir = plugin_dir(&["echo"]);
    let output = berth()
        .args(["bench", "--tool", "echo", "--args", r#"{"text":"hi"}"#, "--calls", "300", "--warmup", "20"])
        .args(["--concurrency", "2", "--json", "--cache-dir"])
        .arg(shared_cache())
        .arg("--plugins")
        .arg(dir.path())
        .output()
        .expect("run berth bench");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    assert_eq!(report["calls"], 300);
    assert_eq!(report["errors"], 0);
    assert_eq!(report["isolation"], "fresh");
    let latency = &report["latency_us"];
    for key in ["p50", "p99", "max"] {
        assert!(latency[key].as_f64().is_some_and(|v| v > 0.0), "{key} in {report}");
    }
    assert!(latency["p50"].as_f64() <= latency["max"].as_f64());
    assert!(report["calls_per_sec"].as_f64().is_some_and(|v| v > 0.0));
    // Linux tells each process its page faults. echo's fresh instances leave nothing their
    // slot's reset releases, so a call faults in next to nothing (the Python template's tool:
    // over a hundred pages a call); a few per call allow for the process's own allocations.
    let faults = report["page_faults_per_call"].as_f64().expect("page faults per call on Linux");
    assert!((0.0..5.0).contains(&faults), "{report}");

    let text = berth()
        .args(["bench", "--tool", "echo", "--calls", "50", "--warmup", "0", "--cache-dir"])
        .arg(shared_cache())
        .arg("--plugins")
        .arg(dir.path())
        .output()
        .expect("run berth bench");
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("p50") && stdout.contains("p99") && stdout.contains("calls/s"), "{stdout}");
    assert!(stdout.contains("page faults") && stdout.contains("per call"), "{stdout}");
    // echo without text is an isError result: counted, not hidden.
    assert!(stdout.contains("errors  50 of 50 calls"), "{stdout}");

    let unknown = berth()
        .args(["bench", "--tool", "nope", "--cache-dir"])
        .arg(shared_cache())
        .arg("--plugins")
        .arg(dir.path())
        .output()
        .expect("run berth bench");
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("no tool \"nope\"") && stderr.contains("echo"), "{stderr}");
}

#[test]
fn serve_keeps_serving_when_its_stdout_reader_goes_away() {
    use std::io::{Read, Write};
    let dir = plugin_dir(&["echo"]);
    // A port that was free a moment ago: the server says where it listens only on stdout,
    // and here nobody reads stdout.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let authority = format!("127.0.0.1:{port}");
    let mut child = berth()
        .args(["serve", "--listen", &authority, "--no-watch", "--log", "warn", "--plugins"])
        .arg(dir.path())
        .arg("--cache-dir")
        .arg(shared_cache())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start berth");
    // The launcher goes away before the server announces itself: every line it writes to
    // stdout fails.
    drop(child.stdout.take());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut stream = loop {
        assert!(child.try_wait().expect("wait").is_none(), "berth exited when its stdout was gone");
        if let Ok(stream) = std::net::TcpStream::connect(&authority) {
            break stream;
        }
        assert!(std::time::Instant::now() < deadline, "berth never listened on {authority}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"still up"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
    write!(
        stream,
        "POST /mcp HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nAccept: application/json\r\n\
         MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: echo\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut response = String::new();
    let read = stream.read_to_string(&mut response);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let alive = child.try_wait().expect("wait").is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(alive, "berth exited when its stdout was gone");
    read.expect("read the answer");
    assert!(response.starts_with("HTTP/1.1 200") && response.contains("still up"), "answered: {response}");
}
