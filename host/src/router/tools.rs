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
use crate::runtime::{CallFailure, CallHooks, Ending, Plugin, mcp};

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
    pub(super) async fn call_tool(&self, request: &Request, cx: &RequestContext) -> Result<Value, RpcError> {
        let name = required_str(request, "name")?;
        let arguments = object_text(request, "arguments")?;
        let plugin = cx.snapshot.tool(name).ok_or_else(|| RpcError::invalid_params(format!("unknown tool: {name}")))?;
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
        let call = ToolCall { plugin, name, arguments: &arguments };
        let finished = self.rounds(&call, request, cx).instrument(span.clone()).await;
        let (answer, ending) = match finished {
            Finished::Done(result) => {
                let ending = if result.is_error { Ending::ToolError } else { Ending::Ok };
                (Ok(mcp::tool_result(&result)), ending)
            }
            Finished::ToClient(result) => (Ok(result), Ending::Ok),
            Finished::Refused(error) => (Err(error.into()), Ending::ProtocolError),
            Finished::Failed(failure) => {
                span.in_scope(|| tracing::warn!(plugin = %plugin.name, tool = name, "{failure}"));
                (Ok(mcp::failure_result(&failure)), Ending::from(&failure))
            }
            Finished::Error(error) => (Err(error), Ending::ProtocolError),
        };
        let elapsed = started.elapsed();
        if let Some(stats) = plugin.stats_of(name) {
            stats.record(ending, elapsed);
        }
        span.in_scope(|| {
            let elapsed_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
            tracing::debug!(elapsed_us, outcome = ending.label(), "call finished");
        });
        answer
    }
}
