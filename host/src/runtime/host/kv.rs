//! The `kv` interface: a key-value store per plugin, granted by `kv = true`.
//!
//! The store is in process memory, one map per plugin name, so data survives
//! calls, instance recycling and hot reloads of the same plugin; it does not
//! survive a restart. Each plugin may keep [`KV_MAX_BYTES`] of keys plus values.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::runtime::bindings::berth::plugin::kv::{Host, KvError};
use crate::sync::lock;

/// Bytes (keys plus values) one plugin may keep.
pub const KV_MAX_BYTES: usize = 16 * 1024 * 1024;

/// One plugin's keys and values, sorted by key.
type PluginMap = BTreeMap<String, Vec<u8>>;

/// Every plugin's store, shared by all instances.
#[derive(Clone, Default)]
pub struct KvStore {
    maps: Arc<Mutex<HashMap<String, PluginMap>>>,
}

impl KvStore {
    fn with<R>(&self, plugin: &str, f: impl FnOnce(&mut PluginMap) -> R) -> R {
        let mut maps = lock(&self.maps);
        f(maps.entry(plugin.to_owned()).or_default())
    }
}

/// The `kv` interface's context in one store: which plugin, whether it may.
pub(crate) struct KvCtx {
    pub plugin: Arc<str>,
    pub granted: bool,
    pub store: KvStore,
}

impl KvCtx {
    fn store(&self) -> Result<&KvStore, KvError> {
        if self.granted {
            Ok(&self.store)
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

impl Host for KvCtx {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.store()?.with(&self.plugin, |map| map.get(&key).cloned()))
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), KvError> {
        self.store()?.with(&self.plugin, |map| {
            let old = map.get(&key).map_or(0, |v| key.len() + v.len());
            if size(map) - old + key.len() + value.len() > KV_MAX_BYTES {
                return Err(KvError::Full(format!("the store is capped at {KV_MAX_BYTES} bytes")));
            }
            map.insert(key, value);
            Ok(())
        })
    }

    fn delete(&mut self, key: String) -> Result<(), KvError> {
        self.store()?.with(&self.plugin, |map| map.remove(&key));
        Ok(())
    }

    fn keys(&mut self) -> Result<Vec<String>, KvError> {
        Ok(self.store()?.with(&self.plugin, |map| map.keys().cloned().collect()))
    }
}
