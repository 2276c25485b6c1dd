//! One tool call as the multi-round loop runs it, and how its rounds ended
//! as an answer and the ending counted for it; shared by calls answered at
//! once (`tools`) and calls run as tasks (`tasks`).

use super::rounds::{Finished, MultiRound, Round};
use crate::protocol::jsonrpc::{Payload, RpcError};
use crate::runtime::bindings::types::{CallContext, CallOutcome, Error as PluginError, ToolResult};
use crate::runtime::{CallFailure, CallHooks, Ending, ExposedTool, Plugin, Violations, mcp};

/// One `tools/call` of exposed tool `name`.
pub(super) struct ToolCall<'a> {
    pub(crate) plugin: &'a Plugin,
    pub(crate) name: &'a str,
    pub(crate) arguments: &'a str,
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

/// How a call's rounds ended, as the answer and the ending counted for it.
pub(super) fn finish(
    plugin: &Plugin,
    name: &str,
    tool: &ExposedTool,
    finished: Finished<ToolResult>,
) -> (Result<Payload, RpcError>, Ending) {
    match finished {
        Finished::Done(result) => {
            let payload = mcp::tool_result(&result);
            if let Payload::Value(value) = &payload
                && let Some(structured) = value.get("structuredContent")
                && let Err(Violations(list)) = tool.schemas.check_output(structured)
            {
                tracing::warn!(plugin = %plugin.name, tool = name, "structured output does not match the outputSchema: {list}");
                let text = format!(
                    "The tool returned structured content that does not match its outputSchema (a bug in plugin {}):\n{list}",
                    plugin.name
                );
                return (Ok(mcp::error_result(&text).into()), Ending::InvalidOutput);
            }
            (Ok(payload), if result.is_error { Ending::ToolError } else { Ending::Ok })
        }
        Finished::ToClient(result) => (Ok(result.into()), Ending::Ok),
        // The plugin's own "invalid params" is also the model's to fix: a tool error, not -32602.
        Finished::Refused(PluginError::InvalidParams(message)) => {
            (Ok(mcp::error_result(&format!("Invalid arguments: {message}")).into()), Ending::InvalidArguments)
        }
        Finished::Refused(error) => (Err(error.into()), Ending::ProtocolError),
        Finished::Failed(failure) => {
            tracing::warn!(plugin = %plugin.name, tool = name, "{failure}");
            (Ok(mcp::failure_result(&failure).into()), Ending::from(&failure))
        }
        Finished::Error(error) => (Err(error), Ending::ProtocolError),
    }
}
