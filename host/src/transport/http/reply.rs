//! The driver's replies as HTTP: a refusal's status (and `Retry-After`), an
//! answer as a JSON body, a new session's id in `Mcp-Session-Id`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::{HttpState, SESSION_HEADER};
use crate::admission::refusal::{json_bytes, json_response, too_many, unavailable};
use crate::exchange::{Answer, Refused, Why};
use crate::protocol::jsonrpc::{self, RpcError};

/// A refused message: its error, with the status that says why.
pub(super) fn refusal(state: &HttpState, refused: &Refused) -> Response {
    error(state, &refused.id, &refused.error, refused.why)
}

/// Error `error` of request `id`, with the status `why` calls for.
fn error(state: &HttpState, id: &Value, error: &RpcError, why: Why) -> Response {
    let status = match why {
        Why::ByCode => StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::OK),
        Why::Legacy => StatusCode::OK,
        Why::UnknownSession => StatusCode::NOT_FOUND,
        Why::NoSession => StatusCode::BAD_REQUEST,
        Why::Busy => return unavailable(id, error, state.limits.retry_after_secs),
        Why::OverQuota(wait) => return too_many(id, error, wait),
    };
    json_response(status, &jsonrpc::failure(id, error))
}

/// An answer as a JSON body. 2026-07-28 maps error codes to HTTP statuses;
/// legacy clients get 200, since a legacy 404 means "session gone" to them.
pub(super) fn answer(state: &HttpState, answer: &Answer) -> Response {
    match &answer.outcome {
        Ok(_) => json_bytes(StatusCode::OK, answer.to_bytes()),
        Err(failure) => error(state, &answer.id, failure, if answer.modern { Why::ByCode } else { Why::Legacy }),
    }
}

/// The legacy handshake's answer, naming the new session in `Mcp-Session-Id`.
pub(super) fn opened(session_id: &str, id: &Value, result: Value) -> Response {
    let mut response = json_response(StatusCode::OK, &jsonrpc::success(id, result));
    if let Ok(value) = HeaderValue::from_str(session_id) {
        response.headers_mut().insert(SESSION_HEADER, value);
    }
    response
}
