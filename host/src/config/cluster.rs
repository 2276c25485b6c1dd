//! The `[cluster]` settings: running as one of several replicas that share state in Redis.

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Shortest cluster secret accepted: it is the only thing between a client and forged
/// `requestState` on every replica.
const MIN_SECRET_CHARS: usize = 16;

/// Replica settings; without `redis_url` berth is a single process with state in memory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ClusterConfig {
    /// `redis://HOST:PORT[/DB]` (or `rediss://` for TLS); `BERTH_REDIS_URL` and `--redis` override it.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel berth uses, so clusters can share one Redis.
    pub key_prefix: String,
    /// The secret every replica shares (`BERTH_CLUSTER_SECRET`): the `requestState` sealing
    /// key is derived from it, so a multi-round result continues on any replica.
    pub secret: Option<String>,
    /// This replica's name in logs and `/readyz` [default: host name and port]; `--replica-id`.
    pub replica_id: Option<String>,
    /// How long one Redis exchange (connect, Sentinel lookup, command) may take before the
    /// request that needs it fails with 503 [default: 1000 ms].
    pub redis_timeout_ms: u64,
    /// How many Redis replicas must acknowledge a plugin's key-value write (Redis `WAIT`)
    /// before the write returns; 0 returns once the primary applied it [default: 0].
    pub kv_acknowledged_by: u32,
}

/// The default bound on one Redis exchange: a healthy Redis answers in well under a
/// millisecond and one 100 ms away still answers in time, while a request that needs a
/// Redis that is gone fails well before a client or balancer gives up on it.
pub const DEFAULT_REDIS_TIMEOUT_MS: u64 = 1000;
/// Bounds of `redis_timeout_ms`.
const REDIS_TIMEOUT_RANGE_MS: std::ops::RangeInclusive<u64> = 10..=60_000;

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            redis_url: None,
            key_prefix: "berth:".to_owned(),
            secret: None,
            replica_id: None,
            redis_timeout_ms: DEFAULT_REDIS_TIMEOUT_MS,
            kv_acknowledged_by: 0,
        }
    }
}

impl ClusterConfig {
    /// Whether berth runs as a replica (a Redis URL is set).
    pub fn enabled(&self) -> bool {
        self.redis_url.as_deref().is_some_and(|u| !u.is_empty())
    }

    /// Refuses a clustered start without a usable shared secret.
    pub fn validate(&self, state_key_set: bool) -> Result<()> {
        if !self.enabled() {
            return Ok(());
        }
        let url = self.redis_url.as_deref().unwrap_or_default();
        let schemes = ["redis://", "rediss://", "redis+unix://", "redis+sentinel://"];
        if !schemes.iter().any(|scheme| url.starts_with(scheme)) {
            return Err(Error::Config(format!(
                "cluster.redis_url (--redis, BERTH_REDIS_URL) {url:?} must start with redis://, rediss:// (TLS), \
                 redis+unix:// or redis+sentinel:// (Sentinels), e.g. redis://127.0.0.1:6379"
            )));
        }
        if !REDIS_TIMEOUT_RANGE_MS.contains(&self.redis_timeout_ms) {
            return Err(Error::Config(format!(
                "cluster.redis_timeout_ms = {} is out of range: it must be {} to {} ms",
                self.redis_timeout_ms,
                REDIS_TIMEOUT_RANGE_MS.start(),
                REDIS_TIMEOUT_RANGE_MS.end()
            )));
        }
        match &self.secret {
            None => Err(Error::Config(
                "clustered (cluster.redis_url is set) but no shared secret: set cluster.secret or BERTH_CLUSTER_SECRET \
                 to the same value on every replica"
                    .into(),
            )),
            Some(secret) if secret.chars().count() < MIN_SECRET_CHARS => Err(Error::Config(format!(
                "the shared secret (BERTH_CLUSTER_SECRET or cluster.secret) has {} characters; it needs at least \
                 {MIN_SECRET_CHARS} (e.g. `head -c 32 /dev/urandom | base64`)",
                secret.chars().count()
            ))),
            Some(_) if state_key_set => Err(Error::Config(
                "set cluster.secret or protocol.state_key, not both: clustered, the request-state key comes from the secret"
                    .into(),
            )),
            Some(_) => Ok(()),
        }
    }

    /// The replica's name: `replica_id` when set, else the host name and, when serving
    /// HTTP, the `port` (a process id otherwise).
    pub fn replica_name(&self, port: Option<u16>) -> String {
        if let Some(name) = &self.replica_id {
            return name.clone();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "berth".to_owned());
        match port {
            Some(port) => format!("{host}:{port}"),
            None => format!("{host}:pid{}", std::process::id()),
        }
    }

    /// The bound on one Redis exchange.
    pub fn redis_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.redis_timeout_ms)
    }

    /// The `requestState` sealing key derived from the shared secret, when clustered.
    pub fn sealing_key(&self) -> Option<[u8; 32]> {
        let secret = self.secret.as_deref().filter(|_| self.enabled())?;
        let mut hash = Sha256::new();
        // A label, so the same secret used elsewhere never yields this key.
        hash.update(b"berth requestState sealing key v1\0");
        hash.update(secret.as_bytes());
        Some(hash.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clustered(secret: Option<&str>) -> ClusterConfig {
        ClusterConfig {
            redis_url: Some("redis://127.0.0.1:6379".into()),
            secret: secret.map(str::to_owned),
            ..ClusterConfig::default()
        }
    }

    #[test]
    fn a_clustered_start_needs_a_shared_secret() {
        assert!(ClusterConfig::default().validate(false).is_ok());
        let missing = clustered(None).validate(false).expect_err("no secret");
        assert!(missing.to_string().contains("BERTH_CLUSTER_SECRET"), "{missing}");
        let short = clustered(Some("short")).validate(false).expect_err("short secret");
        assert!(short.to_string().contains("has 5 characters; it needs at least 16"), "{short}");
        assert!(clustered(Some("a long enough shared secret")).validate(true).is_err());
        assert!(clustered(Some("a long enough shared secret")).validate(false).is_ok());
        let bad_url =
            ClusterConfig { redis_url: Some("localhost:6379".into()), ..clustered(Some("x".repeat(20).as_str())) };
        assert!(bad_url.validate(false).is_err());
        let sentinels = ClusterConfig {
            redis_url: Some("redis+sentinel://127.0.0.1:26379/berth".into()),
            ..clustered(Some("x".repeat(20).as_str()))
        };
        assert!(sentinels.validate(false).is_ok());
        let slow = ClusterConfig { redis_timeout_ms: 5, ..sentinels };
        let error = slow.validate(false).expect_err("too short");
        assert!(error.to_string().contains("redis_timeout_ms = 5 is out of range"), "{error}");
    }

    #[test]
    fn a_replica_of_a_cluster_drains_by_default_a_server_alone_does_not() {
        let mut config = crate::config::Config::default();
        assert_eq!(config.drain(), std::time::Duration::ZERO, "Ctrl-C on a server alone stops it at once");
        config.cluster.redis_url = Some("redis://127.0.0.1:6379".into());
        assert_eq!(config.drain(), std::time::Duration::from_secs(5), "a balancer must see it leave");
        config.http.drain_secs = Some(0);
        assert_eq!(config.drain(), std::time::Duration::ZERO, "the setting wins");
    }

    #[test]
    fn replicas_with_one_secret_derive_one_key() {
        let a = clustered(Some("a long enough shared secret")).sealing_key();
        let b = clustered(Some("a long enough shared secret")).sealing_key();
        let c = clustered(Some("another shared secret, longer")).sealing_key();
        assert!(a.is_some() && a == b && a != c);
        assert_eq!(ClusterConfig::default().sealing_key(), None);
    }
}
