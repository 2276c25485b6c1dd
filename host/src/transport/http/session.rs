//! A legacy session's other routes: `GET /mcp` (its event stream, or a
//! streamed answer resumed after `Last-Event-ID`) and `DELETE /mcp` (end it).

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::post::unknown_session;
use super::{HttpState, LAST_EVENT_ID_HEADER, SESSION_HEADER, SessionMiss, accepts, header_str, named_session, sse};
use crate::exchange::Requester;
use crate::protocol::jsonrpc::RpcError;
use crate::transport::refusal::json_error;

/// GET opens a legacy session's event stream, or resumes a streamed answer after `Last-Event-ID`.
pub(super) async fn get(
    State(state): State<Arc<HttpState>>,
    requester: Option<Extension<Requester>>,
    headers: HeaderMap,
) -> Response {
    let requester = requester.map_or_else(|| Requester::named("http"), |Extension(requester)| requester);
    let session = match named_session(&state, &headers, &requester).await {
        Ok(Some(session)) => session,
        Ok(None) => return method_not_allowed(),
        Err(SessionMiss::Unknown) => return unknown_session(),
        Err(SessionMiss::Unavailable(response)) => return response,
    };
    if !accepts(&headers).sse {
        let error = RpcError::invalid_request("GET /mcp needs Accept: text/event-stream");
        return json_error(StatusCode::NOT_ACCEPTABLE, &error);
    }
    if let Some(last) = header_str(&headers, &LAST_EVENT_ID_HEADER) {
        if let Some(log) = session.stream_for(last)
            && let Some(seq) = log.sequence_of(last)
        {
            return sse::response(sse::with_keepalive(sse::log_body(log, Some(seq))), None);
        }
        // Clustered: another replica may have streamed it.
        if let Some(fleet) = state.exchange.sessions().fleet() {
            match fleet.replay(&session.id, last, session.ended().clone()).await {
                Ok(Some((stream, events))) => {
                    return sse::response(sse::with_keepalive(sse::events_body(stream, events)), None);
                }
                Ok(None) => {}
                Err(e) => return super::redis_unavailable(&state, &serde_json::Value::Null, &e),
            }
        }
    }
    let slot = match state.limits.open_stream(state.exchange.quotas(), &requester) {
        Ok(slot) => slot,
        Err(refusal) => return *refusal,
    };
    // A client listening on its session uses it: it is not reclaimed as unused.
    session.mark_used();
    let feed = state.exchange.session_feed(session);
    sse::response(sse::with_keepalive(sse::holding(slot, sse::feed_body(sse::priming(), feed))), None)
}

/// DELETE ends a legacy session (clustered: on every replica).
pub(super) async fn delete(State(state): State<Arc<HttpState>>, headers: HeaderMap) -> Response {
    let Some(id) = header_str(&headers, &SESSION_HEADER) else {
        return method_not_allowed();
    };
    let here = state.exchange.sessions().remove(id);
    let fleet = match state.exchange.sessions().fleet() {
        Some(fleet) => match fleet.end(id).await {
            Ok(known) => known,
            Err(e) => return super::redis_unavailable(&state, &serde_json::Value::Null, &e),
        },
        None => false,
    };
    if here || fleet { StatusCode::NO_CONTENT.into_response() } else { unknown_session() }
}

/// 405 for GET/DELETE outside a legacy session: 2026-07-28 is POST only.
fn method_not_allowed() -> Response {
    let error = RpcError::invalid_request("only POST is allowed here without a legacy Mcp-Session-Id");
    let mut response = json_error(StatusCode::METHOD_NOT_ALLOWED, &error);
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}
