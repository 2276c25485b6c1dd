//! `POST /mcp`: one JSON-RPC message per body.
//!
//! A request is routed by the exchange and answered with a JSON body, unless
//! the call streams something first (progress, logs, a question for a legacy
//! client): then the response switches to SSE at that moment, so plain calls
//! never pay for a stream. Notifications and a client's answers to berth's
//! own requests get 202.

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    Accepts, HttpState, METHOD_HEADER, NAME_HEADER, PROTOCOL_VERSION_HEADER, SESSION_HEADER, SessionMiss, accepts,
    header_str, named_session, sse,
};
use crate::exchange::{Answer, Call, HttpHeaders, Listen, Refusal, Requester, SessionRef, Step};
use crate::protocol::era::RoutingHeaders;
use crate::protocol::headers;
use crate::protocol::jsonrpc::{self, Message, Request, RpcError};
use crate::router::Sink;
use crate::session::{EventLog, Session};
use crate::transport::refusal::{json_bytes, json_error, json_response, over_quota, unavailable};

pub(super) async fn post(
    State(state): State<Arc<HttpState>>,
    requester: Option<Extension<Requester>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let accept = accepts(&headers);
    if !accept.json && !accept.sse {
        let error = RpcError::invalid_request("Accept must include application/json or text/event-stream");
        return json_error(StatusCode::NOT_ACCEPTABLE, &error);
    }
    if let Some(content_type) = header_str(&headers, &header::CONTENT_TYPE)
        && !content_type.starts_with("application/json")
    {
        let error = RpcError::invalid_request(format!("Content-Type must be application/json, not {content_type:?}"));
        return json_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, &error);
    }
    let Ok(bytes) = axum::body::to_bytes(body, state.max_body_bytes).await else {
        let error =
            RpcError::invalid_request(format!("the request body is larger than {} bytes", state.max_body_bytes));
        return json_error(StatusCode::PAYLOAD_TOO_LARGE, &error);
    };
    let requester = requester.map_or_else(|| Requester::named("http"), |Extension(requester)| requester);
    match jsonrpc::parse(&bytes) {
        Ok(Message::Request(request)) => route(state, &headers, accept, request, &requester).await,
        Ok(Message::Notification { method, params }) => {
            notification(&state, &headers, &requester, &method, params.as_ref()).await
        }
        Ok(Message::Response { id, answer }) => match named_session(&state, &headers, &requester).await {
            Ok(Some(session)) => {
                state.exchange.deliver(&session, &id, answer);
                StatusCode::ACCEPTED.into_response()
            }
            Ok(None) => json_error(
                StatusCode::BAD_REQUEST,
                &RpcError::invalid_request("a response needs the Mcp-Session-Id of the session that asked"),
            ),
            Err(SessionMiss::Unknown) => unknown_session(),
            Err(SessionMiss::Unavailable(response)) => response,
        },
        Err(rejected) => {
            let status = StatusCode::from_u16(rejected.error.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            json_response(status, &jsonrpc::failure(&rejected.id, &rejected.error))
        }
    }
}

async fn route(
    state: Arc<HttpState>,
    headers: &HeaderMap,
    accept: Accepts,
    request: Request,
    requester: &Requester,
) -> Response {
    let routing = RoutingHeaders {
        protocol_version: header_str(headers, &PROTOCOL_VERSION_HEADER).map(str::to_owned),
        method: header_str(headers, &METHOD_HEADER).map(str::to_owned),
        name: header_str(headers, &NAME_HEADER).and_then(headers::decode_value),
    };
    let http = HttpHeaders { routing, all: headers };
    // A session another replica created is adopted before routing (clustered).
    let held = match named_session(&state, headers, requester).await {
        Ok(held) => held,
        Err(SessionMiss::Unknown) => None,
        Err(SessionMiss::Unavailable(response)) => return response,
    };
    let session = match (&held, header_str(headers, &SESSION_HEADER)) {
        (Some(session), _) => SessionRef::Held(session),
        (None, Some(id)) => SessionRef::Id(id),
        (None, None) => SessionRef::None,
    };
    match state.exchange.route(request, Some(&http), session, requester) {
        Step::Run(call) => respond(state, call, accept).await,
        Step::Initialize(request) => initialize(&state, &request, requester).await,
        Step::Listen(listen) => listen_stream(&state, listen, requester),
        Step::Refuse { id, error } => error_reply(&id, &error, true),
        Step::UnknownSession => unknown_session(),
    }
}

/// Runs a call, answering with JSON unless it streams something first.
async fn respond(state: Arc<HttpState>, call: Call, accept: Accepts) -> Response {
    let modern = call.is_modern();
    let session = call.session().cloned();
    let (sender, mut events) = mpsc::unbounded_channel::<Value>();
    let sink: Option<Sink> = accept.sse.then(|| {
        let sender = sender.clone();
        Arc::new(move |message: Value| {
            let _ = sender.send(message);
        }) as Sink
    });
    drop(sender);
    let cancel = CancellationToken::new();
    let exchange = state.exchange.clone();
    let mut work = Box::pin({
        let cancel = cancel.clone();
        async move { exchange.answer(call, sink, cancel).await }
    });
    // A client that takes only SSE gets its stream at once; others get JSON
    // unless the call streams something before it finishes.
    let first = if !accept.json {
        None
    } else {
        Some(tokio::select! {
            biased;
            answer = &mut work => {
                if events.is_empty() {
                    return json_answer(answer, modern);
                }
                // Events were produced, but the call finished first: stream them all.
                let log = open_log(session.as_deref());
                while let Ok(message) = events.try_recv() {
                    log.push(&message);
                }
                if !cancel.is_cancelled() {
                    log.push(&answer.into_message());
                }
                log.finish();
                return sse::response(sse::log_body(log, None), None);
            }
            Some(first) = events.recv() => first,
        })
    };
    let log = open_log(session.as_deref());
    if let Some(first) = &first {
        log.push(first);
    }
    let writer = log.clone();
    let stopped = cancel.clone();
    tokio::spawn(async move {
        let answer = loop {
            tokio::select! {
                answer = &mut work => break answer,
                Some(message) = events.recv() => writer.push(&message),
            }
        };
        while let Ok(message) = events.try_recv() {
            writer.push(&message);
        }
        // A cancelled request gets no response, as MCP asks.
        if !stopped.is_cancelled() {
            writer.push(&answer.into_message());
        }
        writer.finish();
    });
    // 2026-07-28 cancels by closing the stream; a 2025 client that drops the
    // connection may resume with Last-Event-ID, so its call keeps running.
    sse::response(sse::log_body(log, None), modern.then_some(cancel))
}

/// A streamed answer's log: kept by the session for resumption, or a one-off.
fn open_log(session: Option<&Session>) -> Arc<EventLog> {
    match session {
        Some(session) => session.open_stream(),
        None => Arc::new(EventLog::new("r".to_owned())),
    }
}

/// An answer as a JSON body.
fn json_answer(answer: Answer, modern: bool) -> Response {
    match &answer.outcome {
        Ok(_) => json_bytes(StatusCode::OK, answer.to_bytes()),
        Err(error) => error_reply(&answer.id, error, modern),
    }
}

/// An error answer. 2026-07-28 maps codes to HTTP statuses; legacy clients
/// get 200, since a legacy 404 means "session gone" to them.
fn error_reply(id: &Value, error: &RpcError, modern: bool) -> Response {
    let status =
        if modern { StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::OK) } else { StatusCode::OK };
    json_response(status, &jsonrpc::failure(id, error))
}

/// 404: the session is gone, the client must `initialize` again.
pub(super) fn unknown_session() -> Response {
    let error = RpcError::invalid_request("unknown or terminated session: send initialize to start a new one");
    json_error(StatusCode::NOT_FOUND, &error)
}

/// Notifications are accepted with 202; `notifications/cancelled` cancels a legacy call.
async fn notification(
    state: &HttpState,
    headers: &HeaderMap,
    requester: &Requester,
    method: &str,
    params: Option<&Value>,
) -> Response {
    let session = match named_session(state, headers, requester).await {
        Ok(session) => session,
        Err(SessionMiss::Unknown) => return unknown_session(),
        Err(SessionMiss::Unavailable(response)) => return response,
    };
    let tracker = session.as_deref().map(|s| &**s.in_flight());
    state.exchange.notification_in(method, params, tracker, session.as_deref());
    StatusCode::ACCEPTED.into_response()
}

/// The legacy handshake: a new session, its id in `Mcp-Session-Id`. Clustered, the
/// session is admitted fleet-wide and in Redis before the client learns its id, so any
/// replica can continue it.
async fn initialize(state: &HttpState, request: &Request, requester: &Requester) -> Response {
    match state.exchange.open_session(request, requester).await {
        Ok((id, result)) => {
            let mut response = json_response(StatusCode::OK, &jsonrpc::success(&request.id, result));
            if let Ok(value) = HeaderValue::from_str(&id) {
                response.headers_mut().insert(SESSION_HEADER, value);
            }
            response
        }
        Err(Refusal::OverQuota(over)) => over_quota(&request.id, &over),
        Err(Refusal::Busy(error)) => unavailable(&request.id, &error, state.limits.retry_after_secs),
    }
}

/// A 2026-07-28 listen stream over SSE: the acknowledgement, then notices.
fn listen_stream(state: &HttpState, listen: Listen, requester: &Requester) -> Response {
    let slot = match state.limits.open_stream(state.exchange.quotas(), requester) {
        Ok(slot) => slot,
        Err(refusal) => return *refusal,
    };
    let (ack, feed) = listen.start();
    let body = sse::feed_body(sse::event(&ack), feed);
    sse::response(sse::with_keepalive(sse::holding(slot, body)), None)
}
