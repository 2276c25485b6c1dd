//! One routed call on its way to an answer: run through the router, its
//! messages to the client sent to a sink, and the rule for what a cancelled
//! request gets.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::operations::Operations;
use crate::access::Grant;
use crate::admission::{Admitted, Requester};
use crate::audit::{self, Audit};
use crate::protocol::jsonrpc::{self, Payload, Request, RpcError};
use crate::registry::Snapshot;
use crate::router::{Era, RequestContext, Router, Sink};
use crate::session::{InFlight, Session};
use crate::telemetry;

/// A request ready to run: its era, the snapshot it was checked against, and
/// the slots it was admitted with (held until it answers).
pub(crate) struct Pending {
    pub(super) router: Arc<Router>,
    pub(super) request: Request,
    pub(super) era: Era,
    pub(super) snapshot: Arc<Snapshot>,
    pub(super) requester: Requester,
    /// What the caller may use, decided when the request was routed.
    pub(super) grant: Grant,
    /// Where the request is tracked while it runs, so `notifications/cancelled` finds it.
    pub(super) tracker: Option<Arc<InFlight>>,
    pub(super) admitted: Option<Admitted>,
    /// How it is measured: its server span, since when, into which series.
    pub(super) measure: Measure,
}

/// What one request is measured with until it answers.
pub(crate) struct Measure {
    pub(super) span: tracing::Span,
    /// For a request the sampler left out: the trace context its outbound calls carry.
    pub(super) pass_on: Option<opentelemetry::Context>,
    pub(super) started: Instant,
    /// The `mcp_method_name` label.
    pub(super) method: &'static str,
    pub(super) operations: Arc<Operations>,
    /// Set for a request the audit trail records.
    pub(super) audited: Option<Box<Audited>>,
}

/// What the audit trail needs of a request besides its answer.
pub(crate) struct Audited {
    pub(super) audit: Arc<Audit>,
    pub(super) requester: Requester,
    pub(super) transport: &'static str,
    /// The tool or prompt name, or the resource URI.
    pub(super) target: Option<String>,
    pub(super) session: Option<String>,
}

impl Measure {
    /// Records the request's answer: its duration in its series, its failure on its span,
    /// and (audited requests) its event, which `verdict` names when the answer alone
    /// cannot (refused by a rule, over a quota).
    pub(super) fn finish(
        self,
        outcome: &Result<Payload, RpcError>,
        tool: Option<&Arc<str>>,
        verdict: Option<audit::Outcome>,
    ) {
        let error_type = telemetry::error_type(outcome);
        telemetry::record_error(&self.span, error_type.as_deref());
        let elapsed = self.started.elapsed();
        self.operations.record(self.method, tool, error_type.map(Arc::from), elapsed);
        if let Some(audited) = self.audited {
            let outcome_of = match outcome {
                Ok(result) if result.is_tool_error() => audit::Outcome::ToolError,
                Ok(_) => audit::Outcome::Ok,
                Err(_) => audit::Outcome::Error,
            };
            let trace_id = telemetry::trace_id(&self.span, self.pass_on.as_ref());
            audited.audit.record(&audit::Event {
                identity: audited.requester.identity.as_deref(),
                source: &audited.requester.key,
                address: audited.requester.address,
                transport: audited.transport,
                method: self.method,
                target: audited.target.as_deref(),
                outcome: verdict.unwrap_or(outcome_of),
                error_code: outcome.as_ref().err().map(|e| i64::from(e.code)),
                duration: elapsed,
                trace_id,
                session: audited.session.as_deref(),
            });
        }
    }
}

impl Pending {
    /// Whether it is a 2026-07-28 request.
    pub(crate) fn is_modern(&self) -> bool {
        matches!(self.era, Era::Modern(_))
    }

    /// Its legacy session, if any.
    pub(crate) fn session(&self) -> Option<&Arc<Session>> {
        self.era.session()
    }

    /// Whether it may send the client anything before its answer: a legacy session's
    /// request may (questions, logs at the session's level); a 2026-07-28 one only when it
    /// asks for progress (`progressToken`) or logs (a log level in `_meta`). The others
    /// need no stream, channel or sink.
    pub(crate) fn may_stream(&self) -> bool {
        match &self.era {
            Era::Legacy(_) => true,
            Era::Modern(envelope) => {
                envelope.log_level.is_some()
                    || self.request.meta().and_then(|meta| meta.progress_token.as_ref()).is_some_and(|t| !t.is_null())
            }
        }
    }

    /// Runs the call: what it sends the client before its answer (progress, logs,
    /// questions) goes to `sink`, and `cancel` stops it.
    pub(crate) async fn run(self, sink: Option<Sink>, cancel: CancellationToken) -> Ran {
        let Pending { router, request, era, snapshot, requester, grant, tracker, admitted, measure } = self;
        let modern = matches!(era, Era::Modern(_));
        if let Some(admitted) = &admitted {
            admitted.paced().await;
        }
        let running = tracker.map(|tracker| tracker.begin(&request.id, cancel.clone()));
        let cx = RequestContext::new(&request, era, snapshot, sink, cancel, requester, grant);
        // Part of the request's trace: inside its span, or, when the sampler left the request
        // out, with the context what it calls must carry.
        let outcome = {
            let handling = std::pin::pin!(router.handle(&request, &cx));
            match &measure.pass_on {
                Some(context) => opentelemetry::context::FutureExt::with_context(handling, context.clone()).await,
                None => telemetry::traced!(measure.span, handling),
            }
        };
        drop((running, admitted));
        let verdict = cx.refused_by_rule().then_some(audit::Outcome::RefusedByRule);
        measure.finish(&outcome, cx.served_tool.get(), verdict);
        Ran { answer: Answer { id: request.id, outcome, modern }, cancelled: cx.hooks.cancel.is_cancelled() }
    }
}

/// A call that ran: its answer, and whether the client cancelled it meanwhile.
pub(crate) struct Ran {
    pub(crate) answer: Answer,
    pub(crate) cancelled: bool,
}

impl Ran {
    /// What a stream (SSE, a WebSocket or stdio connection) sends last: the answer, or
    /// nothing for a request the client cancelled, as MCP asks.
    pub(crate) fn streamed(self) -> Option<Answer> {
        (!self.cancelled).then_some(self.answer)
    }
}

/// A request's answer: its id and its result or error.
pub(crate) struct Answer {
    pub(crate) id: Value,
    pub(crate) outcome: Result<Payload, RpcError>,
    /// Whether the request was a 2026-07-28 one (HTTP maps its errors to statuses).
    pub(crate) modern: bool,
}

impl Answer {
    /// The JSON-RPC reply as JSON bytes.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        match &self.outcome {
            Ok(result) => jsonrpc::success_bytes(&self.id, result),
            Err(error) => jsonrpc::to_bytes(&jsonrpc::failure(&self.id, error)),
        }
    }

    /// The JSON-RPC reply as JSON text (a WebSocket frame, a stdio line, an SSE event).
    pub(crate) fn to_text(&self) -> String {
        match &self.outcome {
            Ok(result) => jsonrpc::success_text(&self.id, result),
            Err(error) => jsonrpc::to_text(&jsonrpc::failure(&self.id, error)),
        }
    }
}
