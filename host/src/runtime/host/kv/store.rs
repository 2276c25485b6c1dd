//! Where plugins' key-value data lives: the trait the `kv` capability needs,
//! and its in-process implementation.
//!
//! Alone, the data is in process memory, one map per plugin name, so it
//! survives calls, instance recycling and hot reloads of the same plugin, but
//! not a restart. Clustered, `cluster` implements the same trait on Redis, so
//! a value written through one replica is read through any other. Either way
//! each plugin's keys plus values are capped, and the count is exact.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::shared::Unavailable;
use crate::sync::lock;

/// What a plugin keeps: its keys and values, by plugin name.
#[async_trait]
pub(crate) trait KeyValueStore: Send + Sync {
    /// The value of `key` in `plugin`'s store, if set.
    async fn get(&self, plugin: &str, key: &str) -> Result<Option<Vec<u8>>, Unavailable>;
    /// Sets `key` to `value` unless `plugin`'s keys plus values would pass `cap`
    /// bytes; whether it was stored.
    async fn set(&self, plugin: &str, key: &str, value: Vec<u8>, cap: usize) -> Result<bool, Unavailable>;
    /// Removes `key` (nothing happens when it is not set).
    async fn delete(&self, plugin: &str, key: &str) -> Result<(), Unavailable>;
    /// `plugin`'s keys, sorted.
    async fn keys(&self, plugin: &str) -> Result<Vec<String>, Unavailable>;
}

/// One plugin's keys and values, sorted by key, and their size in bytes.
#[derive(Default)]
struct PluginMap {
    entries: BTreeMap<String, Vec<u8>>,
    bytes: usize,
}

/// Every plugin's data in this process's memory.
#[derive(Default)]
pub(crate) struct InProcessKv {
    maps: Mutex<HashMap<String, PluginMap>>,
}

#[async_trait]
impl KeyValueStore for InProcessKv {
    async fn get(&self, plugin: &str, key: &str) -> Result<Option<Vec<u8>>, Unavailable> {
        Ok(lock(&self.maps).get(plugin).and_then(|map| map.entries.get(key).cloned()))
    }

    async fn set(&self, plugin: &str, key: &str, value: Vec<u8>, cap: usize) -> Result<bool, Unavailable> {
        let mut maps = lock(&self.maps);
        let map = maps.entry(plugin.to_owned()).or_default();
        let old = map.entries.get(key).map_or(0, |v| key.len() + v.len());
        let bytes = map.bytes - old + key.len() + value.len();
        if bytes > cap {
            return Ok(false);
        }
        map.entries.insert(key.to_owned(), value);
        map.bytes = bytes;
        Ok(true)
    }

    async fn delete(&self, plugin: &str, key: &str) -> Result<(), Unavailable> {
        if let Some(map) = lock(&self.maps).get_mut(plugin)
            && let Some(value) = map.entries.remove(key)
        {
            map.bytes -= key.len() + value.len();
        }
        Ok(())
    }

    async fn keys(&self, plugin: &str) -> Result<Vec<String>, Unavailable> {
        Ok(lock(&self.maps).get(plugin).map(|map| map.entries.keys().cloned().collect()).unwrap_or_default())
    }
}
