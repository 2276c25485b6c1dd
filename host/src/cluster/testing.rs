//! A real `redis-server` on a free loopback port for the cluster's unit tests,
//! killed when dropped (`make test` installs it; a missing binary fails the test).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cluster::link::Link;
use crate::config::ClusterConfig;

/// A running `redis-server` with nothing saved to disk.
pub(crate) struct TestRedis {
    child: Child,
    port: u16,
    /// A key prefix of this server's own, so the links of one test never meet another's keys.
    prefix: String,
}

impl TestRedis {
    /// Starts one and waits until it listens.
    pub(crate) fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server ({e}): `make test` installs it"));
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port, prefix: format!("test{port}:") }
    }

    /// Its URL.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A link to it for replica `replica` (call inside a Tokio runtime).
    pub(crate) fn link(&self, replica: &str) -> Arc<Link> {
        self.link_in(replica, &self.prefix)
    }

    /// A link for a replica alone under key prefix `prefix` (a cluster of its own).
    pub(crate) fn link_with_prefix(&self, prefix: &str) -> Arc<Link> {
        self.link_in(prefix, &format!("{}{prefix}:", self.prefix))
    }

    fn link_in(&self, replica: &str, prefix: &str) -> Arc<Link> {
        let config = ClusterConfig {
            redis_url: Some(format!("redis://127.0.0.1:{}", self.port)),
            key_prefix: prefix.to_owned(),
            replica_id: Some(replica.to_owned()),
            ..ClusterConfig::default()
        };
        Link::start(&config, replica.to_owned()).expect("link")
    }
}

/// Waits (at most ten seconds) until `count` connections subscribe to `channel` of `link`'s cluster.
pub(crate) async fn until_subscribed(link: &Link, channel: &str, count: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while link.subscribers(channel).await < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {count} replicas subscribed to {channel}",
            link.subscribers(channel).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
