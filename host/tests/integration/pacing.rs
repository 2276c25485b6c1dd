//! Pacing to a fair share, against the real server: a source flooding valid calls alone is
//! never paced; beside other active sources it is held to its share, and they are not.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;

/// Closed-loop calls from loopback address 127.0.0.`from` on `loops` connections for `for_`:
/// how many were answered 200.
async fn flood(server: &Server, from: u8, loops: usize, for_: Duration) -> usize {
    let answered = Arc::new(AtomicUsize::new(0));
    let until = Instant::now() + for_;
    let tasks: Vec<_> = (0..loops)
        .map(|_| {
            let (client, url, answered) = (server.client_from(from), server.url.clone(), answered.clone());
            tokio::spawn(async move {
                let body = modern_body(1, "tools/call", json!({ "name": "echo", "arguments": { "text": "flood" } }));
                while Instant::now() < until {
                    let sent = modern_request_from(&client, &url, &body).send().await.expect("send");
                    if sent.status() == 200 {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    let _ = sent.bytes().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("flood");
    }
    answered.load(Ordering::Relaxed)
}

async fn paced(server: &Server) -> f64 {
    metric_value(&metrics_text(server).await, "berth_paced_requests_total").expect("the paced counter")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_paced_to_its_share_beside_others_and_never_alone() {
    let server = Server::start(&["echo"]);
    let seconds = Duration::from_secs(4);

    // Alone: as fast as the box goes, never paced; the capacity is measured meanwhile.
    let alone = flood(&server, 20, 8, seconds).await;
    assert_eq!(paced(&server).await, 0.0, "a source alone was paced");
    let capacity = metric_value(&metrics_text(&server).await, "berth_capacity_requests_per_second").expect("capacity");
    assert!(capacity > 0.0, "no capacity measured after {alone} calls");

    // Beside three calm sources (10 calls a second each): the flood gets its share of four.
    let calm_done = Arc::new(AtomicBool::new(false));
    let calm: Vec<_> = (21..24)
        .map(|from| {
            let (client, url, done) = (server.client_from(from), server.url.clone(), calm_done.clone());
            tokio::spawn(async move {
                let body = modern_body(1, "tools/call", json!({ "name": "echo", "arguments": { "text": "calm" } }));
                let mut slowest = Duration::ZERO;
                while !done.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let reply =
                        Reply::read(modern_request_from(&client, &url, &body).send().await.expect("send")).await;
                    assert_eq!(reply.status, 200, "{}", reply.body);
                    slowest = slowest.max(started.elapsed());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                slowest
            })
        })
        .collect();
    // The calm sources are seen for a second before the flood starts again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let beside = flood(&server, 20, 8, seconds).await;
    calm_done.store(true, Ordering::Relaxed);
    let mut calm_slowest = Duration::ZERO;
    for source in calm {
        calm_slowest = calm_slowest.max(source.await.expect("calm"));
    }
    let waited = paced(&server).await;
    println!(
        "flood alone {alone} calls, beside three calm sources {beside}; {waited} paced; capacity {capacity}/s; calm slowest {calm_slowest:?}"
    );
    assert!(waited > 0.0, "the flood was never paced");
    assert!((beside as f64) < 0.8 * alone as f64, "the flood kept its pace: {beside} beside others, {alone} alone");
    assert!(calm_slowest < Duration::from_millis(500), "a calm source waited {calm_slowest:?}");
}
