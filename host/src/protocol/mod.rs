//! The MCP wire protocol: JSON-RPC framing, the two protocol eras, and the
//! mapping between WIT records and MCP JSON.
//!
//! Framing, eras and `Mcp-Param` headers live in the `berth-protocol` crate
//! (so they can be fuzzed alone) and are re-exported here.

pub use berth_protocol::{era, headers, jsonrpc};

pub mod events;
pub mod mcp;
pub mod notify;
pub mod seal;
