//! Stopping without failing a request: on SIGTERM a server says it is not ready (`/readyz`
//! 503) and keeps serving for `http.drain_secs`, so a load balancer takes it out of rotation
//! first; then it stops, and exits 0.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;

fn terminate(server: &Server) {
    let pid = server.pid().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
}

async fn readyz(server: &Server) -> (u16, serde_json::Value) {
    let response = server.client().get(format!("{}/readyz", server.base)).send().await.expect("readyz");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: {text:?}: {e}")))
}

#[tokio::test]
async fn a_stopping_server_drains_not_ready_while_it_still_serves_then_exits_0() {
    let mut server = Server::with_config(&["echo"], "[http]\ndrain_secs = 3\n");
    assert_eq!(readyz(&server).await.1["status"], "ready");
    let signalled = Instant::now();
    terminate(&server);
    let mut draining = None;
    while signalled.elapsed() < Duration::from_secs(2) {
        let (status, body) = readyz(&server).await;
        if status == 503 {
            draining = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let draining = draining.expect("/readyz said 503 soon after SIGTERM");
    assert_eq!(draining["status"], "draining");
    // Still serving while draining: a call made now is answered.
    let result = call_tool(&server, "echo", json!({ "text": "still here" })).await;
    assert_eq!(first_text(&result), "still here");
    let status = server.wait_for_exit(Duration::from_secs(10)).expect("it exits");
    assert!(status.success(), "exit status {status}");
    assert!(signalled.elapsed() >= Duration::from_secs(3), "it served the whole drain: {:?}", signalled.elapsed());
}

#[tokio::test]
async fn a_second_signal_ends_the_drain_at_once() {
    let mut server = Server::with_config(&["echo"], "[http]\ndrain_secs = 60\n");
    terminate(&server);
    while readyz(&server).await.0 != 503 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let again = Instant::now();
    terminate(&server);
    let status = server.wait_for_exit(Duration::from_secs(10)).expect("it exits long before the drain's 60 s");
    assert!(status.success() && again.elapsed() < Duration::from_secs(10), "{status} after {:?}", again.elapsed());
}
