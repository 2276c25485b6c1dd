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

/// `params[key]` as JSON text of an object; absent or null is `{}`.
pub(super) fn object_text(request: &Request, key: &str) -> Result<String, RpcError> {
    match request.param(key) {
        None | Some(Value::Null) => Ok("{}".to_owned()),
        // `serde_json::to_string`, not `Value::to_string`: the latter goes through `fmt`, several times slower.
        Some(value @ Value::Object(_)) => serde_json::to_string(value).map_err(|e| RpcError::internal(e.to_string())),
        Some(_) => Err(RpcError::invalid_params(format!("params.{key} must be an object"))),
    }
}
