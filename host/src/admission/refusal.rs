//! JSON bodies for HTTP answers, and the refusals every HTTP route shares:
//! a JSON-RPC error with the status that fits it.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::OverQuota;
use crate::protocol::jsonrpc::{self, RpcError, SERVER_BUSY};

/// A JSON body with `status`.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    json_bytes(status, jsonrpc::to_bytes(body))
}

/// JSON `bytes` as the body of `status`.
pub(crate) fn json_bytes(status: StatusCode, bytes: Vec<u8>) -> Response {
    // Built as it is sent: `(status, bytes).into_response()` would set a content type to replace.
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A JSON-RPC error (id null) as the body of `status`.
pub(crate) fn json_error(status: StatusCode, error: &RpcError) -> Response {
    json_response(status, &jsonrpc::failure(&Value::Null, error))
}

/// 503 with `Retry-After` and the JSON-RPC error `error` for request `id`.
pub(crate) fn unavailable(id: &Value, error: &RpcError, retry_after_secs: u64) -> Response {
    let mut response = json_response(StatusCode::SERVICE_UNAVAILABLE, &jsonrpc::failure(id, error));
    if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// 503 refusing a request because the server-wide `limit` is full (-32000 with `retryAfterMs`).
pub(crate) fn busy(limit: &str, retry_after_secs: u64) -> Response {
    let error = RpcError::new(SERVER_BUSY, format!("server busy: {limit}; retry later"))
        .with_data(json!({ "retryAfterMs": retry_after_secs * 1000, "limit": limit }));
    unavailable(&Value::Null, &error, retry_after_secs)
}

/// 429 refusing request `id` of a source over one of its quotas, with `Retry-After`
/// and the JSON-RPC error (-32000, `retryAfterMs`).
pub(crate) fn over_quota(id: &Value, over: &OverQuota) -> Response {
    too_many(id, &over.error(), over.retry_after)
}

/// 429 with the JSON-RPC error `error` for request `id`, to be retried after `wait`.
pub(crate) fn too_many(id: &Value, error: &RpcError, wait: Duration) -> Response {
    let mut response = json_response(StatusCode::TOO_MANY_REQUESTS, &jsonrpc::failure(id, error));
    // Whole seconds, rounded up.
    let seconds = wait.as_millis().div_ceil(1000).max(1);
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}
