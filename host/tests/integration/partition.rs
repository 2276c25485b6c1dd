//! A replica cut off from Redis while its clients can still reach it (S15): Redis and
//! replica A each in a network namespace this test makes, joined by veth pairs; replica B
//! and the clients in the test's own namespace. The Redis end of A's link goes down, so
//! A's packets to Redis vanish without an error (the hard case: nothing says "refused").

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cluster::{SECRET, replica_at, until_redis};
use crate::common::*;
use crate::netns::{Inside, Network};
use crate::tally::{Fate, Tally, call, print_table};
use crate::tasks::with_tasks;

/// Calls that need Redis must fail within about the exchange bound (1000 ms), not hang.
const FAIL_FAST: Duration = Duration::from_millis(2500);

/// Replica A inside namespace `ns`, listening on `listen`, clustered on the Redis at `redis`.
fn replica_inside(ns: &str, listen: &str, redis: &str, plugins: &tempfile::TempDir) -> Server {
    let mut command = std::process::Command::new("ip");
    command
        .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_berth"), "serve", "--plugins"])
        .arg(plugins.path())
        .arg("--cache-dir")
        .arg(shared_cache())
        .args(["--listen", listen, "--allow-unauthenticated", "--redis", redis, "--replica-id", "replica-a"])
        .env("BERTH_CLUSTER_SECRET", SECRET)
        .env("BERTH_LOG", "warn")
        .env_remove("RUST_LOG")
        .env_remove("BERTH_CONFIG");
    Server::spawn(command)
}

async fn timed_post(server: &Server, body: &Value) -> (Reply, Duration) {
    let started = Instant::now();
    (post_modern(server, body).await, started.elapsed())
}

fn median_ms(tally: &Tally, from: Duration, to: Duration) -> f64 {
    let mut took: Vec<Duration> =
        tally.records().iter().filter(|r| r.sent >= from && r.sent < to).map(|r| r.took).collect();
    took.sort();
    took.get(took.len() / 2).map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_cut_off_from_redis_serves_what_it_can_fails_fast_and_rejoins() {
    let mut net = Network::new();
    let (redis_ns, a_ns) = (net.host("redis"), net.host("a"));
    let (_, redis_for_b) = net.link(None, Some(&redis_ns));
    let (_, redis_for_a) = net.link(Some(&a_ns), Some(&redis_ns));
    let (_, a_for_clients) = net.link(None, Some(&a_ns));
    let redis_args =
        ["--bind", "0.0.0.0", "--port", "6379", "--protected-mode", "no", "--save", "", "--appendonly", "no"];
    let _redis = Inside::start(&redis_ns, "redis-server", &redis_args, (redis_for_b.address, 6379));

    let plugins = plugin_dir(&["echo", "faulty", "conformance"]);
    std::fs::write(plugins.path().join("faulty.toml"), "[capabilities]\nkv = true\n").expect("sidecar");
    let listen = format!("{}:0", a_for_clients.address);
    let a = replica_inside(&a_ns, &listen, &format!("redis://{}:6379", redis_for_a.address), &plugins);
    let (b, _b_dir) = replica_at(
        &format!("redis://{}:6379", redis_for_b.address),
        &["echo", "faulty", "conformance"],
        "replica-b",
        "",
    );
    until_redis(&a, "up").await;
    until_redis(&b, "up").await;
    let session = LegacySession::open(&a, "2025-11-25").await;
    let in_session = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": { "name": "echo", "arguments": { "text": "s" } } });
    let listen_body = modern_body(6, "subscriptions/listen", json!({ "notifications": { "toolsListChanged": true } }));
    let mut heard_on_a = stream_modern(&a, &listen_body).await;
    heard_on_a.next().await.expect("ack");

    // Stateless calls to A the whole time, measured.
    let start = Instant::now();
    let stateless = Tally::new("stateless on A", start);
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (tally, stop, url) = (stateless.clone(), stop.clone(), a.url.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::builder().no_proxy().build().expect("client");
            for _ in 0..50_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let sent = Instant::now();
                let (fate, _) = call(&client, &url, "echo", json!({ "text": "x" })).await;
                tally.record(sent, fate);
            }
        })
    };

    tokio::time::sleep(Duration::from_secs(2)).await;
    let cut = start.elapsed();
    net.set_link(&redis_for_a, false);
    let ready = until_redis(&a, "down").await;
    println!("cut off: /readyz on A says Redis down after {} ms", (start.elapsed() - cut).as_millis());
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert!(ready["cluster"]["degraded"].as_array().is_some_and(|d| d.len() == 4), "{ready}");

    // What needs Redis fails fast, with 503 and a JSON-RPC body, or isError for kv data.
    let started = Instant::now();
    let refused = legacy_initialize(&a, &a.client()).await;
    assert_eq!((refused.status, refused.body["error"]["code"].is_i64()), (503, true), "{}", refused.body);
    assert!(started.elapsed() < FAIL_FAST, "initialize took {:?}", started.elapsed());
    println!("cut off: a 2025 initialize answered 503 in {} ms", started.elapsed().as_millis());
    let (kv, took) =
        timed_post(&a, &modern_body(3, "tools/call", json!({ "name": "faulty_counter", "arguments": {} }))).await;
    assert_eq!((kv.status, kv.body["result"]["isError"].as_bool()), (200, Some(true)), "{}", kv.body);
    assert!(took < FAIL_FAST, "a kv call took {took:?}");
    println!("cut off: a kv call answered isError in {} ms", took.as_millis());
    let (task, took) =
        timed_post(&a, &with_tasks(4, "tools/call", json!({ "name": "slow_compute", "arguments": { "seconds": 1 } })))
            .await;
    assert_eq!(task.status, 503, "a task without Redis: {}", task.body);
    assert!(took < FAIL_FAST, "a task took {took:?}");
    println!("cut off: a task answered 503 in {} ms", took.as_millis());
    // The session A holds goes on; B, on the other side, notices nothing.
    assert_eq!(session.post(&in_session).await.status, 200);
    assert_ne!(call_tool(&b, "faulty_counter", json!({})).await["isError"], true);
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Healed: A rejoins by itself, without a restart.
    let healed = start.elapsed();
    net.set_link(&redis_for_a, true);
    until_redis(&a, "up").await;
    println!("healed: /readyz on A says Redis up after {} ms", (start.elapsed() - healed).as_millis());
    let deadline = Instant::now() + Duration::from_secs(15);
    while call_tool(&a, "faulty_counter", json!({})).await["isError"] == true {
        assert!(Instant::now() < deadline, "kv calls on A never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Notices flow again (A subscribed anew): a change made on B is heard on A's stream.
    let mut heard = None;
    for _ in 0..20 {
        call_tool(&b, "test_trigger_tool_change", json!({})).await;
        if let Ok(Some(notice)) = tokio::time::timeout(Duration::from_millis(500), heard_on_a.next()).await {
            heard = Some(notice);
            break;
        }
    }
    assert_eq!(heard.expect("a notice from B reached A after the heal")["method"], "notifications/tools/list_changed");
    println!("healed: a notice from B heard on A after {} ms", (start.elapsed() - healed).as_millis());
    // The session made before the cut is the same on both replicas.
    assert_eq!(session.post(&in_session).await.status, 200);
    let through_b = LegacySession { server: &b, id: session.id.clone(), version: session.version.clone() };
    assert_eq!(through_b.post(&in_session).await.status, 200);
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    load.await.expect("load");

    print_table(
        &format!("A cut from Redis at {:.1} s, healed at {:.1} s", cut.as_secs_f64(), healed.as_secs_f64()),
        &[&stateless],
    );
    let end = start.elapsed();
    println!(
        "stateless p50 before {:.2} ms, cut {:.2} ms, after {:.2} ms",
        median_ms(&stateless, Duration::ZERO, cut),
        median_ms(&stateless, cut, healed),
        median_ms(&stateless, healed, end)
    );
    assert_eq!(stateless.count(Fate::Failed) + stateless.count(Fate::Unanswered), 0, "stateless calls failed");
    assert!(stateless.slowest() < Duration::from_millis(250), "a stateless call waited {:?}", stateless.slowest());
}
