//! The MCP wire protocol, with no knowledge of plugins: JSON-RPC framing, the
//! two protocol eras, `Mcp-Param` headers, server notices, log levels, and
//! sealed `requestState`.
//!
//! Framing, eras and headers live in the `berth-protocol` crate (so they can
//! be fuzzed alone) and are re-exported here. This is the bottom layer of
//! the host: everything may use it, it uses nothing of the host.

pub use berth_protocol::{era, headers, jsonrpc, meta, payload};

pub(crate) mod logging;
pub(crate) mod notice;
pub(crate) mod seal;
pub(crate) mod tasks;
