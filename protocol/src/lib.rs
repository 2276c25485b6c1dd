//! berth's wire protocol core: one JSON-RPC message in, a classified request
//! or a protocol error out.
//!
//! It does no I/O and depends on nothing but `serde_json` and `base64`, so
//! the parsing and validation path every client byte goes through can be
//! fuzzed without building the wasm runtime (see `fuzz/`). The host re-exports
//! these modules as `berth::protocol::{jsonrpc, era, headers}`.

pub mod arguments;
pub mod era;
pub mod headers;
pub mod jsonrpc;
mod key;
pub mod meta;
pub mod payload;
