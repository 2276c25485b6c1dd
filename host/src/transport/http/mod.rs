//! Streamable HTTP at `/mcp` (both protocol eras on one endpoint), the
//! WebSocket upgrade at `/ws`, and the operator endpoints.
//!
//! Split as tower splits a layer: the routes and their shared state here;
//! `post` (a POST's one message, handed to the exchange's driver); `session`
//! (a legacy session's GET stream and DELETE); `reply` (the driver's replies as
//! statuses and JSON bodies); `sse` (event-stream framing); `ops` (`/healthz`,
//! `/readyz`, `/metrics`, OAuth metadata). What messages mean is the
//! exchange's business; this module owns headers, statuses and streams.

mod ops;
mod post;
mod reply;
mod session;
mod sse;

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, header};
use axum::response::Response;
use axum::routing::get;
use tokio_util::sync::CancellationToken;
use tower::Service;

use super::ws::{self, WsState};
use crate::admission::auth::{self, Auth};
use crate::admission::door::Door;
use crate::admission::guard::OriginPolicy;
use crate::admission::overload::Limits;
use crate::admission::source::SourcePolicy;
use crate::admission::{Front, Gate, front};
use crate::exchange::Exchange;

/// Header carrying the legacy session id.
pub(crate) const SESSION_HEADER: HeaderName = HeaderName::from_static("mcp-session-id");
/// The 2026-07-28 routing headers.
const PROTOCOL_VERSION_HEADER: HeaderName = HeaderName::from_static("mcp-protocol-version");
const METHOD_HEADER: HeaderName = HeaderName::from_static("mcp-method");
const NAME_HEADER: HeaderName = HeaderName::from_static("mcp-name");
/// Where a resuming SSE client left off.
const LAST_EVENT_ID_HEADER: HeaderName = HeaderName::from_static("last-event-id");

/// The two moments of a stop: draining (not ready, still serving), then stopping.
#[derive(Clone, Default)]
pub(crate) struct Stopping {
    /// Cancelled when a stop signal arrives: `/readyz` answers 503 from then on.
    pub(crate) draining: CancellationToken,
    /// Cancelled once the drain is over: no new connections, WebSocket connections and
    /// notice streams close.
    pub(crate) stop: CancellationToken,
}

/// What the `/mcp` and operator handlers share.
pub(crate) struct HttpState {
    pub(crate) exchange: Arc<Exchange>,
    /// Server-wide request and stream slots.
    pub(crate) limits: Arc<Limits>,
    /// Who may connect; `None` lets everyone in (loopback only, unless overridden).
    pub(crate) auth: Option<Arc<Auth>>,
    /// The WebSocket side, for its connection count.
    pub(crate) ws: Arc<WsState>,
    /// Whose forwarding headers name the client.
    pub(crate) sources: Arc<SourcePolicy>,
    pub(crate) max_body_bytes: usize,
    /// Draining after a stop signal (not ready), then stopping (notice streams end).
    pub(crate) stopping: Stopping,
}

/// The HTTP service: `/mcp` and `/ws` behind the door (Origin/Host guard,
/// auth, the source's identification and admission); `/healthz`, `/readyz`,
/// `/metrics` and the OAuth metadata beside them (not admitted, so an
/// overloaded server can be watched). `/metrics` needs a token when auth is
/// on; the probes (`/healthz`, `/readyz`) do not: a load balancer's health
/// check or a Kubernetes probe cannot present one, and they say nothing secret.
/// Every route is behind the front middleware (request timeout, body limit),
/// which opens the door for the MCP routes.
pub(crate) fn app(
    state: Arc<HttpState>,
    origins: Arc<OriginPolicy>,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone + Send + Sync + 'static {
    let gate = Gate {
        limits: state.limits.clone(),
        admission: state.limits.admission(state.exchange.quotas()),
        audit: state.exchange.audit().cloned(),
    };
    let door = Door { origins, auth: state.auth.clone(), sources: state.sources.clone(), gate };
    let mcp = axum::Router::new()
        .route("/mcp", get(session::get).post(post::post).delete(session::delete))
        .with_state(state.clone())
        .merge(axum::Router::new().route("/ws", get(ws::upgrade)).with_state(state.ws.clone()));
    let watched = axum::Router::new().route("/metrics", get(ops::metrics)).with_state(state.clone());
    let open = axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ops::readyz))
        .route("/.well-known/oauth-protected-resource", get(ops::resource_metadata))
        .route("/.well-known/oauth-protected-resource/{*path}", get(ops::resource_metadata))
        .with_state(state.clone());
    let routes = mcp.merge(with_auth(watched, state.auth.as_ref())).merge(open);
    front(routes, Arc::new(Front { limits: state.limits.clone(), door }))
}

/// `routes` behind the auth check, when auth is on.
fn with_auth(routes: axum::Router, auth: Option<&Arc<Auth>>) -> axum::Router {
    match auth {
        Some(auth) => routes.layer(axum::middleware::from_fn_with_state(auth.clone(), auth::require)),
        None => routes,
    }
}

/// A header's value with surrounding whitespace removed.
///
/// Names are `HeaderName` constants, not strings: a string name is parsed
/// and hashed anew on every lookup, a cost every request paid several times.
/// A value `to_str` accepts is visible ASCII, so ASCII trimming is whole (and
/// cheaper than `str::trim`, which decodes characters).
fn header_str<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim_ascii)
}

/// What the client's `Accept` header allows.
#[derive(Clone, Copy)]
struct Accepts {
    json: bool,
    sse: bool,
}

fn accepts(headers: &HeaderMap) -> Accepts {
    match header_str(headers, &header::ACCEPT) {
        None => Accepts { json: true, sse: false },
        // What MCP clients send, matched whole before the searches below.
        Some("application/json, text/event-stream") => Accepts { json: true, sse: true },
        Some(accept) => {
            let any = accept.contains("*/*");
            Accepts {
                json: any || accept.contains("application/json") || accept.contains("application/*"),
                sse: accept.contains("text/event-stream"),
            }
        }
    }
}
