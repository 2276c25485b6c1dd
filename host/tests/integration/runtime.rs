//! The sandboxed runtime: isolation modes, sidecar grants, hostile plugins, hot reload.

use std::path::Path;

use serde_json::{Value, json};

use crate::common::*;

/// A folder with the named plugins and sidecar files (`(plugin, toml)`).
fn folder(plugins: &[&str], sidecars: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = plugin_dir(plugins);
    for (name, text) in sidecars {
        std::fs::write(dir.path().join(format!("{name}.toml")), text).expect("sidecar");
    }
    dir
}

async fn text_of(server: &Server, tool: &str, args: Value) -> (bool, String) {
    let result = call_tool(server, tool, args).await;
    (result["isError"] == true, first_text(&result).to_owned())
}

#[tokio::test]
async fn fresh_instances_forget_and_reused_ones_remember() {
    let fresh_dir = folder(&["faulty"], &[]);
    let fresh = Server::start_in(fresh_dir.path(), &[]);
    for _ in 0..3 {
        assert_eq!(text_of(&fresh, "faulty_memo", json!({})).await.1, "1", "fresh: nothing carries over");
    }
    let reuse_dir = folder(&["faulty"], &[("faulty", "isolation = \"reuse\"\n[limits]\nmax_concurrency = 1\n")]);
    let reuse = Server::start_in(reuse_dir.path(), &[]);
    let counts: Vec<String> = [0, 1, 2].iter().map(|_| String::new()).collect();
    let mut seen = counts;
    for slot in &mut seen {
        *slot = text_of(&reuse, "faulty_memo", json!({})).await.1;
    }
    assert_eq!(seen, ["1", "2", "3"], "one warm instance served every call");
    // A trap discards the warm instance: the next call starts over.
    assert!(text_of(&reuse, "faulty_trap", json!({})).await.0);
    assert_eq!(text_of(&reuse, "faulty_memo", json!({})).await.1, "1");
    let metrics = reuse
        .client()
        .get(format!("{}/metrics", reuse.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("berth_plugin_reuse_hits_total{plugin=\"faulty\"} 3"), "{metrics}");
    assert!(metrics.contains("berth_plugin_failures_total{plugin=\"faulty\"} 1"), "{metrics}");
}

/// Waits (bounded) until `series` in `/metrics` reads `value`; the last text read.
async fn until_metric(server: &Server, series: &str, value: f64) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text = metrics_text(server).await;
        if metric_value(&text, series) == Some(value) || std::time::Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn fresh_calls_take_spares_made_ahead_and_still_forget() {
    let dir = folder(&["faulty"], &[("faulty", "spares = 1\n")]);
    let server = Server::start_in(dir.path(), &[]);
    let ready = "berth_plugin_instances_spare{plugin=\"faulty\"}";
    for _ in 0..3 {
        let text = until_metric(&server, ready, 1.0).await;
        assert_eq!(metric_value(&text, ready), Some(1.0), "a spare is made ahead of the call: {text}");
        assert_eq!(text_of(&server, "faulty_memo", json!({})).await.1, "1", "a spare is a fresh instance");
    }
    let text = until_metric(&server, ready, 1.0).await;
    let hits = metric_value(&text, "berth_plugin_spare_hits_total{plugin=\"faulty\"}");
    assert_eq!(hits, Some(3.0), "each call took the spare: {text}");
    // Each used instance is dropped once its call is done (by the task that makes the next
    // spare): none stays in use, and every instance made was a spare (the first at load).
    let in_use = "berth_plugin_instances_in_use{plugin=\"faulty\"}";
    let text = until_metric(&server, in_use, 0.0).await;
    assert_eq!(metric_value(&text, in_use), Some(0.0), "{text}");
    assert_eq!(metric_value(&text, "berth_plugin_instantiations_total{plugin=\"faulty\"}"), Some(4.0), "{text}");

    // Off unless asked for.
    let off_dir = folder(&["faulty"], &[]);
    let off = Server::start_in(off_dir.path(), &[]);
    for _ in 0..2 {
        assert_eq!(text_of(&off, "faulty_memo", json!({})).await.1, "1");
    }
    let text = metrics_text(&off).await;
    assert_eq!(metric_value(&text, "berth_plugin_spare_hits_total{plugin=\"faulty\"}"), Some(0.0), "{text}");
    assert_eq!(metric_value(&text, ready), Some(0.0), "{text}");
    assert_eq!(metric_value(&text, "berth_plugin_instantiations_total{plugin=\"faulty\"}"), Some(2.0), "{text}");
}

/// A call dropped mid-call (its client left while it slept in a host call) never hands its
/// instance back, yet its spare is replaced without waiting for some later call to finish.
#[tokio::test]
async fn a_spare_taken_by_a_call_whose_client_left_is_replaced() {
    let dir = folder(&["faulty"], &[("faulty", "spares = 1\n")]);
    let server = Server::start_in(dir.path(), &[]);
    let ready = "berth_plugin_instances_spare{plugin=\"faulty\"}";
    let in_use = "berth_plugin_instances_in_use{plugin=\"faulty\"}";
    assert_eq!(metric_value(&until_metric(&server, ready, 1.0).await, ready), Some(1.0));
    let body = modern_body(1, "tools/call", json!({ "name": "faulty_sleep", "arguments": {} }));
    let call = tokio::spawn(modern_request_from(&server.client(), &server.url, &body).send());
    let text = until_metric(&server, in_use, 1.0).await;
    assert_eq!(metric_value(&text, in_use), Some(1.0), "the sleeper runs on the spare: {text}");
    assert_eq!(metric_value(&text, "berth_plugin_spare_hits_total{plugin=\"faulty\"}"), Some(1.0), "{text}");
    // The client leaves mid-call: hyper drops the call's future with the connection, so the
    // call never hands its instance back.
    call.abort();
    let text = until_metric(&server, in_use, 0.0).await;
    assert_eq!(metric_value(&text, in_use), Some(0.0), "the abandoned call's instance is gone: {text}");
    let text = until_metric(&server, ready, 1.0).await;
    assert_eq!(metric_value(&text, ready), Some(1.0), "a new spare is made without another call: {text}");
}

#[tokio::test]
async fn the_kv_store_is_denied_unless_granted() {
    let denied_dir = folder(&["faulty"], &[]);
    let denied = Server::start_in(denied_dir.path(), &[]);
    let (is_error, text) = text_of(&denied, "faulty_counter", json!({})).await;
    assert!(is_error && text.contains("kv = true"), "{text}");
    let body = modern_body(1, "tools/call", json!({ "name": "faulty_kv_clear", "arguments": {} }));
    let refused = post_modern(&denied, &body).await;
    assert_eq!(refused.error_code(), -32603, "the SDK's typed error becomes the plugin's internal error");
    assert!(refused.body["error"]["message"].as_str().is_some_and(|m| m.contains("kv = true")), "{}", refused.body);

    let granted_dir = folder(&["faulty"], &[("faulty", "[capabilities]\nkv = true\n")]);
    let granted = Server::start_in(granted_dir.path(), &[]);
    for expected in ["1", "2", "3"] {
        assert_eq!(
            text_of(&granted, "faulty_counter", json!({})).await,
            (false, expected.to_owned()),
            "state survives fresh instances"
        );
    }
    assert_eq!(text_of(&granted, "faulty_kv_clear", json!({})).await, (false, "count".to_owned()));
    assert_eq!(text_of(&granted, "faulty_counter", json!({})).await, (false, "1".to_owned()), "deleted keys are gone");
}

#[tokio::test]
async fn nothing_escapes_without_a_grant() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let dir = folder(&["faulty"], &[]);
    let server = Server::start_in(dir.path(), &[]);
    let (_, report) = text_of(&server, "faulty_escape", json!({ "port": port })).await;
    let report: Value = serde_json::from_str(&report).expect("report");
    assert_eq!(report, json!({ "passwd": false, "root_dir": false, "env_count": 0, "home": null, "tcp": false }));
}

#[tokio::test]
async fn granted_env_and_directories_are_visible() {
    let data = tempfile::tempdir().expect("data");
    std::fs::write(data.path().join("note.txt"), "granted file").expect("write");
    let sidecar = format!(
        "[capabilities]\nenv = [\"BERTH_TEST_GRANTED\"]\n[[capabilities.dirs]]\nhost = {:?}\nguest = \"/data\"\n",
        data.path().display().to_string()
    );
    let dir = folder(&["faulty"], &[("faulty", &sidecar)]);
    let mut command_env = std::collections::HashMap::new();
    command_env.insert("BERTH_TEST_GRANTED", "hello");
    // SAFETY of the test: the variable is read by the child process only.
    let server = Server::start_in_with_env(dir.path(), &[], &command_env);
    assert_eq!(
        text_of(&server, "faulty_env", json!({ "name": "BERTH_TEST_GRANTED" })).await,
        (false, "hello".to_owned())
    );
    assert!(text_of(&server, "faulty_env", json!({ "name": "PATH" })).await.0, "only granted names are visible");
    assert_eq!(
        text_of(&server, "faulty_read", json!({ "path": "/data/note.txt" })).await,
        (false, "granted file".to_owned())
    );
    let (denied, _) = text_of(&server, "faulty_read", json!({ "path": "/etc/hostname" })).await;
    assert!(denied);
}

#[tokio::test]
async fn a_sleeping_plugin_hits_its_deadline_and_frees_its_slot() {
    let dir = folder(&["faulty"], &[("faulty", "[limits]\ndeadline_ms = 300\nmax_concurrency = 1\nqueue_ms = 5000\n")]);
    let server = Server::start_in(dir.path(), &[]);
    let (is_error, text) = text_of(&server, "faulty_sleep", json!({})).await;
    assert!(is_error && text.contains("300 ms deadline"), "{text}");
    assert_eq!(text_of(&server, "faulty_ok", json!({})).await, (false, "ok".to_owned()), "the only slot was released");
}

#[tokio::test]
async fn floods_are_cut_and_contained() {
    let dir = folder(&["faulty"], &[("faulty", "[limits]\nmemory_mib = 64\nmax_output_bytes = 1048576\n")]);
    let server = Server::start_in(dir.path(), &[]);
    let (is_error, text) = text_of(&server, "faulty_flood_output", json!({ "mib": 4 })).await;
    assert!(is_error && text.contains("limit of 1048576 bytes"), "{text}");
    let (is_error, text) = text_of(&server, "faulty_flood_output", json!({ "mib": 100 })).await;
    assert!(is_error && text.contains("memory limit of 64 MiB"), "100 MiB cannot even be built under the cap: {text}");
    assert_eq!(text_of(&server, "faulty_flood_stdout", json!({})).await, (false, "flooded".to_owned()));
}

#[tokio::test]
async fn prefix_and_skip_rename_and_hide_tools() {
    let dir = folder(&["faulty"], &[("faulty", "prefix = \"f_\"\nskip = [\"faulty_t*\", \"faulty_spin\"]\n")]);
    let server = Server::start_in(dir.path(), &[]);
    let list = post_modern(&server, &modern_body(1, "tools/list", json!({}))).await;
    let names: Vec<&str> =
        list.body["result"]["tools"].as_array().expect("tools").iter().filter_map(|t| t["name"].as_str()).collect();
    assert!(names.contains(&"f_faulty_ok"), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("trap") || n.contains("spin")), "{names:?}");
    assert_eq!(text_of(&server, "f_faulty_ok", json!({})).await, (false, "ok".to_owned()));
    let hidden = post_modern(&server, &modern_body(2, "tools/call", json!({ "name": "f_faulty_trap" }))).await;
    assert_eq!(hidden.error_code(), -32602);
}

#[test]
fn sidecar_mistakes_name_the_key_and_file() {
    // An unknown key, a value out of range, and settings of the other isolation mode (which
    // would be ignored) are refused, naming the file and saying why.
    for (sidecar, expected) in [
        ("[limits]\ndeadline = 5\n", "deadline"),
        ("spares = 1000\n", "spares must be at most 64"),
        ("isolation = \"reuse\"\nspares = 2\n", "spares applies to isolation = \"fresh\""),
        ("[reuse]\nmax_calls = 5\n", "[reuse] applies to isolation = \"reuse\""),
    ] {
        let dir = folder(&["faulty"], &[("faulty", sidecar)]);
        let output = list_plugins(dir.path());
        assert!(!output.status.success(), "{sidecar}");
        let text = String::from_utf8_lossy(&output.stderr);
        assert!(text.contains("faulty.toml") && text.contains(expected), "{sidecar}: {text}");
    }
    // The same keys in the mode they belong to load.
    for sidecar in ["isolation = \"reuse\"\nspares = 0\n[reuse]\nmax_calls = 5\n", "spares = 1\n"] {
        let dir = folder(&["faulty"], &[("faulty", sidecar)]);
        let output = list_plugins(dir.path());
        assert!(output.status.success(), "{sidecar}: {}", String::from_utf8_lossy(&output.stderr));
    }
}

fn copy_plugin(name: &str, to: &Path) {
    std::fs::copy(plugin_file(name), to.join(format!("{name}.wasm"))).expect("copy");
}

#[tokio::test]
async fn hot_reload_swaps_plugins_without_failing_a_call() {
    let dir = folder(&["echo"], &[]);
    let server = Server::start_in(dir.path(), &[]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let caller = {
        let stop = stop.clone();
        let url = server.url.clone();
        tokio::spawn(async move {
            let client = http_client();
            let (mut ok, mut failed) = (0u32, 0u32);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && ok + failed < 100_000 {
                let body = modern_body(1, "tools/call", json!({ "name": "echo", "arguments": { "text": "x" } }));
                let reply = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("mcp-protocol-version", MODERN)
                    .header("mcp-method", "tools/call")
                    .header("mcp-name", "echo")
                    .json(&body)
                    .send()
                    .await;
                let good = match reply {
                    Ok(r) => r.json::<Value>().await.is_ok_and(|v| v["result"]["content"][0]["text"] == "x"),
                    Err(_) => false,
                };
                if good { ok += 1 } else { failed += 1 }
            }
            (ok, failed)
        })
    };
    // Add a plugin, then a broken one, then replace echo in place, then remove the first.
    copy_plugin("textkit", dir.path());
    until_tools(&server, |names| names.iter().any(|n| n == "hash")).await;
    std::fs::write(dir.path().join("broken.wasm"), b"\0asm\x01\0\0\0").expect("broken");
    std::fs::write(dir.path().join("echo.wasm"), std::fs::read(plugin_file("echo")).expect("echo")).expect("rewrite");
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    std::fs::remove_file(dir.path().join("textkit.wasm")).expect("remove");
    let names = until_tools(&server, |names| !names.iter().any(|n| n == "hash")).await;
    assert_eq!(names, ["echo"], "the broken plugin was refused; echo kept serving");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, failed) = caller.await.expect("caller");
    assert!(ok > 0);
    assert_eq!(failed, 0, "{failed} of {} calls failed during reloads", ok + failed);
}

#[tokio::test]
async fn fuel_stops_a_loop_before_its_deadline() {
    let dir = folder(&["faulty"], &[("faulty", "[limits]\nfuel = 5000000\ndeadline_ms = 60000\n")]);
    let config = dir.path().join("main.toml");
    std::fs::write(&config, "[pool]\nfuel = true\n").expect("write");
    let server = Server::start_in(dir.path(), &["--config", config.to_str().expect("utf-8")]);
    let (is_error, text) = text_of(&server, "faulty_spin", json!({})).await;
    assert!(is_error && text.contains("used up its fuel (5000000 units)"), "{text}");
    assert_eq!(text_of(&server, "faulty_ok", json!({})).await, (false, "ok".to_owned()));

    let unmetered = folder(&["faulty"], &[("faulty", "[limits]\nfuel = 5\n")]);
    let output = berth().arg("list").arg("--plugins").arg(unmetered.path()).arg("--no-cache").output().expect("run");
    assert!(String::from_utf8_lossy(&output.stderr).contains("fuel = true"), "fuel needs metering switched on");
}

/// A loopback HTTP server that answers every request with `pong`; returns its port.
async fn pong_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // Bounded: the test makes a handful of requests.
        for _ in 0..16 {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\npong").await;
        }
    });
    port
}

#[tokio::test]
async fn outbound_http_reaches_only_granted_hosts() {
    let port = pong_server().await;
    let denied_dir = folder(&["faulty"], &[]);
    let denied = Server::start_in(denied_dir.path(), &[]);
    let url = format!("http://127.0.0.1:{port}/ping");
    let (is_error, text) = text_of(&denied, "faulty_fetch", json!({ "url": url })).await;
    assert!(is_error && text.contains("HttpRequestDenied"), "no grant, no HTTP: {text}");

    let grant = format!("[capabilities]\nhttp = [\"127.0.0.1:{port}\"]\n");
    let granted_dir = folder(&["faulty"], &[("faulty", &grant)]);
    let granted = Server::start_in(granted_dir.path(), &[]);
    assert_eq!(text_of(&granted, "faulty_fetch", json!({ "url": url })).await, (false, "200 pong".to_owned()));
    let other = format!("http://localhost:{port}/ping");
    let (is_error, text) = text_of(&granted, "faulty_fetch", json!({ "url": other })).await;
    assert!(is_error && text.contains("HttpRequestDenied"), "another host is still denied: {text}");
}
