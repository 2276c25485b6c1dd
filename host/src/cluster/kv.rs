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
}

impl RedisKv {
    /// The store in `link`'s Redis.
    pub(crate) fn new(link: Arc<Link>) -> Self {
        Self { link }
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
        let count: i64 = self.link.query(&command).await.map_err(|e| e.unavailable(STORE))?;
        Ok(count >= 0)
    }

    async fn delete(&self, plugin: &str, key: &str) -> Result<(), Unavailable> {
        let (hash, bytes) = self.keys_of(plugin);
        let mut command = redis::cmd("EVAL");
        command.arg(DELETE_SCRIPT).arg(2).arg(hash).arg(bytes).arg(key);
        let _: i64 = self.link.query(&command).await.map_err(|e| e.unavailable(STORE))?;
        Ok(())
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
    use crate::runtime::kv_cases;

    #[tokio::test]
    async fn the_redis_store_passes_the_shared_cases() {
        let redis = TestRedis::start();
        let (one, other) = (RedisKv::new(redis.link("a")), RedisKv::new(redis.link("b")));
        kv_cases::all(&one, "plugin").await;
        kv_cases::seen_by(&one, &other, "shared").await;
    }
}
