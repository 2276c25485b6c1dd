//! The door of `/mcp` and `/ws`: the checks a request passes in the order they
//! depend on each other, Origin/Host guard, auth, the source's identification,
//! admission, before a handler sees it. The front middleware (`layers`) opens it.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::StatusCode;
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

impl Door {
    /// 403 for a refused Origin or Host, 401/403 from auth, then the request's source
    /// recorded and the request admitted (429/503 when it is not) and run by `routes`.
    pub(crate) async fn enter(&self, mut request: Request, routes: axum::Router) -> Response {
        if let Some(reason) = self.origins.refuse(request.headers()) {
            return json_error(StatusCode::FORBIDDEN, &RpcError::invalid_request(reason));
        }
        let verified = match &self.auth {
            Some(auth) => match auth.check(request.headers()).await {
                Ok(requester) => Some(requester),
                Err(refusal) => return refusal,
            },
            None => None,
        };
        source::identify(&self.sources, &mut request, verified);
        self.gate.admit(request, routes).await
    }
}
