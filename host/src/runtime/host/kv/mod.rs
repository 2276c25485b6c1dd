//! The `kv` interface: a key-value store per plugin, granted by `kv = true`.
//!
//! Where the data lives is the [`KeyValueStore`] chosen when the server is
//! assembled (`store`: in process alone, Redis in a cluster); this file is the
//! capability a plugin sees: denied unless granted, capped at [`KV_MAX_BYTES`]
//! per plugin, and a store that cannot be reached traps the call with the
//! reason (the plugin cannot tell a lost write from a kept one otherwise).

#[cfg(test)]
pub(crate) mod cases;
mod store;

use std::sync::Arc;

use tracing::Instrument as _;

use crate::runtime::bindings::berth::plugin::kv::{Host, KvError};
use crate::shared::Unavailable;
use crate::telemetry;
pub(crate) use store::{InProcessKv, KeyValueStore};

/// Bytes (keys plus values) one plugin may keep.
pub(crate) const KV_MAX_BYTES: usize = 16 * 1024 * 1024;

/// The trace span of one key-value operation (its Redis command, in a cluster, is its child).
fn span(operation: &'static str, plugin: &str) -> tracing::Span {
    telemetry::child_span!(
        "kv",
        otel.name = format!("kv {operation}").as_str(),
        "berth.plugin" = plugin,
        "berth.kv.operation" = operation
    )
}

/// The trap a call gets when the shared store cannot be reached.
fn unreachable(e: Unavailable) -> wasmtime::Error {
    wasmtime::Error::msg(e.to_string())
}

/// The `kv` interface's context in one store: which plugin, whether it may.
pub(crate) struct KvCtx {
    pub(crate) plugin: Arc<str>,
    pub(crate) granted: bool,
    pub(crate) store: Arc<dyn KeyValueStore>,
}

impl KvCtx {
    /// The store, when the operator granted it.
    fn store(&self) -> Result<&dyn KeyValueStore, KvError> {
        if self.granted {
            Ok(&*self.store)
        } else {
            Err(KvError::Denied(format!(
                "plugin {:?} has no key-value store; the operator grants one with `kv = true` in its sidecar file",
                &*self.plugin
            )))
        }
    }
}

/// Trappable results: the outer error traps the call, the inner one is the plugin's to handle.
type KvResult<T> = wasmtime::Result<Result<T, KvError>>;

impl Host for KvCtx {
    async fn get(&mut self, key: String) -> KvResult<Option<Vec<u8>>> {
        match self.store() {
            Err(denied) => Ok(Err(denied)),
            Ok(store) => Ok(Ok(store
                .get(&self.plugin, &key)
                .instrument(span("get", &self.plugin))
                .await
                .map_err(unreachable)?)),
        }
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> KvResult<()> {
        match self.store() {
            Err(denied) => Ok(Err(denied)),
            Ok(store) => {
                let stored = store
                    .set(&self.plugin, &key, value, KV_MAX_BYTES)
                    .instrument(span("set", &self.plugin))
                    .await
                    .map_err(unreachable)?;
                Ok(if stored {
                    Ok(())
                } else {
                    Err(KvError::Full(format!("the store is capped at {KV_MAX_BYTES} bytes")))
                })
            }
        }
    }

    async fn delete(&mut self, key: String) -> KvResult<()> {
        match self.store() {
            Err(denied) => Ok(Err(denied)),
            Ok(store) => Ok(Ok(store
                .delete(&self.plugin, &key)
                .instrument(span("delete", &self.plugin))
                .await
                .map_err(unreachable)?)),
        }
    }

    async fn keys(&mut self) -> KvResult<Vec<String>> {
        match self.store() {
            Err(denied) => Ok(Err(denied)),
            Ok(store) => {
                Ok(Ok(store.keys(&self.plugin).instrument(span("keys", &self.plugin)).await.map_err(unreachable)?))
            }
        }
    }
}
