//! Redis failing over under load: a primary, two replicas and three Sentinels, all
//! `redis-server` processes on loopback; two berth replicas find the primary through the
//! Sentinels (`redis+sentinel://`). The primary is killed (`SIGKILL`) while clients call.

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::cluster::replica_at;
use crate::common::*;
use crate::tally::{Fate, Tally, call, print_table};

/// The name the Sentinels monitor the primary under.
const SERVICE: &str = "berth";

/// A primary, two replicas and three Sentinels (quorum 2), each its own process.
pub struct SentinelRedis {
    pub primary: Service,
    /// Kept so they run until the test ends.
    _replicas: Vec<Service>,
    pub sentinels: Vec<Service>,
    _dir: tempfile::TempDir,
}

impl SentinelRedis {
    pub fn start() -> SentinelRedis {
        let dir = tempfile::tempdir().expect("sentinel dir");
        let primary_port = free_port();
        let node = move |port: u16, replica_of: Option<u16>| {
            move || {
                let mut command = Command::new("redis-server");
                command.args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"]);
                if let Some(primary) = replica_of {
                    command.args(["--replicaof", "127.0.0.1", &primary.to_string()]);
                }
                command
            }
        };
        let primary = Service::start("redis-server", primary_port, node(primary_port, None));
        let replicas = (0..2)
            .map(|_| {
                let port = free_port();
                Service::start("redis-server", port, node(port, Some(primary_port)))
            })
            .collect();
        let sentinels = (0..3)
            .map(|n| {
                let port = free_port();
                // Sentinel rewrites its config file as it learns the fleet: one file each.
                let config = dir.path().join(format!("sentinel-{n}.conf"));
                let text = format!(
                    "bind 127.0.0.1\nport {port}\ndir {dir}\nsentinel monitor {SERVICE} 127.0.0.1 {primary_port} 2\n\
                     sentinel down-after-milliseconds {SERVICE} 1000\nsentinel failover-timeout {SERVICE} 5000\n",
                    dir = dir.path().display()
                );
                std::fs::write(&config, text).expect("sentinel config");
                Service::start("redis-sentinel", port, move || {
                    let mut command = Command::new("redis-server");
                    command.arg(&config).arg("--sentinel");
                    command
                })
            })
            .collect();
        let redis = SentinelRedis { primary, _replicas: replicas, sentinels, _dir: dir };
        redis.until_ready();
        redis
    }

    /// The URL berth is given.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self.sentinels.iter().map(|s| format!("127.0.0.1:{}", s.port)).collect();
        format!("redis+sentinel://{}/{SERVICE}", nodes.join(","))
    }

    /// Waits (at most 30 s) until every Sentinel knows both replicas and the other Sentinels,
    /// and both replicas are in sync: only then can a failover happen.
    fn until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let sentinels_ready = self.sentinels.iter().all(|s| {
                let replicas = sentinel_query(s.port, "REPLICAS");
                let peers = sentinel_query(s.port, "SENTINELS");
                replicas.len() == 2
                    && replicas.iter().all(|r| r.get("master-link-status").is_some_and(|l| l == "ok"))
                    && peers.len() == 2
            });
            if sentinels_ready {
                return;
            }
            assert!(Instant::now() < deadline, "the Sentinels never saw both replicas and each other");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The port of the node the Sentinels name as primary now.
    pub fn primary_port(&self) -> Option<u16> {
        let mut connection = connect(self.sentinels[0].port)?;
        let address: Vec<String> =
            redis::cmd("SENTINEL").arg("GET-MASTER-ADDR-BY-NAME").arg(SERVICE).query(&mut connection).ok()?;
        address.get(1)?.parse().ok()
    }
}

fn connect(port: u16) -> Option<redis::Connection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).ok()?;
    client.get_connection_with_timeout(Duration::from_secs(2)).ok()
}

/// `SENTINEL <what> berth` on the Sentinel at `port`: one map per node; empty on failure.
fn sentinel_query(port: u16, what: &str) -> Vec<HashMap<String, String>> {
    let Some(mut connection) = connect(port) else { return Vec::new() };
    redis::cmd("SENTINEL").arg(what).arg(SERVICE).query(&mut connection).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_primary_fails_over_and_no_acknowledged_write_is_lost() {
    let mut redis = SentinelRedis::start();
    let acknowledged = "[cluster]\nkv_acknowledged_by = 1\n";
    let (a, _a_dir) = replica_at(&redis.url(), &["faulty", "echo"], "replica-a", acknowledged);
    let (b, _b_dir) = replica_at(&redis.url(), &["faulty", "echo"], "replica-b", acknowledged);
    let urls = [a.url.clone(), b.url.clone()];
    let session = LegacySession::open(&a, "2025-11-25").await;
    let in_session = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": { "name": "echo", "arguments": { "text": "s" } } });
    assert_eq!(session.post(&in_session).await.status, 200);

    let start = Instant::now();
    let (writes, stateless) = (Tally::new("kv write", start), Tally::new("stateless", start));
    let stop = Arc::new(AtomicBool::new(false));
    // One writer, calls in turn through both replicas: each acknowledged count must be
    // greater than the last; a lost write would make a later count repeat a smaller one.
    let writer = {
        let (tally, stop, urls) = (writes.clone(), stop.clone(), urls.clone());
        tokio::spawn(async move {
            let (client, mut counts) = (http_client(), Vec::<u64>::new());
            for n in 0usize.. {
                if stop.load(Ordering::Relaxed) || n > 20_000 {
                    break;
                }
                let sent = Instant::now();
                let (fate, body) = call(&client, &urls[n % 2], "faulty_counter", json!({})).await;
                tally.record(sent, fate);
                if fate == Fate::Answered {
                    let count = first_text(&body["result"]).parse::<u64>().expect("a count");
                    counts.push(count);
                } else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            counts
        })
    };
    let echoes = {
        let (tally, stop, urls) = (stateless.clone(), stop.clone(), urls.clone());
        tokio::spawn(async move {
            let client = http_client();
            for n in 0usize..20_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let sent = Instant::now();
                let (fate, _) = call(&client, &urls[n % 2], "echo", json!({ "text": "no shared state" })).await;
                tally.record(sent, fate);
            }
        })
    };

    tokio::time::sleep(Duration::from_secs(2)).await;
    let old_primary = redis.primary.port;
    redis.primary.stop();
    let killed = start.elapsed();
    // Recovered: the Sentinels name another primary and a write is acknowledged through it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let recovered = loop {
        let acknowledged_since = writes
            .records()
            .iter()
            .rev()
            .find(|r| r.fate == Fate::Answered && r.sent > killed + Duration::from_secs(1))
            .map(|r| r.sent);
        if let Some(at) = acknowledged_since.filter(|_| redis.primary_port().is_some_and(|p| p != old_primary)) {
            break at;
        }
        assert!(Instant::now() < deadline, "no write acknowledged within 30 s of the primary's death");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let counts = writer.await.expect("writer");
    echoes.await.expect("echoes");
    print_table(
        &format!(
            "primary killed at {:.1} s; writes acknowledged again from {:.1} s",
            killed.as_secs_f64(),
            recovered.as_secs_f64()
        ),
        &[&writes, &stateless],
    );

    // Every request got an answer in time; stateless calls never noticed; no acknowledged
    // write was lost (each count greater than the one before it).
    assert_eq!(writes.count(Fate::Unanswered) + stateless.count(Fate::Unanswered), 0);
    assert_eq!(stateless.count(Fate::Failed), 0, "a call that needs no shared state failed");
    for pair in counts.windows(2) {
        assert!(pair[1] > pair[0], "an acknowledged write was lost: count {} after {}", pair[1], pair[0]);
    }
    assert!(counts.len() > 10, "writes were acknowledged: {counts:?}");
    // The session opened before the failover continues, on its replica and through the other.
    assert_eq!(session.post(&in_session).await.status, 200);
    let through_b = LegacySession { server: &b, id: session.id.clone(), version: session.version.clone() };
    assert_eq!(through_b.post(&in_session).await.status, 200);
}
