//! A slow Redis: two replicas reach a real `redis-server` through a proxy that delays its
//! answers by 0, 20 and 100 ms, then by more than the exchange bound. What each kind of call
//! costs is printed (the table in BENCHMARKS.md); calls that need no shared state must not
//! notice, and no call may wait past the bound, however slow Redis is.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cluster::{LocalRedis, replica_at};
use crate::common::*;
use crate::delay_proxy::DelayProxy;

/// Calls measured per kind and delay.
const SAMPLES: usize = 9;

/// The kinds of call measured, by what they need from Redis.
const KINDS: [&str; 4] = [
    "2026-07-28 tools/call, no shared state",
    "2026-07-28 tools/call, a kv read and write",
    "2025-11-25 initialize (a session stored)",
    "2025-11-25 tools/call on another replica (session adopted)",
];

/// One call of kind `kind` with `client` (one client throughout, so only the call is
/// timed): how long it took and whether it succeeded.
async fn one(client: &reqwest::Client, kind: usize, a: &Server, b: &Server) -> (Duration, bool) {
    let tool =
        |name: &str, arguments: Value| modern_body(1, "tools/call", json!({ "name": name, "arguments": arguments }));
    let succeeded = |reply: Reply| {
        reply.status == 200 && reply.body.get("error").is_none() && reply.body["result"]["isError"] != true
    };
    match kind {
        0 => {
            let body = tool("echo", json!({ "text": "x" }));
            timed(async {
                succeeded(Reply::read(modern_request_from(client, &a.url, &body).send().await.expect("send")).await)
            })
            .await
        }
        1 => {
            let body = tool("faulty_counter", json!({}));
            timed(async {
                succeeded(Reply::read(modern_request_from(client, &a.url, &body).send().await.expect("send")).await)
            })
            .await
        }
        2 => timed(async { legacy_initialize(a, client).await.status == 200 }).await,
        _ => {
            let session = LegacySession::open(a, "2025-11-25").await;
            let call = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": { "name": "echo", "arguments": { "text": "x" } } });
            let request = client
                .post(&b.url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-session-id", &session.id)
                .header("mcp-protocol-version", &session.version)
                .body(call.to_string());
            timed(async { succeeded(Reply::read(request.send().await.expect("send")).await) }).await
        }
    }
}

async fn timed(call: impl Future<Output = bool>) -> (Duration, bool) {
    let started = Instant::now();
    let ok = call.await;
    (started.elapsed(), ok)
}

fn median(mut took: Vec<Duration>) -> Duration {
    took.sort();
    took[took.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_redis_slows_only_the_calls_that_need_it_and_never_past_the_bound() {
    let redis = LocalRedis::start();
    let proxy = DelayProxy::start(redis.port(), Duration::ZERO).await;
    let url = format!("redis://127.0.0.1:{}", proxy.port);
    let (a, _a_dir) = replica_at(&url, &["faulty", "echo"], "replica-a", "");
    let (b, _b_dir) = replica_at(&url, &["faulty", "echo"], "replica-b", "");

    let client = http_client();
    println!("\nRedis answers delayed by | {}", KINDS.join(" | "));
    let mut medians: Vec<Vec<Duration>> = Vec::new();
    for delay_ms in [0, 20, 100] {
        proxy.set_delay(Duration::from_millis(delay_ms));
        let mut row = Vec::new();
        for (kind, name) in KINDS.iter().enumerate() {
            let mut took = Vec::new();
            for _ in 0..SAMPLES {
                let (elapsed, ok) = one(&client, kind, &a, &b).await;
                assert!(ok, "{name} with Redis {delay_ms} ms away failed");
                took.push(elapsed);
            }
            row.push(median(took));
        }
        let cells: Vec<String> = row.iter().map(|d| format!("{:.1} ms", d.as_secs_f64() * 1e3)).collect();
        println!("{delay_ms:>3} ms | {}", cells.join(" | "));
        medians.push(row);
    }
    // The proxy really slows Redis: a kv call (a read and a write) pays two round trips.
    assert!(medians[2][1] >= Duration::from_millis(200), "kv call at 100 ms: {:?}", medians[2][1]);
    assert!(medians[2][2] >= Duration::from_millis(100), "initialize at 100 ms: {:?}", medians[2][2]);
    // A call that needs no shared state does not notice.
    assert!(medians[2][0] < Duration::from_millis(50), "stateless call at 100 ms: {:?}", medians[2][0]);

    // Slower than the bound on one exchange (1000 ms by default): calls that need Redis fail
    // within about the bound, with the reason; the others still answer at once.
    proxy.set_delay(Duration::from_millis(3000));
    let bound = Duration::from_millis(2500);
    let (took, ok) = one(&client, 1, &a, &b).await;
    assert!(!ok && took < bound, "a kv call with Redis 3 s away: ok={ok} after {took:?}");
    let started = Instant::now();
    let refused = legacy_initialize(&a, &client).await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(refused.body["error"]["message"].as_str().is_some_and(|m| m.contains("Redis")), "{}", refused.body);
    assert!(started.elapsed() < bound, "initialize waited {:?}", started.elapsed());
    let (took, ok) = one(&client, 0, &a, &b).await;
    assert!(ok && took < Duration::from_millis(200), "a stateless call with Redis 3 s away: {took:?}");

    // Redis fast again: both replicas use it again by themselves.
    proxy.set_delay(Duration::ZERO);
    for (name, replica) in [("A", &a), ("B", &b)] {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !one(&client, 1, replica, replica).await.1 {
            assert!(Instant::now() < deadline, "kv calls on {name} never recovered");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
