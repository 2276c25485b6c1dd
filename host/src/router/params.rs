//! Reading a request's params, with -32602 errors that name the field.

use serde_json::Value;

use crate::protocol::jsonrpc::{Request, RpcError};

/// `params[key]` as a string; absent or of another type is -32602.
pub(super) fn required_str<'a>(request: &'a Request, key: &str) -> Result<&'a str, RpcError> {
    match request.param(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(RpcError::invalid_params(format!("params.{key} must be a string"))),
        None => Err(RpcError::invalid_params(format!("params.{key} is required"))),
    }
}
