//! The operator endpoints: `/readyz`, `/metrics` and the OAuth protected
//! resource metadata (`/healthz` is a constant in the route table).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::HttpState;
use crate::admission::Limit;
use crate::admission::refusal::{json_error, json_response};
use crate::metrics::{self, ServerGauges};
use crate::protocol::jsonrpc::RpcError;
use crate::shared::Placement;

/// RFC 9728 protected resource metadata (404 unless OAuth is configured).
pub(super) async fn resource_metadata(State(state): State<Arc<HttpState>>) -> Response {
    match state.auth.as_ref().and_then(|auth| auth.resource_metadata()) {
        Some(metadata) => json_response(StatusCode::OK, &metadata),
        None => json_error(StatusCode::NOT_FOUND, &RpcError::invalid_request("OAuth is not configured")),
    }
}

/// Prometheus text: plugin, tool and server metrics (docs/configuration.md lists them).
pub(super) async fn metrics(State(state): State<Arc<HttpState>>) -> Response {
    let snapshot = state.exchange.registry().snapshot();
    let limits = &state.limits;
    let websockets = state.ws.connections();
    let (sessions, quotas) = (state.exchange.sessions().stats(), state.exchange.quotas());
    let gauges = ServerGauges {
        sessions: sessions.live,
        in_flight: limits.in_flight_now(),
        shed: limits.shed(),
        timeouts: limits.timeouts(),
        websocket_connections: websockets,
        event_streams: limits.streams_now().saturating_sub(websockets),
        quota_refusals: Limit::ALL.iter().map(|limit| (limit.name(), quotas.refused(*limit))).collect(),
        sessions_evicted: vec![
            ("unused", sessions.evicted_unused),
            ("idle", sessions.evicted_idle),
            ("expired", sessions.expired),
        ],
        sources: quotas.sources(),
        capacity: quotas.capacity(),
        paced: quotas.paced(),
        placement: state.exchange.placement(),
        trace_spans: crate::telemetry::counts(),
        audit: state.exchange.audit().map(|audit| audit.counts()),
    };
    let mut response =
        (StatusCode::OK, metrics::render(snapshot.plugins(), &gauges, state.exchange.operations())).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

/// What a replica cut off from Redis cannot do, as `/readyz` says it (docs/scaling.md, "Faults").
const REDIS_DOWN: [&str; 4] = [
    "2025 sessions: new ones are refused with 503, those of other replicas cannot be adopted",
    "tasks: refused with 503 until Redis is back",
    "plugin key-value data: calls that use it fail with isError",
    "notices to and from other replicas (list changes, relayed answers) are lost",
];
/// What it still serves.
const SERVED_WITHOUT_REDIS: &str = "2026-07-28 calls that need no shared state, and 2025 sessions this replica holds";

/// Ready: what is loaded and how many sessions are live; 503 while draining after a stop
/// signal, so a balancer stops sending before the server stops accepting.
pub(super) async fn readyz(State(state): State<Arc<HttpState>>) -> Response {
    let snapshot = state.exchange.registry().snapshot();
    let draining = state.stopping.draining.is_cancelled();
    let mut body = json!({
        "status": if draining { "draining" } else { "ready" },
        "plugins": snapshot.plugins().len(),
        "tools": snapshot.tools_json.len(),
        "sessions": state.exchange.sessions().stats().live,
    });
    // Still 200 while Redis is down: every replica shares it, so taking this one out of
    // the balancer would help no client, and stateless calls still work here.
    if let Placement::Cluster { replica, redis_up } = state.exchange.placement() {
        body["cluster"] = json!({ "replica": replica, "redis": if redis_up { "up" } else { "down" } });
        if !redis_up && !draining {
            body["status"] = json!("degraded");
            body["cluster"]["degraded"] = json!(REDIS_DOWN);
            body["cluster"]["served"] = json!(SERVED_WITHOUT_REDIS);
        }
    }
    json_response(if draining { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK }, &body)
}
