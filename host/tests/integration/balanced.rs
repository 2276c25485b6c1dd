//! Three replicas behind a real HAProxy running the shipped `deploy/haproxy.cfg` (only its
//! addresses rewritten to free loopback ports, and its connection cap lowered so HAProxy
//! starts under any file-descriptor limit), sharing a real `redis-server`.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::cluster::{LocalRedis, replica_with};
use crate::common::*;

/// The shipped HAProxy config with its listening ports and replica addresses replaced, and
/// room for 400 connections (8000 needs a limit of 16,000 open files, which not every machine
/// running the tests allows).
fn haproxy_config(front: u16, stats: u16, replicas: &[u16; 3]) -> String {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/haproxy.cfg");
    let mut config = std::fs::read_to_string(shipped).expect("deploy/haproxy.cfg");
    let mut replace = |from: String, to: String| {
        assert!(config.contains(&from), "deploy/haproxy.cfg no longer has {from:?}: update this test");
        config = config.replace(&from, &to);
    };
    replace("maxconn 8000".into(), "maxconn 400".into());
    replace("bind 127.0.0.1:8080".into(), format!("bind 127.0.0.1:{front}"));
    replace("bind 127.0.0.1:8404".into(), format!("bind 127.0.0.1:{stats}"));
    for (n, port) in replicas.iter().enumerate() {
        replace(format!("127.0.0.1:808{}", n + 1), format!("127.0.0.1:{port}"));
    }
    config
}

/// HAProxy in front of `replicas`, with the config written into `dir`.
fn haproxy(dir: &Path, replicas: &[u16; 3]) -> Server {
    let (front, stats) = (free_port(), free_port());
    let file = dir.join("haproxy.cfg");
    std::fs::write(&file, haproxy_config(front, stats, replicas)).expect("write haproxy.cfg");
    // Debian installs it in /usr/sbin, which is not on every user's PATH.
    let program = if Path::new("/usr/sbin/haproxy").exists() { "/usr/sbin/haproxy" } else { "haproxy" };
    let mut command = Command::new(program);
    command.arg("-db").arg("-f").arg(&file);
    Server::other("haproxy", command, front)
}

fn port_of(server: &Server) -> u16 {
    server.base.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port")
}

/// The number of legacy sessions `server` holds a copy of.
async fn sessions_held(server: &Server) -> f64 {
    metric_value(&metrics_text(server).await, "berth_sessions").unwrap_or(0.0)
}

#[tokio::test]
async fn the_shipped_haproxy_config_balances_a_cluster_and_routes_around_a_dead_replica() {
    let redis = LocalRedis::start();
    // HAProxy (on loopback) is trusted to report the client's address; each address may hold
    // one session.
    let config = "[quota]\nsessions = 1\nrefusal_delay_ms = 0\ntrusted_proxies = [\"127.0.0.1\"]\n";
    let (r1, _d1) = replica_with(&redis, &["echo"], "r1", config);
    let (r2, _d2) = replica_with(&redis, &["echo"], "r2", config);
    let (r3, _d3) = replica_with(&redis, &["echo"], "r3", config);
    let dir = tempfile::tempdir().expect("haproxy dir");
    let front = haproxy(dir.path(), &[port_of(&r1), port_of(&r2), port_of(&r3)]);

    // A legacy session opened through HAProxy continues on whichever replica gets each request.
    let session = LegacySession::open(&front, "2025-11-25").await;
    let call = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": { "name": "echo", "arguments": { "text": "balanced" } } });
    for _ in 0..9 {
        let reply = session.post(&call).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(first_text(&reply.body["result"]), "balanced");
    }
    for replica in [&r1, &r2, &r3] {
        assert_eq!(sessions_held(replica).await, 1.0, "round robin reached {} with the session", replica.base);
    }

    // The client's own address reaches the per-source quota through HAProxy (X-Forwarded-For):
    // 127.0.0.1 holds its one session, 127.0.0.2 may open its own.
    let second = legacy_initialize(&front, &front.client()).await;
    assert_eq!(second.status, 429, "{}", second.body);
    let other = legacy_initialize(&front, &front.client_from(2)).await;
    assert_eq!(other.status, 200, "{}", other.body);

    // WebSocket upgrades pass through.
    let mut ws = WsClient::connect(&front).await;
    ws.send(&modern_body(1, "tools/call", json!({ "name": "echo", "arguments": { "text": "over ws" } }))).await;
    assert_eq!(first_text(&ws.reply().await["result"]), "over ws");

    // A replica killed: every later request is answered by the others, the session goes on.
    drop(r2);
    for _ in 0..12 {
        let reply = session.post(&call).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(first_text(&reply.body["result"]), "balanced");
    }
}
