//! The admission step of the door: one request admitted through its source's
//! quotas and the server's in-flight limit, its slots held until it answers.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use super::overload::Limits;
use super::refusal::over_quota;
use super::source::Peer;
use super::{Admission, Limit, Refusal, Requester};
use crate::audit::{AUDITED, Audit, Event, Outcome};

/// What the admission layer needs.
pub(crate) struct Gate {
    pub(crate) limits: Arc<Limits>,
    pub(crate) admission: Admission,
    /// The audit trail, which records audited requests refused here (over a quota).
    pub(crate) audit: Option<Arc<Audit>>,
}

impl Gate {
    /// Admits one request (after auth and [`identify`](super::source::identify)),
    /// holding its slots until the handler answered. Refusals come at once,
    /// except over-quota ones (429, here or from the handler): those are held
    /// for the quotas' refusal delay first, with every slot already given back,
    /// so a client that ignores `Retry-After` cannot turn refusals into a flood
    /// of their own. A fair-share refusal is load shedding, not a client over
    /// its own limit: like a 503 it comes at once.
    pub(crate) async fn admit(&self, request: Request, routes: axum::Router) -> Response {
        if let Some(ConnectInfo(Peer { over_quota: Some(over), .. })) = request.extensions().get::<ConnectInfo<Peer>>()
        {
            let mut response = over_quota(&serde_json::Value::Null, over);
            self.audit_refusal(&request, over.error().code);
            // The connection itself is over the quota: the client must open it again later.
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            return self.hold_refusal(response).await;
        }
        let source = Requester::of(request.extensions());
        match self.admission.admit(&source) {
            Ok(admitted) => {
                admitted.paced().await;
                let response = route(routes, request).await;
                drop(admitted);
                self.hold_refusal(response).await
            }
            Err(Refusal::OverQuota(over)) if over.limit == Limit::FairShare => {
                self.audit_refusal(&request, over.error().code);
                self.limits.refused(&Refusal::OverQuota(over))
            }
            Err(refusal) => {
                if let Refusal::OverQuota(over) = &refusal {
                    self.audit_refusal(&request, over.error().code);
                }
                self.hold_refusal(self.limits.refused(&refusal)).await
            }
        }
    }

    /// Records an audited request refused over a quota before its body was read: what it
    /// is comes from its `Mcp-Method` and `Mcp-Name` headers (2026-07-28 clients send
    /// them; a 2025 request refused here is counted in `/metrics` only, its method unread).
    fn audit_refusal(&self, request: &Request, code: i32) {
        let Some(audit) = &self.audit else { return };
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
        let Some(method) = header("mcp-method").and_then(|m| AUDITED.iter().find(|a| **a == m)) else { return };
        let requester = Requester::of(request.extensions());
        audit.record(&Event {
            identity: requester.identity.as_deref(),
            source: &requester.key,
            address: requester.address,
            transport: "http",
            method,
            target: header("mcp-name"),
            outcome: Outcome::OverQuota,
            error_code: Some(i64::from(code)),
            duration: std::time::Duration::ZERO,
            trace_id: None,
            session: header("mcp-session-id"),
        });
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

/// `request` answered by `routes` (a router answers everything, if only with 404).
pub(super) async fn route(mut routes: axum::Router, request: Request) -> Response {
    match tower::Service::call(&mut routes, request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}
