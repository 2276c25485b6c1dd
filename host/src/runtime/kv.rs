//! The key-value store behind the `kv` interface: in memory, one map per plugin.
//!
//! Data is keyed by plugin name, so it survives calls, instance recycling and
//! hot reloads of the same plugin; it does not survive a restart.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::bindings::berth::plugin::kv::{Host, KvError};
use super::state::CallState;

/// One plugin's keys and values, sorted by key.
type PluginMap = BTreeMap<String, Vec<u8>>;

/// Every plugin's store.
#[derive(Clone, Default)]
pub struct KvStore {
    maps: Arc<Mutex<HashMap<String, PluginMap>>>,
}

/// Bytes (keys plus values) one plugin may keep.
pub const KV_MAX_BYTES: usize = 16 * 1024 * 1024;

impl KvStore {
    fn with<R>(&self, plugin: &str, f: impl FnOnce(&mut PluginMap) -> R) -> R {
        let mut maps = self.maps.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(maps.entry(plugin.to_owned()).or_default())
    }
}

fn size(map: &PluginMap) -> usize {
    map.iter().map(|(k, v)| k.len() + v.len()).sum()
}

impl CallState {
    fn kv(&self) -> Result<(&KvStore, &str), KvError> {
        if self.settings.kv {
            Ok((&self.kv, &self.plugin))
        } else {
            Err(KvError::Denied(format!(
                "plugin {:?} has no key-value store; the operator grants one with `kv = true` in its sidecar file",
                &*self.plugin
            )))
        }
    }
}

impl Host for CallState {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, KvError> {
        let (store, plugin) = self.kv()?;
        Ok(store.with(plugin, |map| map.get(&key).cloned()))
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), KvError> {
        let (store, plugin) = self.kv()?;
        store.with(plugin, |map| {
            let old = map.get(&key).map_or(0, |v| key.len() + v.len());
            if size(map) - old + key.len() + value.len() > KV_MAX_BYTES {
                return Err(KvError::Full(format!("the store is capped at {KV_MAX_BYTES} bytes")));
            }
            map.insert(key, value);
            Ok(())
        })
    }

    fn delete(&mut self, key: String) -> Result<(), KvError> {
        let (store, plugin) = self.kv()?;
        store.with(plugin, |map| map.remove(&key));
        Ok(())
    }

    fn keys(&mut self) -> Result<Vec<String>, KvError> {
        let (store, plugin) = self.kv()?;
        Ok(store.with(plugin, |map| map.keys().cloned().collect()))
    }
}
