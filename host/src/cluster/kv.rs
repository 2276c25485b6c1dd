//! Plugins' key-value data in Redis: one hash per plugin (`<prefix>kv:<plugin>`)
//! and its byte count (`<prefix>kv-bytes:<plugin>`), kept exact by scripts, so a
//! value written through one replica is read through any other and a write
//! returns only once Redis has applied it.

use std::sync::Arc;

use async_trait::async_trait;

use crate::cluster::link::Link;
use crate::runtime::KeyValueStore;
use crate::shared::Unavailable;

/// What a failure names.
const STORE: &str = "the key-value store";

/// Sets a field of the plugin's hash unless the plugin's byte count would pass the cap,
/// keeping the count (a second key) exact. KEYS: hash, count; ARGV: field, value, cap.
/// Returns the new count, or -1 when full.
const SET_SCRIPT: &str = r"
local had = redis.call('HEXISTS', KEYS[1], ARGV[1])
local delta = string.len(ARGV[1]) + string.len(ARGV[2])
if had == 1 then delta = delta - string.len(ARGV[1]) - redis.call('HSTRLEN', KEYS[1], ARGV[1]) end
local size = tonumber(redis.call('GET', KEYS[2]) or '0')
if size + delta > tonumber(ARGV[3]) then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return redis.call('INCRBY', KEYS[2], delta)
";

/// Deletes a field and takes its bytes off the count. KEYS: hash, count; ARGV: field.
const DELETE_SCRIPT: &str = r"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
local bytes = string.len(ARGV[1]) + redis.call('HSTRLEN', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
return redis.call('DECRBY', KEYS[2], bytes)
";

/// Every plugin's data in the cluster's Redis.
pub(crate) struct RedisKv {
    link: Arc<Link>,
    /// Redis replicas that must acknowledge a write before it returns (0: the primary's own).
    acknowledged_by: u32,
}

impl RedisKv {
    /// The store in `link`'s Redis; writes wait for `acknowledged_by` replicas (`WAIT`).
    pub(crate) fn new(link: Arc<Link>, acknowledged_by: u32) -> Self {
        Self { link, acknowledged_by }
    }

    /// Runs a write script; with acknowledgement on, `WAIT` follows it on the same
    /// connection, and fewer replicas than asked within half the exchange bound fail the
    /// write (it may or may not survive a failover, so it is not acknowledged).
    async fn write(&self, script: &redis::Cmd) -> Result<i64, Unavailable> {
        if self.acknowledged_by == 0 {
            return self.link.query(script).await.map_err(|e| e.unavailable(STORE));
        }
        let wait_ms = (self.link.timeout() / 2).as_millis() as u64;
        let mut pipeline = redis::pipe();
        pipeline.add_command(script.clone()).cmd("WAIT").arg(self.acknowledged_by).arg(wait_ms);
        let (answer, replicas): (i64, u32) =
            self.link.query_pipeline("EVAL+WAIT", &pipeline).await.map_err(|e| e.unavailable(STORE))?;
        if replicas < self.acknowledged_by {
            return Err(Unavailable::new(format!(
                "{STORE}: the write reached {replicas} of the {} Redis replica(s) it must within {wait_ms} ms, \
                 so it is not acknowledged (it may or may not survive a failover)",
                self.acknowledged_by
            )));
        }
        Ok(answer)
    }

    /// The Redis keys of `plugin`'s hash and byte count.
    fn keys_of(&self, plugin: &str) -> (String, String) {
        (self.link.key(&format!("kv:{plugin}")), self.link.key(&format!("kv-bytes:{plugin}")))
    }
}

#[async_trait]
impl KeyValueStore for RedisKv {
    async fn get(&self, plugin: &str, key: &str) -> Result<Option<Vec<u8>>, Unavailable> {
        let (hash, _) = self.keys_of(plugin);
        self.link.query(redis::cmd("HGET").arg(hash).arg(key)).await.map_err(|e| e.unavailable(STORE))
    }

    async fn set(&self, plugin: &str, key: &str, value: Vec<u8>, cap: usize) -> Result<bool, Unavailable> {
        let (hash, bytes) = self.keys_of(plugin);
        let mut command = redis::cmd("EVAL");
        command.arg(SET_SCRIPT).arg(2).arg(hash).arg(bytes).arg(key).arg(value).arg(cap);
        Ok(self.write(&command).await? >= 0)
    }

    async fn delete(&self, plugin: &str, key: &str) -> Result<(), Unavailable> {
        let (hash, bytes) = self.keys_of(plugin);
        let mut command = redis::cmd("EVAL");
        command.arg(DELETE_SCRIPT).arg(2).arg(hash).arg(bytes).arg(key);
        self.write(&command).await.map(drop)
    }

    async fn keys(&self, plugin: &str) -> Result<Vec<String>, Unavailable> {
        let (hash, _) = self.keys_of(plugin);
        let mut keys: Vec<String> =
            self.link.query(redis::cmd("HKEYS").arg(hash)).await.map_err(|e| e.unavailable(STORE))?;
        keys.sort();
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::RedisKv;
    use crate::cluster::testing::TestRedis;
    use crate::runtime::{KeyValueStore, kv_cases};

    #[tokio::test]
    async fn the_redis_store_passes_the_shared_cases() {
        let redis = TestRedis::start();
        let (one, other) = (RedisKv::new(redis.link("a"), 0), RedisKv::new(redis.link("b"), 0));
        kv_cases::all(&one, "plugin").await;
        kv_cases::seen_by(&one, &other, "shared").await;
    }

    #[tokio::test]
    async fn a_write_no_replica_acknowledges_fails_and_says_why() {
        // A Redis with no replicas: WAIT 1 gets 0 acknowledgements, however long it waits.
        let redis = TestRedis::start();
        let store = RedisKv::new(redis.link("a"), 1);
        let refused = store.set("plugin", "k", b"v".to_vec(), 1024).await.expect_err("not acknowledged");
        assert!(refused.to_string().contains("reached 0 of the 1 Redis replica(s)"), "{refused}");
        // Reads need no acknowledgement (and the write did reach the primary).
        assert_eq!(store.get("plugin", "k").await.expect("read"), Some(b"v".to_vec()));
    }
}
