//! The one middleware every HTTP request passes, put around the whole router: the
//! request timeout (504), the body limit (413), and for the MCP routes the [`Door`]
//! (Origin/Host guard, auth, the source's identification, admission).
//!
//! Around the router, not on each route: axum's `Router::layer` wraps every route in a
//! boxed service that each request clones, with every layer beneath it, and each of its
//! middleware boxes a future of its own; here a request pays for one service and one
//! box (BENCHMARKS.md, "Fewer copies and layers on the way to a call"). No tower-http
//! trace layer either: its debug-level span and failure log read the clock three times a
//! request, and berth's own spans (`telemetry`) already trace every MCP request.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::Response;
use tower::Service;

use super::door::Door;
use super::gate::route;
use super::overload::Limits;
use super::refusal::json_error;
use crate::protocol::jsonrpc::RpcError;

/// The paths behind the door: the MCP endpoint and the WebSocket upgrade. The probes,
/// `/metrics` (behind its own auth check) and the OAuth metadata are not admitted, so an
/// overloaded server can still be watched.
const DOOR_PATHS: [&str; 2] = ["/mcp", "/ws"];

/// What the front middleware checks a request against.
pub(crate) struct Front {
    pub(crate) limits: Arc<Limits>,
    /// The checks of the MCP routes.
    pub(crate) door: Door,
}

/// `router` behind the front middleware: the service the server runs.
pub(crate) fn wrap(
    router: axum::Router,
    front: Arc<Front>,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone + Send + Sync + 'static {
    FrontService { front, routes: router }
}

/// The front middleware as a service around the router. Not `axum::middleware::from_fn`,
/// which boxes the inner service anew for every request on top of the future.
#[derive(Clone)]
struct FrontService {
    front: Arc<Front>,
    routes: axum::Router,
}

impl Service<Request> for FrontService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // A router is always ready; admission happens per request, in `enter`.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let (front, routes) = (self.front.clone(), self.routes.clone());
        Box::pin(async move { Ok(front.enter(request, routes).await) })
    }
}

impl Front {
    /// The whole request (its body read, the door's checks, the handler) within the request
    /// timeout.
    async fn enter(&self, request: Request, routes: axum::Router) -> Response {
        match tokio::time::timeout(self.limits.request_timeout, self.admit(request, routes)).await {
            Ok(response) => response,
            Err(_) => self.limits.timed_out(),
        }
    }

    /// The body limit, then the door for the MCP paths, then the route.
    async fn admit(&self, request: Request, routes: axum::Router) -> Response {
        let request = match limit_body(request, self.limits.max_body_bytes).await {
            Ok(request) => request,
            Err(refused) => return refused,
        };
        if DOOR_PATHS.contains(&request.uri().path()) {
            self.door.enter(request, routes).await
        } else {
            route(routes, request).await
        }
    }
}

/// Most bytes of an oversized body read and thrown away so the client sees
/// the 413 instead of a reset connection; past this the connection is closed.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// The body limit: a declared `Content-Length` over `max` is refused with 413
/// before anything is buffered; a chunked body is cut off at `max` (the
/// handlers answer that with 413 too).
async fn limit_body(request: Request, max: usize) -> Result<Request, Response> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > max as u64) {
        // Read (and drop) what the client is still sending, so it gets to read our answer.
        let mut body = request.into_body().into_data_stream();
        let mut drained = 0usize;
        while drained <= DRAIN_LIMIT {
            match futures_util::StreamExt::next(&mut body).await {
                Some(Ok(chunk)) => drained += chunk.len(),
                _ => break,
            }
        }
        return Err(json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &RpcError::invalid_request(format!("the request body is larger than {max} bytes")),
        ));
    }
    let (parts, body) = request.into_parts();
    Ok(Request::from_parts(parts, Body::new(http_body_util::Limited::new(body, max))))
}
