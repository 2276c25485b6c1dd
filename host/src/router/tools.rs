//! `tools/call`: find the tool in the request's snapshot, run it (in as many
//! rounds as it needs), count it, and map its result to MCP.

use std::time::Instant;

use serde_json::Value;
use tracing::Instrument as _;

use super::Router;
use super::context::RequestContext;
use super::params::{object_text, required_str};
use super::rounds::{Finished, MultiRound, Round};
use crate::protocol::jsonrpc::{Request, RpcError};
use crate::runtime::bindings::types::{CallContext, CallOutcome, Error as PluginError, ToolResult};
use crate::runtime::{CallFailure, CallHooks, Ending, ExposedTool, Plugin, Violations, mcp};

/// One `tools/call` of exposed tool `name`.
struct ToolCall<'a> {
    plugin: &'a Plugin,
    name: &'a str,
    arguments: &'a str,
}

impl MultiRound for ToolCall<'_> {
    type Done = ToolResult;

    fn binding(&self) -> String {
        format!("tools/call {}", self.name)
    }

    async fn round(
        &self,
        ctx: &CallContext,
        hooks: CallHooks,
    ) -> Result<Result<Round<ToolResult>, PluginError>, CallFailure> {
        let outcome = self.plugin.call_tool(ctx, self.name, self.arguments, hooks).await?;
        Ok(outcome.map(|outcome| match outcome {
            CallOutcome::Complete(result) => Round::Done(result),
            CallOutcome::InputRequired(asked) => Round::Ask(asked),
        }))
    }
}

impl Router {
    /// `tools/call`, counted in the tool's stats and traced in a span with its
    /// timing (arguments only when argument logging is on).
    ///
    /// Arguments that do not fit the tool's input schema are answered at once
    /// with an `isError` result listing each violation (SEP-1303: the model
    /// reads it and corrects the call); no instance is leased for them. Only
    /// an unknown tool or a malformed request is a protocol error.
    pub(super) async fn call_tool(&self, request: &Request, cx: &RequestContext) -> Result<Value, RpcError> {
        let name = required_str(request, "name")?;
        let arguments = object_text(request, "arguments")?;
        let plugin = cx.snapshot.tool(name).ok_or_else(|| RpcError::invalid_params(format!("unknown tool: {name}")))?;
        let tool = plugin.tool(name).ok_or_else(|| RpcError::internal(format!("tool {name} has no entry")))?;
        let span = tracing::debug_span!(
            "tools/call",
            plugin = %plugin.name,
            tool = name,
            id = %request.id,
            argument_bytes = arguments.len(),
            arguments = tracing::field::Empty,
        );
        if self.log_arguments {
            span.record("arguments", arguments.as_str());
        }
        let started = Instant::now();
        let (answer, ending) = match check_arguments(tool, request) {
            Err(refusal) => (Ok(refusal), Ending::InvalidArguments),
            Ok(()) => {
                let call = ToolCall { plugin, name, arguments: &arguments };
                let finished = self.rounds(&call, request, cx).instrument(span.clone()).await;
                span.in_scope(|| finish(plugin, name, tool, finished))
            }
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

/// The arguments checked against the tool's input schema; the `isError`
/// result listing the violations when they do not fit.
fn check_arguments(tool: &ExposedTool, request: &Request) -> Result<(), Value> {
    if !tool.schemas.checks_input() {
        return Ok(());
    }
    let empty = Value::Object(serde_json::Map::new());
    let arguments = match request.param("arguments") {
        None | Some(Value::Null) => &empty,
        Some(arguments) => arguments,
    };
    tool.schemas.check_arguments(arguments).map_err(|Violations(list)| {
        mcp::error_result(&format!("Invalid arguments (they do not match the tool's input schema):\n{list}"))
    })
}

/// How a call's rounds ended, as the answer and the ending counted for it.
fn finish(
    plugin: &Plugin,
    name: &str,
    tool: &ExposedTool,
    finished: Finished<ToolResult>,
) -> (Result<Value, RpcError>, Ending) {
    match finished {
        Finished::Done(result) => {
            let value = mcp::tool_result(&result);
            if let Some(structured) = value.get("structuredContent")
                && let Err(Violations(list)) = tool.schemas.check_output(structured)
            {
                tracing::warn!(plugin = %plugin.name, tool = name, "structured output does not match the outputSchema: {list}");
                let text = format!(
                    "The tool returned structured content that does not match its outputSchema (a bug in plugin {}):\n{list}",
                    plugin.name
                );
                return (Ok(mcp::error_result(&text)), Ending::InvalidOutput);
            }
            (Ok(value), if result.is_error { Ending::ToolError } else { Ending::Ok })
        }
        Finished::ToClient(result) => (Ok(result), Ending::Ok),
        // The plugin's own "invalid params" is also the model's to fix: a tool error, not -32602.
        Finished::Refused(PluginError::InvalidParams(message)) => {
            (Ok(mcp::error_result(&format!("Invalid arguments: {message}"))), Ending::InvalidArguments)
        }
        Finished::Refused(error) => (Err(error.into()), Ending::ProtocolError),
        Finished::Failed(failure) => {
            tracing::warn!(plugin = %plugin.name, tool = name, "{failure}");
            (Ok(mcp::failure_result(&failure)), Ending::from(&failure))
        }
        Finished::Error(error) => (Err(error), Ending::ProtocolError),
    }
}
