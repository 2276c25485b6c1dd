//! berth: a WebAssembly-plugin MCP host.
//!
//! The request path reads top to bottom through the modules:
//! `transport` (HTTP, stdio) → `protocol` (JSON-RPC, protocol eras) →
//! `router` (method → handler) → `registry` (name → plugin) → `runtime`
//! (fresh sandboxed instance → wasm call) → back out as an MCP result.

pub mod bench;
pub mod config;
pub mod error;
pub mod metrics;
pub mod notices;
pub mod protocol;
pub mod registry;
pub mod router;
pub mod runtime;
pub mod scaffold;
pub mod server;
pub mod session;
pub mod transport;

pub use config::Config;
pub use error::{Error, Result};
