//! The front door of `/mcp` and `/ws`: one middleware that checks a request
//! in the order the checks depend on each other, Origin/Host guard, auth,
//! the source's identification, admission, before a handler sees it.
//!
//! One layer instead of four: each `axum` middleware layer clones the inner
//! service and boxes a future per request, which was a measurable share of a
//! small call's cost (BENCHMARKS.md, "Close to the floor").

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use super::Gate;
use super::auth::Auth;
use super::guard::OriginPolicy;
use super::refusal::json_error;
use super::source::{self, SourcePolicy};
use crate::protocol::jsonrpc::RpcError;

/// What the door checks a request against.
pub(crate) struct Door {
    /// Which Origin and Host headers are allowed (DNS-rebinding protection).
    pub(crate) origins: Arc<OriginPolicy>,
    /// Who may come in; `None` lets everyone in.
    pub(crate) auth: Option<Arc<Auth>>,
    /// Whose forwarding headers name the client.
    pub(crate) sources: Arc<SourcePolicy>,
    /// Quotas and the server-wide in-flight limit.
    pub(crate) gate: Gate,
}

/// Middleware: 403 for a refused Origin or Host, 401/403 from auth, then the
/// request's source recorded and the request admitted (429/503 when it is not).
pub(crate) async fn enter(State(door): State<Arc<Door>>, mut request: Request, next: Next) -> Response {
    if let Some(reason) = door.origins.refuse(request.headers()) {
        return json_error(StatusCode::FORBIDDEN, &RpcError::invalid_request(reason));
    }
    let verified = match &door.auth {
        Some(auth) => match auth.check(request.headers()).await {
            Ok(requester) => Some(requester),
            Err(refusal) => return refusal,
        },
        None => None,
    };
    source::identify(&door.sources, &mut request, verified);
    door.gate.admit(request, next).await
}
