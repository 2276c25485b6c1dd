//! The plugin runtime: one wasmtime engine, and each plugin's sandbox, pool and exports.
//!
//! Layered bottom to top, each file using only those below it:
//!
//! - `bindings` (the one `bindgen!`), `settings` (what the operator granted),
//!   `cache` (compiled artifacts on disk);
//! - `host/` — one file per capability a plugin can import, each with its own
//!   context type, held together by the store data `CallState`;
//! - `engine` — the shared engine, linker and epoch ticker ([`Runtime`]);
//! - `sandbox/` — instantiate into a bounded store (deadline, fuel, memory
//!   cap) and classify failures ([`CallFailure`]);
//! - `pool` — per-plugin permits, fresh or warm instances, pool counters;
//! - `catalog`, `schema`, `stats`, `mcp` — what a plugin offers, its tools'
//!   compiled schemas, per-tool counters, and WIT records as MCP JSON;
//! - `plugin` — a loaded [`Plugin`]: load, re-read the catalog, call exports.

pub(crate) mod bindings;
mod cache;
mod catalog;
mod engine;
mod host;
pub mod mcp;
mod plugin;
mod pool;
mod sandbox;
mod schema;
mod settings;
mod stats;

pub use catalog::Catalog;
pub use engine::{Runtime, build_engine};
pub(crate) use host::{Announcement, CallEvent, CallHooks, announcements};
pub(crate) use plugin::ExposedTool;
pub use plugin::Plugin;
pub(crate) use pool::PoolStats;
pub(crate) use sandbox::failure::CallFailure;
pub(crate) use schema::Violations;
pub(crate) use settings::{DirGrant, Isolation, PluginSettings};
pub(crate) use stats::{BUCKETS, Ending};
