//! The registry under concurrent change: one writer for folder reloads and
//! plugin announcements, and one snapshot per request.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;

/// Calls `tool` over and over until `stop` (at most `limit`); how many calls answered.
fn keep_calling(
    server: &Server,
    tool: &'static str,
    stop: Arc<AtomicBool>,
    limit: Duration,
) -> tokio::task::JoinHandle<u32> {
    let url = server.url.clone();
    tokio::spawn(async move {
        let client = http_client();
        let started = Instant::now();
        let mut answered = 0;
        while !stop.load(Ordering::Relaxed) && started.elapsed() < limit {
            let body = modern_body(1, "tools/call", json!({ "name": tool, "arguments": {} }));
            let reply = client
                .post(&url)
                .header("content-type", "application/json")
                .header("mcp-protocol-version", MODERN)
                .header("mcp-method", "tools/call")
                .header("mcp-name", tool)
                .json(&body)
                .send()
                .await;
            if let Ok(reply) = reply
                && reply.json::<Value>().await.is_ok_and(|v| v["result"]["isError"] == false)
            {
                answered += 1;
            }
        }
        answered
    })
}

/// Plugins added to and removed from the folder while another plugin keeps
/// announcing that its list changed: both kinds of change go through the one
/// writer, so none overwrites another, and what is served at the end is
/// exactly what the folder holds.
#[tokio::test]
async fn reloads_and_announcements_together_end_with_the_folders_catalog() {
    let dir = plugin_dir(&["conformance"]);
    let server = Server::start_in(dir.path(), &[]);
    let mut expected: BTreeSet<String> = tool_names(&server).await.into_iter().collect();
    let stop = Arc::new(AtomicBool::new(false));
    let announcers: Vec<_> = (0..2)
        .map(|_| keep_calling(&server, "test_trigger_tool_change", stop.clone(), Duration::from_secs(30)))
        .collect();
    // Copies of echo under their own prefixes, added one by one; two removed again.
    let echo = std::fs::read(plugin_file("echo")).expect("echo");
    for n in 0..6 {
        std::fs::write(dir.path().join(format!("e{n}.toml")), format!("prefix = \"e{n}_\"\n")).expect("sidecar");
        std::fs::write(dir.path().join(format!("e{n}.wasm")), &echo).expect("plugin");
        expected.insert(format!("e{n}_echo"));
        tokio::time::sleep(Duration::from_millis(350)).await;
    }
    for n in [1, 4] {
        std::fs::remove_file(dir.path().join(format!("e{n}.wasm"))).expect("remove");
        expected.remove(&format!("e{n}_echo"));
        tokio::time::sleep(Duration::from_millis(350)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut announced = 0;
    for announcer in announcers {
        announced += announcer.await.expect("announcer");
    }
    assert!(announced > 20, "the announcements ran alongside the reloads ({announced})");
    let served = until_tools(&server, |names| names.iter().cloned().collect::<BTreeSet<_>>() == expected).await;
    assert_eq!(served.len(), expected.len(), "no tool is served twice");
}

/// A tool with an `Mcp-Param-Region` header that the plugin hides and shows
/// again through its own announcements, hundreds of times a second, while
/// calls keep arriving without that header. Each call is checked and run
/// against one snapshot, so it is refused as a header mismatch (tool shown)
/// or as an unknown tool (tool hidden); it never passes the check against
/// one catalog and runs on another.
#[tokio::test]
async fn a_request_is_checked_and_run_against_one_catalog() {
    let dir = plugin_dir(&["faulty"]);
    std::fs::write(dir.path().join("faulty.toml"), "[capabilities]\nkv = true\n").expect("sidecar");
    let server = Server::start_in(dir.path(), &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = keep_calling(&server, "faulty_flip", stop.clone(), Duration::from_secs(30));
    let callers: Vec<_> = (0..2)
        .map(|_| {
            let url = server.url.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let client = http_client();
                let (mut mismatch, mut unknown, mut ran) = (0u32, 0u32, 0u32);
                let started = Instant::now();
                while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(30) {
                    let arguments = json!({ "region": "eu" });
                    let body = modern_body(1, "tools/call", json!({ "name": "faulty_region", "arguments": arguments }));
                    let reply: Value = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("mcp-protocol-version", MODERN)
                        .header("mcp-method", "tools/call")
                        .header("mcp-name", "faulty_region")
                        .json(&body)
                        .send()
                        .await
                        .expect("send")
                        .json()
                        .await
                        .expect("JSON");
                    match (reply["error"]["code"].as_i64(), reply["result"]["content"][0]["text"].as_str()) {
                        (Some(-32020), _) => mismatch += 1,
                        (Some(-32602), _) => unknown += 1,
                        (None, Some("region=eu")) => ran += 1,
                        _ => panic!("unexpected reply: {reply}"),
                    }
                }
                (mismatch, unknown, ran)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop.store(true, Ordering::Relaxed);
    let flips = flipper.await.expect("flipper");
    let (mut mismatch, mut unknown, mut ran) = (0, 0, 0);
    for caller in callers {
        let (m, u, r) = caller.await.expect("caller");
        (mismatch, unknown, ran) = (mismatch + m, unknown + u, ran + r);
    }
    assert!(flips > 100, "the catalog changed under the calls ({flips} flips)");
    assert!(mismatch > 0 && unknown > 0, "both catalogs served ({mismatch} mismatches, {unknown} unknown)");
    assert_eq!(ran, 0, "{ran} calls passed the header check of one catalog and ran on another");
}
