//! The plugin runtime: one wasmtime engine, compiled plugins, and per-call sandboxes.
//!
//! Loading (`plugin::load`) compiles a component once (or reads it from the
//! artifact cache), prepares its `InstancePre`, finds which interfaces it
//! exports and reads its catalog. Calling (`call`) takes a fresh instance from
//! the pooling allocator, arms the memory cap and deadline, runs one export,
//! and drops the instance, so nothing carries over between calls.

pub mod bindings;
mod cache;
mod call;
mod engine;
mod http_grant;
mod kv;
mod output;
mod plugin;
mod pool;
mod settings;
mod signal;
mod state;

pub use call::{CallFailure, CallHooks, PluginEvent};
pub use engine::Runtime;
pub use plugin::{Catalog, Plugin};
pub use pool::PoolStats;
pub use settings::{DirGrant, Isolation, PluginSettings, ReusePolicy};
pub use signal::HostSignal;
