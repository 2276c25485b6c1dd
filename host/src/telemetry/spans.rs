//! The server span of one MCP request, named and attributed by the OpenTelemetry MCP
//! semantic conventions: `{mcp.method.name} {target}` (`tools/call echo`), kind server,
//! the method, the tool, prompt or resource it is about, the JSON-RPC id, the protocol
//! version, the legacy session, the transport, and how it failed (`error.type`).

use serde_json::Value;
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::{propagation, trace_span};
use crate::protocol::jsonrpc::{Payload, Request, RpcError};

/// Which transport a request came over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Http,
    WebSocket,
    Stdio,
    /// No transport: `berth bench`, the dispatch benchmark.
    InProcess,
}

impl Transport {
    /// Its name in the audit trail.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Transport::Http => "http",
            Transport::WebSocket => "websocket",
            Transport::Stdio => "stdio",
            Transport::InProcess => "in-process",
        }
    }

    /// `network.transport`: TCP for HTTP and WebSocket, a pipe for stdio.
    fn network(self) -> Option<&'static str> {
        match self {
            Transport::Http | Transport::WebSocket => Some("tcp"),
            Transport::Stdio => Some("pipe"),
            Transport::InProcess => None,
        }
    }

    /// `network.protocol.name`.
    fn protocol(self) -> Option<&'static str> {
        match self {
            Transport::Http => Some("http"),
            Transport::WebSocket => Some("websocket"),
            Transport::Stdio | Transport::InProcess => None,
        }
    }
}

/// The span of `request`, which came over `transport` (with HTTP `headers` when it came by
/// HTTP), parented on the client's trace (its `_meta`, else the headers). Disabled, and
/// free, with traces off; disabled too when the sampler leaves the request out, which then
/// comes with the context to pass on to what it calls (see [`super::sample`]).
pub(crate) fn server_span(
    request: &Request,
    transport: Transport,
    headers: Option<&http::HeaderMap>,
) -> (Span, Option<opentelemetry::Context>) {
    if !super::enabled() {
        return (Span::none(), None);
    }
    let parent = propagation::remote_parent(request.meta(), headers);
    if let Err(pass_on) = super::sample(parent.as_ref(), &request.method) {
        return (Span::none(), Some(pass_on));
    }
    let span = trace_span!(
        "mcp.server",
        otel.name = Empty,
        otel.kind = "server",
        otel.status_code = Empty,
        "mcp.method.name" = request.method.as_str(),
        "jsonrpc.request.id" = Empty,
        "mcp.protocol.version" = Empty,
        "mcp.session.id" = Empty,
        "network.transport" = Empty,
        "network.protocol.name" = Empty,
        "gen_ai.operation.name" = Empty,
        "gen_ai.tool.name" = Empty,
        "gen_ai.prompt.name" = Empty,
        "mcp.resource.uri" = Empty,
        "error.type" = Empty,
    );
    if span.is_disabled() {
        return (span, None);
    }
    let method = request.method.as_str();
    let param = |key: &str| request.param(key).and_then(Value::as_str);
    let target = match method {
        "tools/call" => param("name").inspect(|tool| {
            span.record("gen_ai.tool.name", *tool);
            span.record("gen_ai.operation.name", "execute_tool");
        }),
        "prompts/get" => param("name").inspect(|prompt| {
            span.record("gen_ai.prompt.name", *prompt);
        }),
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => param("uri").inspect(|uri| {
            span.record("mcp.resource.uri", *uri);
        }),
        _ => None,
    };
    span.record("otel.name", target.map_or_else(|| method.to_owned(), |target| format!("{method} {target}")));
    span.record("jsonrpc.request.id", request.id.to_string().as_str());
    if let Some(network) = transport.network() {
        span.record("network.transport", network);
    }
    if let Some(protocol) = transport.protocol() {
        span.record("network.protocol.name", protocol);
    }
    if let Some(parent) = parent {
        let _ = span.set_parent(parent);
    }
    (span, None)
}

/// Records the protocol version and, for a legacy request, its session on `span`.
pub(crate) fn record_era(span: &Span, version: &str, session: Option<&str>) {
    if span.is_disabled() {
        return;
    }
    span.record("mcp.protocol.version", version);
    if let Some(session) = session {
        span.record("mcp.session.id", session);
    }
}

/// How an answer failed, by the conventions: the JSON-RPC error's code, or `tool_error`
/// for a tool result marked `isError`; `None` when it did not.
pub(crate) fn error_type(outcome: &Result<Payload, RpcError>) -> Option<String> {
    match outcome {
        Err(error) => Some(error.code.to_string()),
        Ok(result) if result.is_tool_error() => Some("tool_error".to_owned()),
        Ok(_) => None,
    }
}

/// Records `error_type` on `span` (and marks it an error).
pub(crate) fn record_error(span: &Span, error_type: Option<&str>) {
    if let Some(error_type) = error_type
        && !span.is_disabled()
    {
        span.record("error.type", error_type);
        span.record("otel.status_code", "ERROR");
    }
}

/// The trace id of a request measured with `span` (or, when the sampler left it out,
/// carrying `pass_on`); `None` with traces off or outside any trace.
pub(crate) fn trace_id(span: &Span, pass_on: Option<&opentelemetry::Context>) -> Option<String> {
    use opentelemetry::trace::TraceContextExt as _;
    if !super::enabled() {
        return None;
    }
    let context = match pass_on {
        Some(context) => context.clone(),
        None => span.context(),
    };
    let ids = context.span().span_context().clone();
    ids.is_valid().then(|| ids.trace_id().to_string())
}
