//! A legacy session's other routes: `GET /mcp` (its event stream, or a
//! streamed answer resumed after `Last-Event-ID`) and `DELETE /mcp` (end it).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{HttpState, LAST_EVENT_ID_HEADER, SESSION_HEADER, accepts, header_str, reply, sse};
use crate::admission::Requester;
use crate::admission::refusal::json_error;
use crate::protocol::jsonrpc::RpcError;

/// GET opens a legacy session's event stream, or resumes a streamed answer after `Last-Event-ID`.
pub(super) async fn get(State(state): State<Arc<HttpState>>, requester: Requester, headers: HeaderMap) -> Response {
    let Some(id) = header_str(&headers, &SESSION_HEADER) else {
        return method_not_allowed();
    };
    let session = match state.exchange.named_session(id, &requester).await {
        Ok(session) => session,
        Err(refused) => return reply::refusal(&state, &refused),
    };
    if !accepts(&headers).sse {
        let error = RpcError::invalid_request("GET /mcp needs Accept: text/event-stream");
        return json_error(StatusCode::NOT_ACCEPTABLE, &error);
    }
    if let Some(last) = header_str(&headers, &LAST_EVENT_ID_HEADER) {
        match state.exchange.resume(&session, last).await {
            Ok(Some((stream, events))) => {
                return sse::response(sse::with_keepalive(sse::events_body(stream, events)), None);
            }
            // Not kept anywhere: the session's stream instead.
            Ok(None) => {}
            Err(refused) => return reply::refusal(&state, &refused),
        }
    }
    let slot = match state.limits.open_stream(state.exchange.quotas(), &requester) {
        Ok(slot) => slot,
        Err(refusal) => return *refusal,
    };
    // A client listening on its session uses it: it is not reclaimed as unused.
    session.mark_used();
    let feed = state.exchange.session_feed(session);
    let body = sse::until(sse::feed_body(sse::priming(), feed), state.stopping.stop.clone());
    sse::response(sse::with_keepalive(sse::holding(slot, body)), None)
}

/// DELETE ends a legacy session (in a cluster: on every replica).
pub(super) async fn delete(State(state): State<Arc<HttpState>>, headers: HeaderMap) -> Response {
    let Some(id) = header_str(&headers, &SESSION_HEADER) else {
        return method_not_allowed();
    };
    match state.exchange.end_session(id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(refused) => reply::refusal(&state, &refused),
    }
}

/// 405 for GET/DELETE outside a legacy session: 2026-07-28 is POST only.
fn method_not_allowed() -> Response {
    let error = RpcError::invalid_request("only POST is allowed here without a legacy Mcp-Session-Id");
    let mut response = json_error(StatusCode::METHOD_NOT_ALLOWED, &error);
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}
