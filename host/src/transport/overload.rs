//! Backpressure: the server-wide limits and the tower layers that enforce them.
//!
//! Every route gets a body limit (413), a request timeout (504) and a trace span. The MCP
//! routes (`/mcp`, `/ws`) also pass a concurrency limit shared with the
//! WebSocket transport: when all slots are taken a request is shed at once
//! (503, `Retry-After`, a JSON-RPC error body) without touching a plugin.
//! `/healthz`, `/readyz` and `/metrics` are not shed, so an overloaded
//! server can still be watched.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::BoxError;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower::timeout::TimeoutLayer;

use super::refusal::{busy, json_error};
use crate::config::HttpConfig;
use crate::protocol::jsonrpc::{RpcError, SERVER_BUSY};

/// Server-wide capacity: request slots, stream slots, and what was refused.
pub struct Limits {
    /// Requests running at once (HTTP and WebSocket share it).
    pub in_flight: Arc<Semaphore>,
    pub max_in_flight: usize,
    /// Open event streams and WebSocket connections.
    pub streams: Arc<Semaphore>,
    pub max_streams: usize,
    pub retry_after_secs: u64,
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
    /// Requests refused because the server was at a limit.
    pub shed: AtomicU64,
    /// HTTP requests that ran out of time.
    pub timeouts: AtomicU64,
}

impl Limits {
    /// The limits `config` sets.
    pub fn new(config: &HttpConfig) -> Self {
        Self {
            in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
            max_in_flight: config.max_in_flight,
            streams: Arc::new(Semaphore::new(config.max_streams)),
            max_streams: config.max_streams,
            retry_after_secs: config.retry_after_secs,
            request_timeout: Duration::from_secs(config.request_timeout_secs),
            max_body_bytes: config.max_body_bytes,
            shed: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
        }
    }

    /// Requests running now.
    pub fn in_flight_now(&self) -> usize {
        self.max_in_flight.saturating_sub(self.in_flight.available_permits())
    }

    /// Streams and WebSocket connections open now.
    pub fn streams_now(&self) -> usize {
        self.max_streams.saturating_sub(self.streams.available_permits())
    }

    /// A slot for one more long-lived stream; `None` (counted as shed) when all are taken.
    pub fn open_stream(&self) -> Option<OwnedSemaphorePermit> {
        let permit = self.streams.clone().try_acquire_owned().ok();
        if permit.is_none() {
            self.shed.fetch_add(1, Ordering::Relaxed);
        }
        permit
    }

    /// The 503 refusing a stream over the limit.
    pub fn streams_full(&self) -> Response {
        let limit = format!("stream limit ({} open streams and WebSocket connections)", self.max_streams);
        busy(&limit, self.retry_after_secs)
    }

    /// The answer for a request a tower layer gave up on.
    fn refusal(&self, error: &BoxError) -> Response {
        if error.is::<tower::load_shed::error::Overloaded>() {
            self.shed.fetch_add(1, Ordering::Relaxed);
            return busy(&format!("in-flight limit ({} requests)", self.max_in_flight), self.retry_after_secs);
        }
        if error.is::<tower::timeout::error::Elapsed>() {
            self.timeouts.fetch_add(1, Ordering::Relaxed);
            let error = RpcError::new(
                SERVER_BUSY,
                format!("the request took longer than {} s and was stopped", self.request_timeout.as_secs()),
            );
            return json_error(StatusCode::GATEWAY_TIMEOUT, &error);
        }
        tracing::error!("request failed in the service stack: {error}");
        json_error(StatusCode::INTERNAL_SERVER_ERROR, &RpcError::internal("internal server error"))
    }
}

/// Adds the shared layers to `routes`; with `shed`, also the concurrency limit.
pub fn apply(routes: axum::Router, limits: &Arc<Limits>, shed: bool) -> axum::Router {
    let routes = if shed {
        let on_error = limits.clone();
        routes.layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(move |error: BoxError| {
                    let limits = on_error.clone();
                    async move { limits.refusal(&error) }
                }))
                .layer(LoadShedLayer::new())
                .layer(GlobalConcurrencyLimitLayer::with_semaphore(limits.in_flight.clone())),
        )
    } else {
        routes
    };
    let on_error = limits.clone();
    let max_body = limits.max_body_bytes;
    routes.layer(
        ServiceBuilder::new()
            // Refusals are expected under overload: log them at debug, not as errors.
            .layer(
                tower_http::trace::TraceLayer::new_for_http()
                    .on_failure(tower_http::trace::DefaultOnFailure::new().level(tracing::Level::DEBUG)),
            )
            .layer(HandleErrorLayer::new(move |error: BoxError| {
                let limits = on_error.clone();
                async move { limits.refusal(&error) }
            }))
            .layer(TimeoutLayer::new(limits.request_timeout))
            .layer(axum::middleware::from_fn(move |request: Request, next: Next| limit_body(request, next, max_body))),
    )
}

/// Most bytes of an oversized body read and thrown away so the client sees
/// the 413 instead of a reset connection; past this the connection is closed.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// The body limit: a declared `Content-Length` over `max` is refused with 413
/// before anything is buffered; a chunked body is cut off at `max` (the
/// handlers answer that with 413 too).
async fn limit_body(request: Request, next: Next, max: usize) -> Response {
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
        return json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &RpcError::invalid_request(format!("the request body is larger than {max} bytes")),
        );
    }
    let (parts, body) = request.into_parts();
    next.run(Request::from_parts(parts, Body::new(http_body_util::Limited::new(body, max)))).await
}
