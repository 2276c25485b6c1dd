//! HTTP behaviour that needs no plugin, tested in process: the app exactly as
//! the server assembles it (`http_app`: routes, layers, guards), driven with
//! `tower::ServiceExt::oneshot` over an exchange with an empty plugins
//! folder. Everything that needs wasm, sockets or a real client is in
//! `host/tests/`.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::config::Config;
use crate::protocol::era::MODERN_VERSION;

/// The app over no plugins, with `adjust` applied to the default config.
/// The service as the server runs it.
trait App:
    tower::Service<Request<Body>, Response = axum::response::Response, Error = Infallible, Future: Send> + Clone
{
}
impl<S> App for S where
    S: tower::Service<Request<Body>, Response = axum::response::Response, Error = Infallible, Future: Send> + Clone
{
}

async fn app(adjust: impl FnOnce(&mut Config)) -> (impl App, tempfile::TempDir) {
    let plugins = tempfile::tempdir().expect("plugins dir");
    let mut config = Config { plugins: crate::config::PluginsConfig::in_dir(plugins.path()), ..Config::default() };
    config.pool.instances = 4;
    adjust(&mut config);
    let exchange = super::build(&config, false, false).await.expect("an empty server builds");
    let sources = Arc::new(crate::admission::source::SourcePolicy::default());
    let (app, _ws) = super::http_app(exchange, &config, true, sources, crate::transport::http::Stopping::default())
        .await
        .expect("app");
    (app, plugins)
}

/// A POST /mcp with `body` and the headers a well-behaved client sends, plus `extra`.
fn post(body: &Value, extra: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::post("/mcp")
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, text/event-stream");
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.body(Body::from(body.to_string())).expect("request")
}

/// A 2026-07-28 request of `method` with its envelope and matching headers.
fn modern(method: &str, params: Value) -> Request<Body> {
    let mut params = params;
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    post(&body, &[("mcp-protocol-version", MODERN_VERSION), ("mcp-method", method)])
}

async fn send(app: &impl App, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = app.clone().oneshot(request).await.expect("the service answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, headers, body)
}

#[tokio::test]
async fn operator_endpoints_answer() {
    let (app, _plugins) = app(|_| {}).await;
    let get = |uri: &str| Request::get(uri).header(header::HOST, "127.0.0.1").body(Body::empty()).expect("request");
    let (status, _, body) = send(&app, get("/healthz")).await;
    assert_eq!((status, body), (StatusCode::OK, Value::String("ok\n".into())));
    let (status, _, body) = send(&app, get("/readyz")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "status": "ready", "plugins": 0, "tools": 0, "sessions": 0 }));
    let (status, headers, body) = send(&app, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/plain; version=0.0.4; charset=utf-8");
    let text = body.as_str().expect("text");
    assert!(text.contains("\nberth_sessions 0\n") && text.contains("berth_websocket_connections 0"), "{text}");
    let (status, _, body) = send(&app, get("/.well-known/oauth-protected-resource")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no OAuth configured: {body}");
}

#[tokio::test]
async fn a_modern_list_is_decorated() {
    let (app, _plugins) = app(|_| {}).await;
    let (status, _, body) = send(&app, modern("tools/list", json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let result = &body["result"];
    assert_eq!(result["tools"], json!([]));
    assert_eq!(result["resultType"], "complete");
    assert_eq!(result["ttlMs"], 0);
    assert_eq!(result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "berth");
    let (status, _, body) = send(&app, modern("server/discover", json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"]["supportedVersions"][0], MODERN_VERSION);
}

#[tokio::test]
async fn modern_requests_are_checked_against_their_headers() {
    let (app, _plugins) = app(|_| {}).await;
    let mut mismatched = modern("tools/list", json!({}));
    mismatched.headers_mut().insert("mcp-method", "prompts/list".parse().expect("value"));
    let (status, _, body) = send(&app, mismatched).await;
    assert_eq!((status, body["error"]["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(-32020)));

    let old = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": { "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2099-01-01",
        "io.modelcontextprotocol/clientCapabilities": {} } } });
    let (status, _, body) =
        send(&app, post(&old, &[("mcp-protocol-version", "2099-01-01"), ("mcp-method", "tools/list")])).await;
    assert_eq!((status, body["error"]["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(-32022)));
    assert_eq!(body["error"]["data"]["supported"][0], MODERN_VERSION);

    let bare = json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/list" });
    let (status, _, body) = send(&app, post(&bare, &[])).await;
    assert_eq!((status, body["error"]["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(-32602)), "{body}");
    assert_eq!(body["id"], 3);

    let mut call = modern("tools/call", json!({ "name": "nope", "arguments": {} }));
    call.headers_mut().insert("mcp-name", "nope".parse().expect("value"));
    let (status, _, body) = send(&app, call).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("unknown tool: nope")), "{body}");
}

#[tokio::test]
async fn a_legacy_session_lives_until_deleted() {
    let (app, _plugins) = app(|_| {}).await;
    let initialize = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } } });
    let (status, headers, body) = send(&app, post(&initialize, &[])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"]["protocolVersion"], "2025-06-18");
    let session = headers["mcp-session-id"].to_str().expect("ascii").to_owned();
    assert_eq!(session.len(), 32, "128 random bits in hex");

    let ping = json!({ "jsonrpc": "2.0", "id": 2, "method": "ping" });
    let in_session = [("mcp-session-id", session.as_str()), ("mcp-protocol-version", "2025-06-18")];
    let (status, _, body) = send(&app, post(&ping, &in_session)).await;
    assert_eq!((status, &body["result"]), (StatusCode::OK, &json!({})));
    let again = json!({ "jsonrpc": "2.0", "id": 3, "method": "initialize", "params": {} });
    let (status, _, body) = send(&app, post(&again, &in_session)).await;
    assert_eq!((status, body["error"]["code"].as_i64()), (StatusCode::OK, Some(-32600)), "legacy errors are 200");

    let notification = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let (status, _, _) = send(&app, post(&notification, &in_session)).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    let delete = |id: &str| {
        Request::delete("/mcp")
            .header(header::HOST, "localhost")
            .header("mcp-session-id", id)
            .body(Body::empty())
            .expect("request")
    };
    assert_eq!(send(&app, delete(&session)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(send(&app, delete(&session)).await.0, StatusCode::NOT_FOUND);
    let (status, _, body) = send(&app, post(&ping, &in_session)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a deleted session is gone: {body}");
}

#[tokio::test]
async fn transport_refusals_have_their_statuses() {
    let (app, _plugins) = app(|config| config.http.max_body_bytes = 1024).await;
    let ping = json!({ "jsonrpc": "2.0", "id": 1, "method": "ping" });

    let mut html = post(&ping, &[]);
    html.headers_mut().insert(header::ACCEPT, "text/html".parse().expect("value"));
    assert_eq!(send(&app, html).await.0, StatusCode::NOT_ACCEPTABLE);

    let mut text = post(&ping, &[]);
    text.headers_mut().insert(header::CONTENT_TYPE, "text/plain".parse().expect("value"));
    assert_eq!(send(&app, text).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let big = json!({ "jsonrpc": "2.0", "id": 1, "method": "ping", "params": { "pad": "x".repeat(2048) } });
    assert_eq!(send(&app, post(&big, &[])).await.0, StatusCode::PAYLOAD_TOO_LARGE);

    let mut broken = post(&ping, &[]);
    *broken.body_mut() = Body::from("{\"jsonrpc\":");
    let (status, _, body) = send(&app, broken).await;
    assert_eq!((status, body["error"]["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(-32700)));

    let (status, _, body) = send(&app, post(&json!([ping]), &[])).await;
    assert_eq!((status, body["error"]["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(-32600)));

    let evil = post(&ping, &[("origin", "https://evil.example")]);
    assert_eq!(send(&app, evil).await.0, StatusCode::FORBIDDEN);
    let mut rebound = post(&ping, &[]);
    rebound.headers_mut().insert(header::HOST, "evil.example:8080".parse().expect("value"));
    assert_eq!(send(&app, rebound).await.0, StatusCode::FORBIDDEN);

    let unknown = post(&ping, &[("mcp-session-id", "0123")]);
    assert_eq!(send(&app, unknown).await.0, StatusCode::NOT_FOUND);
    let answer = json!({ "jsonrpc": "2.0", "id": "berth-1", "result": {} });
    assert_eq!(send(&app, post(&answer, &[])).await.0, StatusCode::BAD_REQUEST, "an answer needs its session");

    let get = Request::get("/mcp").header(header::HOST, "localhost").body(Body::empty()).expect("request");
    let (status, headers, _) = send(&app, get).await;
    assert_eq!(
        (status, &headers[header::ALLOW]),
        (StatusCode::METHOD_NOT_ALLOWED, &"POST".parse::<header::HeaderValue>().expect("value"))
    );
}

#[tokio::test]
async fn bearer_tokens_guard_mcp_and_operator_routes() {
    let (app, _plugins) = app(|config| config.auth.tokens = vec!["s3cret".into()]).await;
    let (status, headers, _) = send(&app, modern("tools/list", json!({}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers[header::WWW_AUTHENTICATE].to_str().is_ok_and(|v| v.starts_with("Bearer")));
    let (status, _, _) = send(&app, post(&json!({}), &[("authorization", "Bearer wrong")])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let mut allowed = modern("tools/list", json!({}));
    allowed.headers_mut().insert(header::AUTHORIZATION, "Bearer s3cret".parse().expect("value"));
    assert_eq!(send(&app, allowed).await.0, StatusCode::OK);
    let metrics = Request::get("/metrics").header(header::HOST, "localhost").body(Body::empty()).expect("request");
    assert_eq!(send(&app, metrics).await.0, StatusCode::UNAUTHORIZED);
    let health = Request::get("/healthz").header(header::HOST, "localhost").body(Body::empty()).expect("request");
    assert_eq!(send(&app, health).await.0, StatusCode::OK, "health stays open for probes");
}
