//! Streamable HTTP at `/mcp`: both protocol eras on one endpoint.
//!
//! A POST carries one JSON-RPC message. A request is classified into its era
//! (see `protocol::era`) and answered by the router. The answer is a JSON body
//! unless the call streams something first (progress, logs, a question for
//! a legacy client): then the response switches to SSE at that moment, so
//! plain calls never pay for a stream. Legacy sessions add `Mcp-Session-Id`,
//! a GET event stream (with `Last-Event-ID` resumption) and DELETE;
//! 2026-07-28 adds `subscriptions/listen` streams.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use super::auth::{self, Auth};
use super::guard::{self, OriginPolicy};
use super::overload::{self, Limits, json_error, json_response};
use crate::config::{Config, WsConfig};
use crate::notices::{Notice, SubscriptionFilter};
use crate::protocol::era::{self, RoutingHeaders};
use crate::protocol::events::{CancelOnDrop, EventLog, RETRY_MS};
use crate::protocol::headers;
use crate::protocol::jsonrpc::{self, Message, Request, RpcError, SERVER_BUSY};
use crate::protocol::notify::Sink;
use crate::router::{Era, RequestContext, Router};
use crate::session::{Session, SessionStore};

/// Header carrying the legacy session id.
pub const SESSION_HEADER: &str = "mcp-session-id";
/// How often an idle event stream gets a keep-alive comment.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// What every HTTP handler shares.
pub struct HttpState {
    pub router: Arc<Router>,
    pub sessions: SessionStore,
    pub origins: OriginPolicy,
    pub max_body_bytes: usize,
    /// Server-wide request and stream slots.
    pub limits: Arc<Limits>,
    /// Who may connect; `None` lets everyone in (loopback only, unless overridden).
    pub auth: Option<Auth>,
    /// WebSocket settings.
    pub ws: WsConfig,
    /// WebSocket connections open now.
    pub ws_connections: AtomicUsize,
    /// Set to true when the server begins to shut down.
    pub stopping: watch::Sender<bool>,
    pub shutdown_grace_secs: u64,
}

impl HttpState {
    /// State for `router` with the settings of `config`.
    pub fn new(router: Arc<Router>, config: &Config, loopback: bool, auth: Option<Auth>) -> Self {
        let http = &config.http;
        Self {
            router,
            sessions: SessionStore::new(http.max_sessions, Duration::from_secs(http.session_idle_secs)),
            origins: OriginPolicy::new(&http.allowed_origins, &http.allowed_hosts, loopback),
            max_body_bytes: http.max_body_bytes,
            limits: Arc::new(Limits::new(http)),
            auth,
            ws: config.ws.clone(),
            ws_connections: AtomicUsize::new(0),
            stopping: watch::channel(false).0,
            shutdown_grace_secs: http.shutdown_grace_secs,
        }
    }
}

/// The axum application: `/mcp` and `/ws` behind the Origin/Host guard, auth
/// and the overload layers; `/healthz`, `/readyz`, `/metrics` and the OAuth
/// metadata beside them.
pub fn app(state: Arc<HttpState>) -> axum::Router {
    let mcp = axum::Router::new()
        .route("/mcp", get(get_mcp).post(post_mcp).delete(delete_mcp))
        .route("/ws", get(super::ws::upgrade))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::require))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::check))
        .with_state(state.clone());
    let mcp = overload::apply(mcp, &state.limits, true);
    let operator = axum::Router::new()
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::require))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/.well-known/oauth-protected-resource", get(resource_metadata))
        .route("/.well-known/oauth-protected-resource/{*path}", get(resource_metadata))
        .with_state(state.clone());
    let operator = overload::apply(operator, &state.limits, false);
    mcp.merge(operator)
}

/// RFC 9728 protected resource metadata (404 unless OAuth is configured).
async fn resource_metadata(State(state): State<Arc<HttpState>>) -> Response {
    match state.auth.as_ref().and_then(Auth::resource_metadata) {
        Some(metadata) => json_response(StatusCode::OK, &metadata),
        None => json_error(StatusCode::NOT_FOUND, &RpcError::invalid_request("OAuth is not configured")),
    }
}

/// Prometheus text: plugin, tool and server metrics (docs/configuration.md lists them).
async fn metrics(State(state): State<Arc<HttpState>>) -> Response {
    use crate::metrics::write_scalar;
    use std::sync::atomic::Ordering::Relaxed;
    let snapshot = state.router.registry().snapshot();
    let mut text = crate::metrics::render(snapshot.plugins());
    let limits = &state.limits;
    let ws = state.ws_connections.load(Relaxed);
    let scalars = [
        ("berth_sessions", "gauge", "Live legacy (2025-era) sessions.", state.sessions.len() as u64),
        (
            "berth_in_flight_requests",
            "gauge",
            "Requests running now (HTTP and WebSocket).",
            limits.in_flight_now() as u64,
        ),
        ("berth_shed_total", "counter", "Requests and streams refused at a server limit.", limits.shed.load(Relaxed)),
        (
            "berth_timeouts_total",
            "counter",
            "HTTP requests stopped at the request timeout.",
            limits.timeouts.load(Relaxed),
        ),
        ("berth_websocket_connections", "gauge", "Open WebSocket connections.", ws as u64),
        ("berth_event_streams", "gauge", "Open SSE event streams.", limits.streams_now().saturating_sub(ws) as u64),
        (
            "berth_resident_memory_bytes",
            "gauge",
            "Resident memory of the berth process.",
            crate::metrics::resident_bytes(),
        ),
    ];
    for (name, kind, help, value) in scalars {
        write_scalar(&mut text, name, kind, help, value);
    }
    let mut response = (StatusCode::OK, text).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

async fn readyz(State(state): State<Arc<HttpState>>) -> Response {
    let snapshot = state.router.registry().snapshot();
    let body = json!({
        "status": "ready",
        "plugins": snapshot.plugins().len(),
        "tools": snapshot.tools_json.len(),
        "sessions": state.sessions.len(),
    });
    json_response(StatusCode::OK, &body)
}

/// A header's value with surrounding whitespace removed.
fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// What the client's `Accept` header allows.
#[derive(Clone, Copy)]
struct Accepts {
    json: bool,
    sse: bool,
}

fn accepts(headers: &HeaderMap) -> Accepts {
    match header_str(headers, "accept") {
        None => Accepts { json: true, sse: false },
        Some(accept) => {
            let any = accept.contains("*/*");
            Accepts {
                json: any || accept.contains("application/json") || accept.contains("application/*"),
                sse: accept.contains("text/event-stream"),
            }
        }
    }
}

async fn post_mcp(State(state): State<Arc<HttpState>>, headers: HeaderMap, body: Body) -> Response {
    let accept = accepts(&headers);
    if !accept.json && !accept.sse {
        let error = RpcError::invalid_request("Accept must include application/json or text/event-stream");
        return json_error(StatusCode::NOT_ACCEPTABLE, &error);
    }
    if let Some(content_type) = header_str(&headers, "content-type")
        && !content_type.starts_with("application/json")
    {
        let error = RpcError::invalid_request(format!("Content-Type must be application/json, not {content_type:?}"));
        return json_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, &error);
    }
    let bytes = match axum::body::to_bytes(body, state.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let error =
                RpcError::invalid_request(format!("the request body is larger than {} bytes", state.max_body_bytes));
            return json_error(StatusCode::PAYLOAD_TOO_LARGE, &error);
        }
    };
    match jsonrpc::parse(&bytes) {
        Ok(Message::Request(request)) => handle_request(state, &headers, accept, request).await,
        Ok(Message::Notification { method, params }) => notification(&state, &headers, &method, params.as_ref()),
        Ok(Message::Response { id, answer }) => client_answer(&state, &headers, &id, answer),
        Err(rejected) => {
            let status = StatusCode::from_u16(rejected.error.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            json_response(status, &jsonrpc::failure(&rejected.id, &rejected.error))
        }
    }
}

/// A request named a session that does not exist (answered with 404).
struct UnknownSession;

/// The legacy session a request names: `Ok(None)` when it names none.
fn named_session(state: &HttpState, headers: &HeaderMap) -> Result<Option<Arc<Session>>, UnknownSession> {
    match header_str(headers, SESSION_HEADER) {
        None => Ok(None),
        Some(id) => state.sessions.get(id).map(Some).ok_or(UnknownSession),
    }
}

async fn handle_request(state: Arc<HttpState>, headers: &HeaderMap, accept: Accepts, request: Request) -> Response {
    let header_version = header_str(headers, "mcp-protocol-version");
    let session_id = header_str(headers, SESSION_HEADER);
    let modern = era::wants_modern(request.meta(), header_version);
    let era = if modern || (session_id.is_none() && request.method != "initialize") {
        match check_modern(&state, headers, &request) {
            Ok(envelope) => Era::Modern(envelope),
            Err(error) => return error_reply(&request, &error, true),
        }
    } else {
        match named_session(&state, headers) {
            Ok(Some(session)) => Era::Legacy(session),
            Ok(None) => return initialize(&state, &request),
            Err(UnknownSession) => return unknown_session(),
        }
    };
    if let Era::Modern(_) = &era
        && request.method == "subscriptions/listen"
    {
        return listen(&state, &request);
    }
    respond(state, request, era, accept).await
}

/// The 2026-07-28 ladder plus the `Mcp-Param-*` checks of `tools/call`.
fn check_modern(state: &HttpState, headers: &HeaderMap, request: &Request) -> Result<era::ModernEnvelope, RpcError> {
    let routing = RoutingHeaders {
        protocol_version: header_str(headers, "mcp-protocol-version").map(str::to_owned),
        method: header_str(headers, "mcp-method").map(str::to_owned),
        name: header_str(headers, "mcp-name").and_then(headers::decode_value),
    };
    let envelope = era::check_modern(&request.method, request.params_object(), Some(&routing))?;
    if request.method == "tools/call"
        && let Some(name) = request.param("name").and_then(Value::as_str)
    {
        let snapshot = state.router.registry().snapshot();
        let params = snapshot.header_params(name);
        if !params.is_empty() {
            headers::validate(params, request.param("arguments"), |name| {
                headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect()
            })?;
        }
    }
    Ok(envelope)
}

/// Runs a request, answering with JSON unless it streams something first.
async fn respond(state: Arc<HttpState>, request: Request, era: Era, accept: Accepts) -> Response {
    let modern = matches!(era, Era::Modern(_));
    let session = match &era {
        Era::Legacy(session) => Some(session.clone()),
        Era::Modern(_) => None,
    };
    let (sender, mut events) = mpsc::unbounded_channel::<Value>();
    let sink: Option<Sink> = accept.sse.then(|| {
        let sender = sender.clone();
        Arc::new(move |message: Value| {
            let _ = sender.send(message);
        }) as Sink
    });
    drop(sender);
    let cancelled = Arc::new(AtomicBool::new(false));
    let cx = RequestContext::new(&request, era, sink, cancelled.clone());
    if let Some(session) = &session {
        session.track(&request.id, cancelled.clone());
    }
    let router = state.router.clone();
    let request = Arc::new(request);
    let mut work = Box::pin({
        let request = request.clone();
        async move { router.handle(&request, &cx).await }
    });
    // A client that takes only SSE gets its stream at once; others get JSON
    // unless the call streams something before it finishes.
    let first = if !accept.json {
        None
    } else {
        Some(tokio::select! {
        biased;
        outcome = &mut work => {
            if let Some(session) = &session {
                session.untrack(&request.id);
            }
            if events.is_empty() {
                return match outcome {
                    Ok(result) => json_response(StatusCode::OK, &jsonrpc::success(&request.id, result)),
                    Err(error) => error_reply(&request, &error, modern),
                };
            }
            // Events were produced, but the call finished first: stream them all.
            let log = open_log(session.as_deref());
            while let Ok(message) = events.try_recv() {
                log.push(&message);
            }
            if !cancelled.load(std::sync::atomic::Ordering::Relaxed) {
                log.push(&reply(&request, outcome));
            }
            log.finish();
            return sse_response(log.reader(None), None);
        }
        Some(first) = events.recv() => first,
        })
    };
    let log = open_log(session.as_deref());
    if let Some(first) = &first {
        log.push(first);
    }
    let writer = log.clone();
    let stopped = cancelled.clone();
    tokio::spawn(async move {
        let outcome = loop {
            tokio::select! {
                outcome = &mut work => break outcome,
                Some(message) = events.recv() => writer.push(&message),
            }
        };
        while let Ok(message) = events.try_recv() {
            writer.push(&message);
        }
        // A cancelled request gets no response, as MCP asks.
        if !stopped.load(std::sync::atomic::Ordering::Relaxed) {
            writer.push(&reply(&request, outcome));
        }
        writer.finish();
        if let Some(session) = session {
            session.untrack(&request.id);
        }
    });
    // 2026-07-28 cancels by closing the stream; a 2025 client that drops the
    // connection may resume with Last-Event-ID, so its call keeps running.
    sse_response(log.reader(None), modern.then_some(cancelled))
}

fn open_log(session: Option<&Session>) -> Arc<EventLog> {
    match session {
        Some(session) => session.open_stream(),
        None => Arc::new(EventLog::new("r".to_owned())),
    }
}

fn reply(request: &Request, outcome: Result<Value, RpcError>) -> Value {
    match outcome {
        Ok(result) => jsonrpc::success(&request.id, result),
        Err(error) => jsonrpc::failure(&request.id, &error),
    }
}

/// An error answer. 2026-07-28 maps codes to HTTP statuses; legacy clients
/// get 200, since a legacy 404 means "session gone" to them.
fn error_reply(request: &Request, error: &RpcError, modern: bool) -> Response {
    let status =
        if modern { StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::OK) } else { StatusCode::OK };
    json_response(status, &jsonrpc::failure(&request.id, error))
}

fn unknown_session() -> Response {
    let error = RpcError::invalid_request("unknown or terminated session: send initialize to start a new one");
    json_error(StatusCode::NOT_FOUND, &error)
}

/// Notifications are accepted with 202; `notifications/cancelled` cancels a legacy call.
fn notification(state: &HttpState, headers: &HeaderMap, method: &str, params: Option<&Value>) -> Response {
    let Ok(session) = named_session(state, headers) else {
        return unknown_session();
    };
    if method == "notifications/cancelled"
        && let (Some(session), Some(id)) = (session, params.and_then(|p| p.get("requestId")))
    {
        session.cancel(id);
    }
    StatusCode::ACCEPTED.into_response()
}

/// A client's answer to a request berth sent it on a legacy stream.
fn client_answer(state: &HttpState, headers: &HeaderMap, id: &Value, answer: Result<Value, RpcError>) -> Response {
    match named_session(state, headers) {
        Ok(Some(session)) => {
            if !session.answer(id, answer) {
                tracing::debug!("ignoring a client answer to unknown or expired request {id}");
            }
            StatusCode::ACCEPTED.into_response()
        }
        Ok(None) => json_error(
            StatusCode::BAD_REQUEST,
            &RpcError::invalid_request("a response needs the Mcp-Session-Id of the session that asked"),
        ),
        Err(UnknownSession) => unknown_session(),
    }
}

/// The legacy handshake: negotiate, create the session, return its id.
fn initialize(state: &HttpState, request: &Request) -> Response {
    let (version, result) = state.router.initialize(request);
    let capabilities = request.param("capabilities").cloned().unwrap_or_else(|| json!({}));
    match state.sessions.insert(Session::new(version, capabilities)) {
        Ok(id) => {
            let mut response = json_response(StatusCode::OK, &jsonrpc::success(&request.id, result));
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
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
    }
}

/// 2026-07-28 `subscriptions/listen`: an acknowledgement, then the notices the
/// filter asks for, each tagged with the subscription id (the request's id).
fn listen(state: &HttpState, request: &Request) -> Response {
    let filter = match SubscriptionFilter::parse(request.param("notifications")) {
        Ok(filter) => filter,
        Err(error) => return error_reply(request, &error, true),
    };
    let Some(permit) = state.limits.open_stream() else {
        return state.limits.streams_full();
    };
    let meta = json!({ "io.modelcontextprotocol/subscriptionId": request.id });
    let ack = jsonrpc::notification(
        "notifications/subscriptions/acknowledged",
        json!({ "notifications": filter.to_json(), "_meta": meta }),
    );
    let notices =
        notice_stream(state.router.notices(), move |notice| filter.wants(notice).then(|| notice.message(Some(&meta))));
    let body = futures_util::stream::once(async move { Ok(sse_message(&ack)) }).chain(notices);
    sse_response(with_keepalive(holding(permit, Box::pin(body))), None)
}

/// `body`, keeping `permit` (a stream slot) until the stream is dropped.
fn holding(
    permit: tokio::sync::OwnedSemaphorePermit,
    body: BoxStream<'static, Result<Bytes, Infallible>>,
) -> BoxStream<'static, Result<Bytes, Infallible>> {
    Box::pin(body.map(move |chunk| {
        let _slot = &permit;
        chunk
    }))
}

fn sse_message(message: &Value) -> Bytes {
    Bytes::from(format!("event: message\ndata: {message}\n\n"))
}

/// Notices turned into SSE events by `select`, which drops the unwanted ones.
fn notice_stream(
    receiver: tokio::sync::broadcast::Receiver<Notice>,
    select: impl Fn(&Notice) -> Option<Value> + Send + 'static,
) -> BoxStream<'static, Result<Bytes, Infallible>> {
    Box::pin(futures_util::stream::unfold((receiver, select), |(mut receiver, select)| async move {
        loop {
            match receiver.recv().await {
                Ok(notice) => {
                    if let Some(message) = select(&notice) {
                        return Some((Ok(sse_message(&message)), (receiver, select)));
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    // Disconnect the slow consumer rather than buffer for it.
                    tracing::warn!("closing a slow event stream that missed {missed} notices");
                    return None;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    }))
}

/// `body` with a comment line every [`KEEPALIVE`] so proxies keep it open.
fn with_keepalive(
    body: BoxStream<'static, Result<Bytes, Infallible>>,
) -> BoxStream<'static, Result<Bytes, Infallible>> {
    let keepalive = futures_util::stream::unfold((), |()| async {
        tokio::time::sleep(KEEPALIVE).await;
        Some((Ok(Bytes::from_static(b": keepalive\n\n")), ()))
    });
    // End with the body, not with the endless keep-alive.
    let body = body.map(Some).chain(futures_util::stream::once(async { None }));
    let merged = futures_util::stream::select(body, keepalive.map(Some));
    Box::pin(merged.take_while(|item| std::future::ready(item.is_some())).filter_map(std::future::ready))
}

fn sse_response(body: BoxStream<'static, Result<Bytes, Infallible>>, cancelled: Option<Arc<AtomicBool>>) -> Response {
    let mut response = (StatusCode::OK, Body::from_stream(CancelOnDrop { body, cancelled })).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-transform"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// GET opens a legacy session's event stream, or resumes a POST stream after `Last-Event-ID`.
async fn get_mcp(State(state): State<Arc<HttpState>>, headers: HeaderMap) -> Response {
    let session = match named_session(&state, &headers) {
        Ok(Some(session)) => session,
        Ok(None) => return method_not_allowed(),
        Err(UnknownSession) => return unknown_session(),
    };
    if !accepts(&headers).sse {
        let error = RpcError::invalid_request("GET /mcp needs Accept: text/event-stream");
        return json_error(StatusCode::NOT_ACCEPTABLE, &error);
    }
    if let Some(last) = header_str(&headers, "last-event-id")
        && let Some(log) = session.stream_for(last)
        && let Some(seq) = log.sequence_of(last)
    {
        return sse_response(with_keepalive(log.reader(Some(seq))), None);
    }
    let Some(permit) = state.limits.open_stream() else {
        return state.limits.streams_full();
    };
    let priming = Bytes::from(format!("retry: {RETRY_MS}\ndata: \n\n"));
    let watcher = session.clone();
    let notices = notice_stream(state.router.notices(), move |notice| match notice {
        Notice::ResourceUpdated(uri) if !watcher.is_subscribed(uri) => None,
        _ => Some(notice.message(None)),
    });
    let body = futures_util::stream::once(async move { Ok(priming) }).chain(notices);
    sse_response(with_keepalive(holding(permit, Box::pin(body))), None)
}

/// DELETE ends a legacy session.
async fn delete_mcp(State(state): State<Arc<HttpState>>, headers: HeaderMap) -> Response {
    let Some(id) = header_str(&headers, SESSION_HEADER) else {
        return method_not_allowed();
    };
    if state.sessions.remove(id) { StatusCode::NO_CONTENT.into_response() } else { unknown_session() }
}

/// 405 for GET/DELETE outside a legacy session: 2026-07-28 is POST only.
fn method_not_allowed() -> Response {
    let error = RpcError::invalid_request("only POST is allowed here without a legacy Mcp-Session-Id");
    let mut response = json_error(StatusCode::METHOD_NOT_ALLOWED, &error);
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}
