//! A plugin's error values and sandbox failures as JSON-RPC errors.
//!
//! A tool call's sandbox failure is not mapped here: it becomes a tool
//! result with `isError` (see `tools`), since the model can act on it.

use serde_json::json;

use super::context::Era;
use crate::protocol::jsonrpc::{INVALID_PARAMS, RESOURCE_NOT_FOUND, RpcError};
use crate::runtime::CallFailure;
use crate::runtime::bindings::types::Error as PluginError;

/// A plugin's own error value: its invalid-params and not-found are the
/// client's fault (-32602), internal is the plugin's (-32603).
impl From<PluginError> for RpcError {
    fn from(error: PluginError) -> Self {
        match error {
            PluginError::InvalidParams(message) | PluginError::NotFound(message) => RpcError::invalid_params(message),
            PluginError::Internal(message) => RpcError::internal(message),
        }
    }
}

/// A sandbox failure outside a tool call (resources, prompts, completion): -32603.
impl From<CallFailure> for RpcError {
    fn from(failure: CallFailure) -> Self {
        RpcError::internal(failure.to_string())
    }
}

/// "Resource not found": -32002 in the legacy eras, -32602 in 2026-07-28.
pub(super) fn resource_not_found(era: &Era, uri: &str) -> RpcError {
    let code = match era {
        Era::Modern(_) => INVALID_PARAMS,
        Era::Legacy(_) => RESOURCE_NOT_FOUND,
    };
    RpcError::new(code, format!("resource not found: {uri}")).with_data(json!({ "uri": uri }))
}
