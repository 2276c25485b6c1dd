//! Routing one request: its era, the checks of its era, and the snapshot it
//! runs against, decided once and handed to the driver as a [`Step`].

use std::sync::Arc;

use serde_json::Value;

use super::Exchange;
use super::listen::Listen;
use crate::access::Grant;
use crate::protocol::era::{self, Classified, ModernEnvelope, RoutingHeaders};
use crate::protocol::headers;
use crate::protocol::jsonrpc::{Request, RpcError};
use crate::registry::Snapshot;
use crate::router::Era;
use crate::session::Session;

/// What an HTTP request's headers say about its body.
pub(crate) struct HttpHeaders<'a> {
    /// `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name`.
    pub(crate) routing: RoutingHeaders<'a>,
    /// All of the request's headers, for the `Mcp-Param-*` check.
    pub(crate) all: &'a http::HeaderMap,
    /// The legacy session `Mcp-Session-Id` names, if any.
    pub(crate) session_id: Option<&'a str>,
}

/// What the driver does with one request.
pub(super) enum Step {
    /// Run it in its era, against this snapshot.
    Run { request: Request, era: Era, snapshot: Arc<Snapshot> },
    /// The legacy handshake.
    Initialize(Request),
    /// A 2026-07-28 listen stream.
    Listen(Listen),
    /// Answer with this error at once (a 2026-07-28 request).
    Refuse { id: Value, error: RpcError },
    /// A legacy request without a live session (HTTP 404: the client starts a new one).
    UnknownSession,
}

impl Exchange {
    /// Decides what to do with `request`, which arrived with `session` (HTTP: the live
    /// session its `Mcp-Session-Id` names; a connection: the one it holds) after naming
    /// one (`named`), and with `http`'s headers.
    pub(super) fn route(
        &self,
        request: Request,
        http: Option<&HttpHeaders<'_>>,
        session: Option<&Arc<Session>>,
        named: bool,
        grant: &Grant,
    ) -> Step {
        let header_version = http.and_then(|h| h.routing.protocol_version);
        match era::classify(&request.method, request.meta(), header_version, named) {
            Classified::Initialize => Step::Initialize(request),
            Classified::Legacy => {
                let Some(session) = session else { return Step::UnknownSession };
                session.mark_used();
                let snapshot = self.registry.snapshot();
                Step::Run { request, era: Era::Legacy(session.clone()), snapshot }
            }
            Classified::Modern => {
                let snapshot = self.registry.snapshot();
                let envelope = match check_modern(&request, http, &snapshot, grant) {
                    Ok(envelope) => envelope,
                    Err(error) => return Step::Refuse { id: request.id, error },
                };
                if request.method == "subscriptions/listen" {
                    return match Listen::new(&request, &self.notices) {
                        Ok(listen) => Step::Listen(listen),
                        Err(error) => Step::Refuse { id: request.id, error },
                    };
                }
                Step::Run { request, era: Era::Modern(envelope), snapshot }
            }
        }
    }
}

/// The 2026-07-28 ladder, plus the `Mcp-Param-*` checks of `tools/call`
/// against the same snapshot the call will run on. A tool the caller may not use is
/// checked as an unknown one is (not at all), so its headers cannot tell it exists.
fn check_modern(
    request: &Request,
    http: Option<&HttpHeaders<'_>>,
    snapshot: &Snapshot,
    grant: &Grant,
) -> Result<ModernEnvelope, RpcError> {
    let envelope = era::check_modern(request, http.map(|h| &h.routing))?;
    if let Some(http) = http
        && request.method == "tools/call"
        && let Some(name) = request.param("name").and_then(Value::as_str)
    {
        let params = snapshot.header_params(name);
        if !params.is_empty() && snapshot.tool(name).is_some_and(|plugin| grant.tool(&plugin.name, name)) {
            // Arguments that are not an object are refused when the call runs; here they are absent.
            let arguments = request.checked_arguments().ok().map(|(value, _)| value);
            headers::validate(params, arguments, |name| {
                http.all.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect()
            })?;
        }
    }
    Ok(envelope)
}
