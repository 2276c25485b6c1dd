//! The plugin runtime: one wasmtime engine, and each plugin's sandbox, pool and exports.
//!
//! Layered bottom to top, each file using only those below it:
//!
//! - `bindings` (the one `bindgen!`), `settings` (what the operator granted),
//!   `cache` (compiled artifacts on disk), `failure` (why a call gave no
//!   answer), `bounds` (one store's deadline, long-call turn and memory cap);
//! - `host/` — one file per capability a plugin can import, each with its own
//!   context type, held together by the store data `CallState` (the key-value
//!   store's backend is a trait, `host::kv`, chosen when the server is assembled);
//! - `engine` — the shared engine, linker and epoch ticker ([`Runtime`]);
//! - `sandbox/` — instantiate into a bounded store, keep calls within their
//!   deadline, fuel and memory, and classify failures ([`CallFailure`]);
//! - `pool` — per-plugin permits, fresh or warm instances, pool counters;
//! - `catalog`, `schema`, `stats`, `mcp` — what a plugin offers, its tools'
//!   compiled schemas, per-tool counters, and WIT records as MCP JSON;
//! - `plugin` — a loaded [`Plugin`]: load, re-read the catalog, call exports.

pub(crate) mod bindings;
mod bounds;
mod cache;
mod catalog;
mod engine;
mod failure;
mod host;
pub(crate) mod mcp;
mod plugin;
mod pool;
mod sandbox;
mod schema;
mod settings;
mod stats;

pub(crate) use engine::Runtime;
pub use engine::build_engine;
pub(crate) use failure::CallFailure;
#[cfg(test)]
pub(crate) use host::kv_cases;
pub(crate) use host::{Announcement, CallEvent, CallHooks, InProcessKv, KeyValueStore, announcements};
pub(crate) use plugin::ExposedTool;
pub(crate) use plugin::Plugin;
pub(crate) use pool::PoolCounts;
pub(crate) use schema::Violations;
pub(crate) use settings::{DirGrant, Isolation, PluginSettings};
pub(crate) use stats::{BUCKETS, Ending, Histogram};
