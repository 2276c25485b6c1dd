//! Backpressure: the server-wide limits and the layers that enforce them.
//!
//! Every route gets a body limit (413), a request timeout (504) and a trace
//! span. The MCP routes (`/mcp`, `/ws`) also pass admission (see
//! `exchange::Admission`): the source's quotas (429 with `Retry-After` and a
//! JSON-RPC error body), a fair share of the server-wide in-flight limit
//! shared with the WebSocket transport (503 when full). A refused request
//! never touches a plugin. `/healthz`, `/readyz` and `/metrics` are not
//! admitted, so an overloaded server can still be watched.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::BoxError;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceBuilder;
use tower::timeout::TimeoutLayer;

use super::refusal::{busy, json_error, over_quota, unavailable};
use super::source::Peer;
use crate::config::HttpConfig;
use crate::exchange::{Admission, InFlightLimit, Refusal, Requester};
use crate::protocol::jsonrpc::{RpcError, SERVER_BUSY};
use crate::quota::{Held, Limit, Quotas};

/// Server-wide capacity: request slots, stream slots, and what was refused.
pub struct Limits {
    /// Requests running at once (HTTP and WebSocket share it).
    pub in_flight: Arc<InFlightLimit>,
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
            in_flight: Arc::new(InFlightLimit::new(config.max_in_flight)),
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
        self.in_flight.now()
    }

    /// Admission of one request at a time (HTTP), against `quotas` and the in-flight limit.
    pub fn admission(&self, quotas: &Arc<Quotas>) -> Admission {
        Admission {
            per_connection: None,
            global: Some(self.in_flight.clone()),
            quotas: Some(quotas.clone()),
            retry_after: Duration::from_secs(self.retry_after_secs),
        }
    }

    /// Streams and WebSocket connections open now.
    pub fn streams_now(&self) -> usize {
        self.max_streams.saturating_sub(self.streams.available_permits())
    }

    /// A slot for one more long-lived stream of `source`: within its quota
    /// (else 429) and the server's limit (else 503, counted as shed).
    pub fn open_stream(&self, quotas: &Arc<Quotas>, source: &Requester) -> Result<StreamSlot, Box<Response>> {
        let held = quotas.stream(&source.key).map_err(|over| Box::new(over_quota(&serde_json::Value::Null, &over)))?;
        let Ok(permit) = self.streams.clone().try_acquire_owned() else {
            self.shed.fetch_add(1, Ordering::Relaxed);
            let limit = format!("stream limit ({} open streams and WebSocket connections)", self.max_streams);
            return Err(Box::new(busy(&limit, self.retry_after_secs)));
        };
        Ok(StreamSlot { _source: held, _server: permit })
    }

    /// The answer to a refused request: 429 over a quota, 503 at a server limit.
    pub fn refused(&self, refusal: &Refusal) -> Response {
        match refusal {
            Refusal::OverQuota(over) => over_quota(&serde_json::Value::Null, over),
            Refusal::Busy(error) => {
                self.shed.fetch_add(1, Ordering::Relaxed);
                unavailable(&serde_json::Value::Null, error, self.retry_after_secs)
            }
        }
    }

    /// The answer for a request a tower layer gave up on.
    fn refusal(&self, error: &BoxError) -> Response {
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

/// One long-lived stream's place in its source's quota and the server's limit, given back when dropped.
pub struct StreamSlot {
    _source: Held,
    _server: OwnedSemaphorePermit,
}

/// What the admission layer needs.
pub struct Gate {
    pub limits: Arc<Limits>,
    pub admission: Admission,
}

impl Gate {
    /// Admits one request (after auth and [`identify`](super::source::identify)),
    /// holding its slots until the handler answered. Refusals come at once,
    /// except over-quota ones (429, here or from the handler): those are held
    /// for the quotas' refusal delay first, with every slot already given back,
    /// so a client that ignores `Retry-After` cannot turn refusals into a flood
    /// of their own. A fair-share refusal is load shedding, not a client over
    /// its own limit: like a 503 it comes at once.
    pub async fn admit(&self, request: Request, next: Next) -> Response {
        if let Some(ConnectInfo(Peer { over_quota: Some(over), .. })) = request.extensions().get::<ConnectInfo<Peer>>()
        {
            let mut response = over_quota(&serde_json::Value::Null, over);
            // The connection itself is over the quota: the client must open it again later.
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            return self.hold_refusal(response).await;
        }
        let source = request.extensions().get::<Requester>().cloned().unwrap_or_else(|| Requester::named("http"));
        match self.admission.admit(&source) {
            Ok(admitted) => {
                let response = next.run(request).await;
                drop(admitted);
                self.hold_refusal(response).await
            }
            Err(Refusal::OverQuota(over)) if over.limit == Limit::FairShare => {
                self.limits.refused(&Refusal::OverQuota(over))
            }
            Err(refusal) => self.hold_refusal(self.limits.refused(&refusal)).await,
        }
    }

    /// `response`, after the refusal delay when it is an over-quota answer.
    async fn hold_refusal(&self, response: Response) -> Response {
        let delay = self.admission.quotas.as_ref().map_or(Duration::ZERO, |quotas| quotas.refusal_delay());
        if response.status() == StatusCode::TOO_MANY_REQUESTS && !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        response
    }
}

/// Adds the layers every route shares (trace, timeout, body limit) to `routes`.
pub fn apply(routes: axum::Router, limits: &Arc<Limits>) -> axum::Router {
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
