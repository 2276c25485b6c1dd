//! The MCP wire protocol: JSON-RPC framing, the two protocol eras, and the
//! mapping between WIT records and MCP JSON.

pub mod era;
pub mod events;
pub mod headers;
pub mod jsonrpc;
pub mod mcp;
pub mod notify;
pub mod seal;
