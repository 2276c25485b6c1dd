//! The Tasks extension's identity on the wire, and the error for a client
//! that did not declare it.

use serde_json::{Value, json};

use super::jsonrpc::{MISSING_REQUIRED_CLIENT_CAPABILITY, RpcError};

/// The extension's identifier (SEP-2663).
pub(crate) const EXTENSION: &str = "io.modelcontextprotocol/tasks";

/// Whether client `capabilities` declare the Tasks extension.
pub(crate) fn declared(capabilities: &Value) -> bool {
    capabilities.get("extensions").and_then(|e| e.get(EXTENSION)).is_some_and(|v| !v.is_null())
}

/// -32021 naming the extension the client must declare for `what`.
pub(crate) fn missing(what: &str) -> RpcError {
    RpcError::new(
        MISSING_REQUIRED_CLIENT_CAPABILITY,
        format!("{what} needs the client capability extensions[\"{EXTENSION}\"]; declare it in _meta"),
    )
    .with_data(json!({ "requiredCapabilities": { "extensions": { EXTENSION: {} } } }))
}
