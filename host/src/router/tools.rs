//! `tools/call`: find the tool in the request's snapshot, run it (in as many
//! rounds as it needs), count it, and map its result to MCP.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use super::Router;
use super::context::RequestContext;
use super::params::required_str;
use super::tasks::Mode;
use super::tool_call::{ToolCall, finish};
use crate::protocol::jsonrpc::{Payload, Request, RpcError};
use crate::runtime::{Ending, ExposedTool, Violations, mcp};
use crate::telemetry;
use tracing::Instrument as _;

impl Router {
    /// `tools/call`, counted in the tool's stats and traced in a span with its
    /// timing (arguments only when argument logging is on).
    ///
    /// Arguments that do not fit the tool's input schema are answered at once
    /// with an `isError` result listing each violation (SEP-1303: the model
    /// reads it and corrects the call); no instance is leased for them. Only
    /// an unknown tool or a malformed request is a protocol error.
    pub(super) async fn call_tool(
        self: &Arc<Self>,
        request: &Request,
        cx: &RequestContext,
    ) -> Result<Payload, RpcError> {
        let name = required_str(request, "name")?;
        let sent = request.arguments()?;
        let plugin = cx.tool(name).ok_or_else(|| RpcError::invalid_params(format!("unknown tool: {name}")))?;
        let tool = plugin.tool(name).ok_or_else(|| RpcError::internal(format!("tool {name} has no entry")))?;
        let _ = cx.served_tool.set(tool.name.clone());
        // The plugin gets the client's own text, parsed only when a check reads it (once:
        // the `Mcp-Param-*` check, made when the request was routed, parsed it already).
        let checks_headers = !cx.snapshot.header_params(name).is_empty();
        let (checked, arguments) = if tool.schemas.checks_input() || checks_headers {
            let (value, text) = request.checked_arguments()?;
            (Some(value), text)
        } else {
            (None, sent.text())
        };
        let span = tracing::debug_span!(
            "tools/call",
            plugin = %plugin.name,
            tool = name,
            id = %request.id,
            argument_bytes = arguments.len(),
            arguments = tracing::field::Empty,
        );
        if self.log_arguments {
            span.record("arguments", arguments);
        }
        let started = Instant::now();
        let (answer, ending) = match check_arguments(tool, checked) {
            Err(refusal) => (Ok(refusal.into()), Ending::InvalidArguments),
            Ok(()) => match self.mode(request, cx, plugin, tool, name, arguments).await {
                // The task's call is counted when it ends.
                Ok(Mode::Task(flavor, ttl)) => {
                    return self
                        .start_task(request, cx, plugin.clone(), name, arguments.to_owned(), flavor, ttl)
                        .await
                        .map(Payload::Value);
                }
                Ok(Mode::Now) => {
                    let call = ToolCall { plugin, name, arguments };
                    // Not `telemetry::traced!`: pinned here, the call's future became one the
                    // HTTP transport copies whole (9 KB) into its box on every request
                    // (benches/request-cost.sh: +7,600 instructions per request).
                    let finished = if span.is_disabled() {
                        self.rounds(&call, request, cx).await
                    } else {
                        self.rounds(&call, request, cx).instrument(span.clone()).await
                    };
                    span.in_scope(|| finish(plugin, name, tool, finished))
                }
                Err(error) => (Err(error), Ending::ProtocolError),
            },
        };
        let elapsed = started.elapsed();
        tool.stats.record(ending, elapsed);
        span.in_scope(|| {
            let elapsed_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
            tracing::debug!(elapsed_us, outcome = ending.label(), "call finished");
        });
        answer
    }
}

/// The arguments (parsed when there is a check to read them) checked against the tool's
/// input schema; the `isError` result listing the violations when they do not fit.
fn check_arguments(tool: &ExposedTool, arguments: Option<&Value>) -> Result<(), Value> {
    let Some(arguments) = arguments.filter(|_| tool.schemas.checks_input()) else {
        return Ok(());
    };
    let _span = telemetry::child_span!("validate arguments").entered();
    tool.schemas.check_arguments(arguments).map_err(|Violations(list)| {
        mcp::error_result(&format!("Invalid arguments (they do not match the tool's input schema):\n{list}"))
    })
}
