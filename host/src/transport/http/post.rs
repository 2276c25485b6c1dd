//! `POST /mcp`: one JSON-RPC message per body, handed to the exchange's driver.
//!
//! A call is answered with a JSON body, unless it streams something first
//! (progress, logs, a question for a legacy client): then the response
//! switches to SSE at that moment, so plain calls never pay for a stream.
//! Notifications and a client's answers to berth's own requests get 202.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    Accepts, HttpState, METHOD_HEADER, NAME_HEADER, PROTOCOL_VERSION_HEADER, SESSION_HEADER, accepts, header_str,
    reply, sse,
};
use crate::admission::Requester;
use crate::admission::refusal::json_error;
use crate::exchange::{HttpHeaders, Listen, Pending, Reply, Via};
use crate::protocol::era::RoutingHeaders;
use crate::protocol::headers;
use crate::protocol::jsonrpc::RpcError;
use crate::router::Sink;
use crate::session::{EventLog, Session};

pub(super) async fn post(State(state): State<Arc<HttpState>>, requester: Requester, request: Request) -> Response {
    // The request taken whole and split: axum's `HeaderMap` extractor would copy the headers.
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
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
    let http = HttpHeaders {
        routing: RoutingHeaders {
            protocol_version: header_str(&headers, &PROTOCOL_VERSION_HEADER),
            method: header_str(&headers, &METHOD_HEADER),
            name: header_str(&headers, &NAME_HEADER).and_then(headers::decode_value),
        },
        all: &headers,
        session_id: header_str(&headers, &SESSION_HEADER),
    };
    match state.exchange.receive(&bytes, Via::Http(http), &requester).await {
        Reply::Accepted => StatusCode::ACCEPTED.into_response(),
        Reply::Refuse(refused) => reply::refusal(&state, &refused),
        Reply::Run(pending) => respond(state, pending, accept).await,
        Reply::Opened { session, id, result } => reply::opened(&session.id, &id, result),
        Reply::Listen(listen) => listen_stream(&state, listen, &requester),
    }
}

/// Runs a call, answering with JSON unless it streams something first.
async fn respond(state: Arc<HttpState>, pending: Pending, accept: Accepts) -> Response {
    // Nothing can come before the answer, and the client takes JSON: no channel or sink,
    // the call runs here and its answer is the body.
    if accept.json && !pending.may_stream() {
        let ran = Box::pin(pending.run(None, CancellationToken::new())).await;
        return reply::answer(&state, &ran.answer);
    }
    let modern = pending.is_modern();
    let session = pending.session().cloned();
    let (sender, mut events) = mpsc::unbounded_channel::<Value>();
    let sink: Option<Sink> = accept.sse.then(|| {
        let sender = sender.clone();
        Arc::new(move |message: Value| {
            let _ = sender.send(message);
        }) as Sink
    });
    drop(sender);
    let cancel = CancellationToken::new();
    let mut work = Box::pin(pending.run(sink, cancel.clone()));
    // A client that takes only SSE gets its stream at once; others get JSON
    // unless the call streams something before it finishes.
    let first = if !accept.json {
        None
    } else {
        Some(tokio::select! {
            biased;
            ran = &mut work => {
                if events.is_empty() {
                    // A POST is answered, even for a call the client cancelled meanwhile.
                    return reply::answer(&state, &ran.answer);
                }
                // Events were produced, but the call finished first: stream them all.
                let log = open_log(session.as_deref());
                while let Ok(message) = events.try_recv() {
                    log.push(&message);
                }
                if let Some(answer) = ran.streamed() {
                    log.push_text(answer.to_text());
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
    tokio::spawn(async move {
        let ran = loop {
            tokio::select! {
                ran = &mut work => break ran,
                Some(message) = events.recv() => writer.push(&message),
            }
        };
        while let Ok(message) = events.try_recv() {
            writer.push(&message);
        }
        if let Some(answer) = ran.streamed() {
            writer.push_text(answer.to_text());
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

/// A 2026-07-28 listen stream over SSE: the acknowledgement, then notices.
fn listen_stream(state: &HttpState, listen: Listen, requester: &Requester) -> Response {
    let slot = match state.limits.open_stream(state.exchange.quotas(), requester) {
        Ok(slot) => slot,
        Err(refusal) => return *refusal,
    };
    let (ack, feed) = listen.start();
    let body = sse::until(sse::feed_body(sse::event(&ack), feed), state.stopping.stop.clone());
    sse::response(sse::with_keepalive(sse::holding(slot, body)), None)
}
