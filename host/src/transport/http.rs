//! Streamable HTTP at `/mcp`: both protocol eras on one endpoint.
//!
//! A POST carries one JSON-RPC message. A request is classified into its era
//! (see `protocol::era`), answered by the router, and returned as JSON or,
//! when the client prefers it or the call streams progress, as SSE. Legacy
//! sessions add `Mcp-Session-Id`, a GET event stream and DELETE.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;

use super::guard::{self, OriginPolicy};
use super::sse::{self, CallStream};
use crate::config::HttpConfig;
use crate::protocol::era::{self, RoutingHeaders};
use crate::protocol::jsonrpc::{self, Message, Request, RpcError, SERVER_BUSY};
use crate::protocol::notify;
use crate::router::{Era, RequestContext, Router};
use crate::session::SessionStore;

/// Header carrying the legacy session id.
pub const SESSION_HEADER: &str = "mcp-session-id";

/// What every HTTP handler shares.
pub struct HttpState {
    pub router: Arc<Router>,
    pub sessions: SessionStore,
    pub origins: OriginPolicy,
    pub max_body_bytes: usize,
}

impl HttpState {
    /// State for `router` with the HTTP settings of `config`.
    pub fn new(router: Arc<Router>, config: &HttpConfig, loopback: bool) -> Self {
        Self {
            router,
            sessions: SessionStore::new(config.max_sessions),
            origins: OriginPolicy::new(&config.allowed_origins, &config.allowed_hosts, loopback),
            max_body_bytes: config.max_body_bytes,
        }
    }
}

/// The axum application: `/mcp`, `/healthz`, `/readyz`.
pub fn app(state: Arc<HttpState>) -> axum::Router {
    let mcp = axum::Router::new()
        .route("/mcp", get(get_mcp).post(post_mcp).delete(delete_mcp))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::check,
        ));
    mcp.route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn readyz(State(state): State<Arc<HttpState>>) -> Response {
    let snapshot = state.router.registry().snapshot();
    let body = serde_json::json!({
        "status": "ready",
        "plugins": snapshot.plugins().len(),
        "tools": snapshot.tools_json.len(),
        "sessions": state.sessions.len(),
    });
    json_response(StatusCode::OK, &body)
}

/// A JSON body with `status`.
fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A JSON-RPC error reply (id null) with `status`.
pub fn rpc_error_response(status: StatusCode, error: &RpcError) -> Response {
    json_response(status, &jsonrpc::failure(&Value::Null, error))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// What the client's `Accept` header allows.
struct Accepts {
    json: bool,
    sse: bool,
}

fn accepts(headers: &HeaderMap) -> Accepts {
    match header_str(headers, "accept") {
        None => Accepts {
            json: true,
            sse: false,
        },
        Some(accept) => {
            let any = accept.contains("*/*");
            Accepts {
                json: any
                    || accept.contains("application/json")
                    || accept.contains("application/*"),
                sse: accept.contains("text/event-stream"),
            }
        }
    }
}

async fn post_mcp(State(state): State<Arc<HttpState>>, headers: HeaderMap, body: Body) -> Response {
    let accept = accepts(&headers);
    if !accept.json && !accept.sse {
        let error =
            RpcError::invalid_request("Accept must include application/json or text/event-stream");
        return rpc_error_response(StatusCode::NOT_ACCEPTABLE, &error);
    }
    if let Some(content_type) = header_str(&headers, "content-type")
        && !content_type.starts_with("application/json")
    {
        let error = RpcError::invalid_request(format!(
            "Content-Type must be application/json, not {content_type:?}"
        ));
        return rpc_error_response(StatusCode::UNSUPPORTED_MEDIA_TYPE, &error);
    }
    let bytes = match axum::body::to_bytes(body, state.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let error = RpcError::invalid_request(format!(
                "the request body is larger than {} bytes",
                state.max_body_bytes
            ));
            return rpc_error_response(StatusCode::PAYLOAD_TOO_LARGE, &error);
        }
    };
    let request = match jsonrpc::parse(&bytes) {
        Ok(Message::Request(request)) => request,
        Ok(Message::Notification { .. } | Message::Response { .. }) => {
            return accept_one_way(&state, &headers);
        }
        Err(rejected) => {
            let status = StatusCode::from_u16(rejected.error.http_status())
                .unwrap_or(StatusCode::BAD_REQUEST);
            return json_response(status, &jsonrpc::failure(&rejected.id, &rejected.error));
        }
    };
    let header_version = header_str(&headers, "mcp-protocol-version");
    let session_id = header_str(&headers, SESSION_HEADER);
    let modern = era::wants_modern(request.meta(), header_version);
    let era = if modern || (session_id.is_none() && request.method != "initialize") {
        let routing = RoutingHeaders {
            protocol_version: header_version.map(str::to_owned),
            method: header_str(&headers, "mcp-method").map(str::to_owned),
            name: header_str(&headers, "mcp-name").map(str::to_owned),
        };
        match era::check_modern(&request.method, request.params_object(), Some(&routing)) {
            Ok(envelope) => Era::Modern(envelope),
            Err(error) => return error_reply(&request, &error, true),
        }
    } else if let Some(id) = session_id {
        match state.sessions.get(id) {
            Some(session) => Era::Legacy {
                version: session.version,
                client_capabilities: session.client_capabilities.clone(),
            },
            None => return unknown_session(),
        }
    } else {
        return initialize(&state, &request);
    };
    let log_level = match &era {
        Era::Modern(envelope) => envelope.log_level.clone(),
        Era::Legacy { .. } => None,
    };
    let wants_stream = accept.sse
        && (!accept.json
            || request
                .meta()
                .is_some_and(|m| m.contains_key("progressToken")));
    if wants_stream {
        return stream_reply(state, request, era, log_level);
    }
    let cx = RequestContext {
        era,
        hooks: Default::default(),
    };
    match state.router.handle(&request, &cx).await {
        Ok(result) => json_response(StatusCode::OK, &jsonrpc::success(&request.id, result)),
        Err(error) => error_reply(&request, &error, matches!(cx.era, Era::Modern(_))),
    }
}

/// An error answer. 2026-07-28 maps codes to HTTP statuses; legacy clients
/// get 200, since a legacy 404 means "session gone" to them.
fn error_reply(request: &Request, error: &RpcError, modern: bool) -> Response {
    let status = if modern {
        StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::OK)
    } else {
        StatusCode::OK
    };
    json_response(status, &jsonrpc::failure(&request.id, error))
}

fn unknown_session() -> Response {
    let error = RpcError::invalid_request(
        "unknown or terminated session: send initialize to start a new one",
    );
    rpc_error_response(StatusCode::NOT_FOUND, &error)
}

/// Notifications and client responses: accepted with 202 and no body.
fn accept_one_way(state: &HttpState, headers: &HeaderMap) -> Response {
    if let Some(id) = header_str(headers, SESSION_HEADER)
        && state.sessions.get(id).is_none()
    {
        return unknown_session();
    }
    StatusCode::ACCEPTED.into_response()
}

/// The legacy handshake: negotiate, create the session, return its id.
fn initialize(state: &HttpState, request: &Request) -> Response {
    let (version, result) = state.router.initialize(request);
    let capabilities = request
        .param("capabilities")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    match state.sessions.create(version, capabilities) {
        Ok(id) => {
            let mut response =
                json_response(StatusCode::OK, &jsonrpc::success(&request.id, result));
            if let Ok(value) = HeaderValue::from_str(&id) {
                response.headers_mut().insert(SESSION_HEADER, value);
            }
            response
        }
        Err(full) => {
            let mut response = json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &jsonrpc::failure(&request.id, &RpcError::new(SERVER_BUSY, full.to_string())),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
    }
}

/// Answers on an SSE stream: notifications first, then the response.
fn stream_reply(
    state: Arc<HttpState>,
    request: Request,
    era: Era,
    log_level: Option<String>,
) -> Response {
    let (sender, events) = mpsc::unbounded_channel::<Bytes>();
    let cancelled = Arc::new(AtomicBool::new(false));
    let sink_sender = sender.clone();
    let sink: notify::Sink = Arc::new(move |message: Value| {
        let _ = sink_sender.send(sse::event(&message));
    });
    let hooks = notify::hooks(&request, log_level.as_deref(), sink, cancelled.clone());
    // The call runs beside the response body so events can flow while it works.
    tokio::spawn(async move {
        let cx = RequestContext { era, hooks };
        let reply = match state.router.handle(&request, &cx).await {
            Ok(result) => jsonrpc::success(&request.id, result),
            Err(error) => jsonrpc::failure(&request.id, &error),
        };
        let _ = sender.send(sse::event(&reply));
    });
    sse_response(Body::from_stream(CallStream { events, cancelled }))
}

fn sse_response(body: Body) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-transform"),
    );
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// GET opens a legacy session's server-to-client event stream.
async fn get_mcp(State(state): State<Arc<HttpState>>, headers: HeaderMap) -> Response {
    let Some(id) = header_str(&headers, SESSION_HEADER) else {
        return method_not_allowed();
    };
    let Some(session) = state.sessions.get(id) else {
        return unknown_session();
    };
    if !accepts(&headers).sse {
        let error = RpcError::invalid_request("GET /mcp needs Accept: text/event-stream");
        return rpc_error_response(StatusCode::NOT_ACCEPTABLE, &error);
    }
    let messages =
        futures_util::stream::unfold(session.outbound.subscribe(), |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(message) => {
                        return Some((
                            Bytes::from(format!("event: message\ndata: {message}\n\n")),
                            receiver,
                        ));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
    // A comment line every 15 s keeps proxies from closing an idle stream.
    let keepalive = futures_util::stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_secs(15)).await;
        Some((Bytes::from_static(b": keepalive\n\n"), ()))
    });
    let stream =
        futures_util::stream::select(messages, keepalive).map(Ok::<_, std::convert::Infallible>);
    sse_response(Body::from_stream(stream))
}

/// DELETE ends a legacy session.
async fn delete_mcp(State(state): State<Arc<HttpState>>, headers: HeaderMap) -> Response {
    let Some(id) = header_str(&headers, SESSION_HEADER) else {
        return method_not_allowed();
    };
    if state.sessions.remove(id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        unknown_session()
    }
}

/// 405 for GET/DELETE outside a legacy session: 2026-07-28 is POST only.
fn method_not_allowed() -> Response {
    let error =
        RpcError::invalid_request("only POST is allowed here without a legacy Mcp-Session-Id");
    let mut response = rpc_error_response(StatusCode::METHOD_NOT_ALLOWED, &error);
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}
