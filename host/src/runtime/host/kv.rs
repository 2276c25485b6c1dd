//! The `kv` interface: a key-value store per plugin, granted by `kv = true`.
//!
//! Alone, the store is in process memory, one map per plugin name, so data survives
//! calls, instance recycling and hot reloads of the same plugin; it does not survive a
//! restart. Clustered, it lives in Redis (one hash per plugin under the fleet's key
//! prefix), so a value written through one replica is read through any other, and a
//! write returns only once Redis has applied it. Either way each plugin may keep
//! [`KV_MAX_BYTES`] of keys plus values.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::cluster::Cluster;
use crate::runtime::bindings::berth::plugin::kv::{Host, KvError};
use crate::sync::lock;

/// Bytes (keys plus values) one plugin may keep.
pub const KV_MAX_BYTES: usize = 16 * 1024 * 1024;

/// One plugin's keys and values, sorted by key.
type PluginMap = BTreeMap<String, Vec<u8>>;

/// Every plugin's store, shared by all instances (and, clustered, all replicas).
#[derive(Clone)]
pub struct KvStore {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Memory(Arc<Mutex<HashMap<String, PluginMap>>>),
    Redis(Arc<Cluster>),
}

impl Default for KvStore {
    fn default() -> Self {
        Self { backend: Backend::Memory(Arc::default()) }
    }
}

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

impl KvStore {
    /// A store in the fleet's Redis, shared by every replica of `cluster`.
    pub fn clustered(cluster: Arc<Cluster>) -> Self {
        Self { backend: Backend::Redis(cluster) }
    }

    fn with<R>(maps: &Mutex<HashMap<String, PluginMap>>, plugin: &str, f: impl FnOnce(&mut PluginMap) -> R) -> R {
        let mut maps = lock(maps);
        f(maps.entry(plugin.to_owned()).or_default())
    }

    /// The Redis keys of `plugin`'s hash and byte count.
    fn redis_keys(cluster: &Cluster, plugin: &str) -> (String, String) {
        (cluster.key(&format!("kv:{plugin}")), cluster.key(&format!("kv-bytes:{plugin}")))
    }
}

/// The trap a call gets when the shared store cannot be reached.
fn unreachable(e: redis::RedisError) -> wasmtime::Error {
    wasmtime::Error::msg(format!("the shared key-value store (Redis) is unreachable: {e}"))
}

/// The `kv` interface's context in one store: which plugin, whether it may.
pub(crate) struct KvCtx {
    pub plugin: Arc<str>,
    pub granted: bool,
    pub store: KvStore,
}

impl KvCtx {
    fn backend(&self) -> Result<&Backend, KvError> {
        if self.granted {
            Ok(&self.store.backend)
        } else {
            Err(KvError::Denied(format!(
                "plugin {:?} has no key-value store; the operator grants one with `kv = true` in its sidecar file",
                &*self.plugin
            )))
        }
    }
}

fn size(map: &PluginMap) -> usize {
    map.iter().map(|(k, v)| k.len() + v.len()).sum()
}

fn full() -> KvError {
    KvError::Full(format!("the store is capped at {KV_MAX_BYTES} bytes"))
}

/// Trappable results: the outer error traps the call, the inner one is the plugin's to handle.
type KvResult<T> = wasmtime::Result<Result<T, KvError>>;

impl Host for KvCtx {
    async fn get(&mut self, key: String) -> KvResult<Option<Vec<u8>>> {
        Ok(Ok(match self.backend() {
            Err(denied) => return Ok(Err(denied)),
            Ok(Backend::Memory(maps)) => KvStore::with(maps, &self.plugin, |map| map.get(&key).cloned()),
            Ok(Backend::Redis(cluster)) => {
                let (hash, _) = KvStore::redis_keys(cluster, &self.plugin);
                cluster.query(redis::cmd("HGET").arg(hash).arg(&key)).await.map_err(unreachable)?
            }
        }))
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> KvResult<()> {
        match self.backend() {
            Err(denied) => Ok(Err(denied)),
            Ok(Backend::Memory(maps)) => Ok(KvStore::with(maps, &self.plugin, |map| {
                let old = map.get(&key).map_or(0, |v| key.len() + v.len());
                if size(map) - old + key.len() + value.len() > KV_MAX_BYTES {
                    return Err(full());
                }
                map.insert(key, value);
                Ok(())
            })),
            Ok(Backend::Redis(cluster)) => {
                let (hash, bytes) = KvStore::redis_keys(cluster, &self.plugin);
                let mut command = redis::cmd("EVAL");
                command.arg(SET_SCRIPT).arg(2).arg(hash).arg(bytes).arg(&key).arg(value).arg(KV_MAX_BYTES);
                let count: i64 = cluster.query(&command).await.map_err(unreachable)?;
                Ok(if count < 0 { Err(full()) } else { Ok(()) })
            }
        }
    }

    async fn delete(&mut self, key: String) -> KvResult<()> {
        match self.backend() {
            Err(denied) => Ok(Err(denied)),
            Ok(Backend::Memory(maps)) => {
                KvStore::with(maps, &self.plugin, |map| map.remove(&key));
                Ok(Ok(()))
            }
            Ok(Backend::Redis(cluster)) => {
                let (hash, bytes) = KvStore::redis_keys(cluster, &self.plugin);
                let mut command = redis::cmd("EVAL");
                command.arg(DELETE_SCRIPT).arg(2).arg(hash).arg(bytes).arg(&key);
                let _: i64 = cluster.query(&command).await.map_err(unreachable)?;
                Ok(Ok(()))
            }
        }
    }

    async fn keys(&mut self) -> KvResult<Vec<String>> {
        Ok(Ok(match self.backend() {
            Err(denied) => return Ok(Err(denied)),
            Ok(Backend::Memory(maps)) => KvStore::with(maps, &self.plugin, |map| map.keys().cloned().collect()),
            Ok(Backend::Redis(cluster)) => {
                let (hash, _) = KvStore::redis_keys(cluster, &self.plugin);
                let mut keys: Vec<String> = cluster.query(redis::cmd("HKEYS").arg(hash)).await.map_err(unreachable)?;
                keys.sort();
                keys
            }
        }))
    }
}
