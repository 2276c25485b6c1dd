//! `prompts/get`: render a prompt (in as many rounds as it needs).

use serde_json::Value;

use super::Router;
use super::context::RequestContext;
use super::params::required_str;
use super::rounds::{Finished, MultiRound, Round};
use crate::protocol::jsonrpc::{Request, RpcError};
use crate::runtime::bindings::types::{CallContext, Error as PluginError, PromptOutcome, PromptResult};
use crate::runtime::{CallFailure, CallHooks, Plugin, mcp};

/// One `prompts/get` of exposed prompt `name`.
struct PromptGet<'a> {
    plugin: &'a Plugin,
    name: &'a str,
    arguments: &'a str,
}

impl MultiRound for PromptGet<'_> {
    type Done = PromptResult;

    fn binding(&self) -> String {
        format!("prompts/get {}", self.name)
    }

    async fn round(
        &self,
        ctx: &CallContext,
        hooks: CallHooks,
    ) -> Result<Result<Round<PromptResult>, PluginError>, CallFailure> {
        let outcome = self.plugin.get_prompt(ctx, self.name, self.arguments, hooks).await?;
        Ok(outcome.map(|outcome| match outcome {
            PromptOutcome::Complete(result) => Round::Done(result),
            PromptOutcome::InputRequired(asked) => Round::Ask(asked),
        }))
    }
}

impl Router {
    pub(super) async fn get_prompt(&self, request: &Request, cx: &RequestContext) -> Result<Value, RpcError> {
        let name = required_str(request, "name")?;
        let arguments = request.arguments()?.text();
        let plugin = cx.prompt(name).ok_or_else(|| RpcError::invalid_params(format!("unknown prompt: {name}")))?;
        match self.rounds(&PromptGet { plugin, name, arguments }, request, cx).await {
            Finished::Done(result) => Ok(mcp::prompt_result(&result)),
            Finished::ToClient(result) => Ok(result),
            Finished::Refused(error) => Err(error.into()),
            Finished::Failed(failure) => Err(failure.into()),
            Finished::Error(error) => Err(error),
        }
    }
}
