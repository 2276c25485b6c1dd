//! The tower layers every HTTP route gets: a trace span, a request timeout
//! (504) and a body limit (413), each failure mapped to a JSON-RPC body.

use std::sync::Arc;

use axum::BoxError;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use tower::ServiceBuilder;
use tower::timeout::TimeoutLayer;

use super::overload::Limits;
use super::refusal::json_error;
use crate::protocol::jsonrpc::RpcError;

/// Adds the layers every route shares (trace, timeout, body limit) to `routes`.
pub(crate) fn apply(routes: axum::Router, limits: &Arc<Limits>) -> axum::Router {
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
