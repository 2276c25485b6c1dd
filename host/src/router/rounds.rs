//! Multi-round-trip calls: a plugin that needs input from the client before
//! it can answer (elicitation, sampling, roots) returns `input-required`.
//!
//! One loop serves every export that can ask ([`MultiRound`]: tools and
//! prompts). In 2026-07-28 the questions go back to the client as an
//! `InputRequiredResult` with the plugin's state sealed, and the client's
//! retry carries the answers; in a legacy session berth asks the client
//! itself, over the request's stream, and calls the plugin again.

use std::future::Future;

use serde_json::{Map, Value, json};
use tracing::Instrument as _;

use super::Router;
use super::context::{Era, RequestContext};
use crate::protocol::jsonrpc::{MISSING_REQUIRED_CLIENT_CAPABILITY, Request, RpcError};
use crate::runtime::bindings::types::{CallContext, Error as PluginError, InputRequired};
use crate::runtime::{CallFailure, CallHooks};
use crate::telemetry;

/// Most rounds of questions one request may ask its client.
const MAX_ROUNDS: usize = 8;

/// How one round of a call ended.
pub(super) enum Round<T> {
    /// The plugin answered.
    Done(T),
    /// The plugin needs answers from the client first.
    Ask(InputRequired),
}

/// An export whose call may take several rounds.
pub(super) trait MultiRound: Sync {
    /// The plugin's final answer.
    type Done: Send;

    /// What sealed state is bound to, e.g. `tools/call echo`: state issued
    /// for one tool cannot be replayed against another.
    fn binding(&self) -> String;

    /// Calls the plugin once with `ctx`.
    fn round(
        &self,
        ctx: &CallContext,
        hooks: CallHooks,
    ) -> impl Future<Output = Result<Result<Round<Self::Done>, PluginError>, CallFailure>> + Send;
}

/// How a multi-round call ended.
pub(super) enum Finished<T> {
    /// The plugin's answer.
    Done(T),
    /// 2026-07-28: the questions, for the client to answer and retry.
    ToClient(Value),
    /// The plugin's own error value.
    Refused(PluginError),
    /// The sandbox stopped the call.
    Failed(CallFailure),
    /// A protocol error around the call (bad state, missing capability, too many rounds).
    Error(RpcError),
}

/// What answering an `input-required` round led to.
enum Asked {
    /// 2026-07-28: the `InputRequiredResult` to return to the client.
    Client(Value),
    /// Legacy: the client answered; call the plugin again with these.
    Answered { responses: String, state: Option<String> },
}

impl Router {
    /// Runs `export` until it answers, asking the client what it needs on the way.
    pub(super) async fn rounds<E: MultiRound>(
        &self,
        export: &E,
        request: &Request,
        cx: &RequestContext,
    ) -> Finished<E::Done> {
        let (mut responses, mut state) = match self.resumed(request, &cx.era, export) {
            Ok(resumed) => resumed,
            Err(error) => return Finished::Error(error),
        };
        for _ in 0..MAX_ROUNDS {
            let ctx = cx.call_context(request, responses.take(), state.take());
            match export.round(&ctx, cx.hooks.clone()).await {
                Ok(Ok(Round::Done(done))) => return Finished::Done(done),
                Ok(Ok(Round::Ask(asked))) => match self.ask(asked, export, cx).await {
                    Ok(Asked::Client(result)) => return Finished::ToClient(result),
                    Ok(Asked::Answered { responses: r, state: s }) => (responses, state) = (Some(r), s),
                    Err(error) => return Finished::Error(error),
                },
                Ok(Err(error)) => return Finished::Refused(error),
                Err(failure) => return Finished::Failed(failure),
            }
        }
        Finished::Error(RpcError::internal(format!(
            "{} asked the client for input more than {MAX_ROUNDS} times",
            export.binding()
        )))
    }

    /// The answers and state a 2026-07-28 retry carries (legacy requests carry none).
    pub(super) fn resumed(
        &self,
        request: &Request,
        era: &Era,
        export: &impl MultiRound,
    ) -> Result<(Option<String>, Option<String>), RpcError> {
        if matches!(era, Era::Legacy(_)) {
            return Ok((None, None));
        }
        let responses = match request.param("inputResponses") {
            None | Some(Value::Null) => None,
            Some(value @ Value::Object(_)) => Some(value.to_string()),
            Some(_) => return Err(RpcError::invalid_params("params.inputResponses must be an object")),
        };
        let state = match request.param("requestState") {
            None | Some(Value::Null) => None,
            Some(Value::String(token)) => self.sealer.open(&export.binding(), token)?,
            Some(_) => return Err(RpcError::invalid_params("params.requestState must be a string")),
        };
        Ok((responses, state))
    }

    /// Handles a plugin's questions for the client.
    ///
    /// Either way a question the client declared no capability for is -32021.
    async fn ask(
        &self,
        asked: InputRequired,
        export: &impl MultiRound,
        cx: &RequestContext,
    ) -> Result<Asked, RpcError> {
        let mut missing = Map::new();
        for question in &asked.requests {
            let capability = match question.method.as_str() {
                "elicitation/create" => "elicitation",
                "sampling/createMessage" => "sampling",
                "roots/list" => "roots",
                other => {
                    return Err(RpcError::internal(format!(
                        "the plugin asked the client for {other:?}, which is not a client request berth relays"
                    )));
                }
            };
            if cx.era.client_capabilities().get(capability).is_none_or(Value::is_null) {
                missing.insert(capability.to_owned(), json!({}));
            }
        }
        if !missing.is_empty() {
            let names: Vec<&str> = missing.keys().map(String::as_str).collect();
            return Err(RpcError::new(
                MISSING_REQUIRED_CLIENT_CAPABILITY,
                format!("this request needs client capabilities the client did not declare: {}", names.join(", ")),
            )
            .with_data(json!({ "requiredCapabilities": missing })));
        }
        let mut questions = Vec::with_capacity(asked.requests.len());
        for question in &asked.requests {
            let params: Value =
                serde_json::from_str(&question.params).ok().filter(Value::is_object).ok_or_else(|| {
                    RpcError::internal(format!("the plugin's params for {:?} are not a JSON object", question.key))
                })?;
            questions.push((question.key.clone(), question.method.clone(), params));
        }
        if let (Some(task), Era::Modern(_)) = (&cx.task, &cx.era) {
            // In a 2026-07-28 task the questions wait on the task for `tasks/update`.
            let requests = questions
                .into_iter()
                .map(|(key, method, params)| (key, json!({ "method": method, "params": params })))
                .collect();
            let answers = self.ask_in_task(task, requests).await?;
            return Ok(Asked::Answered { responses: answers.to_string(), state: asked.request_state });
        }
        match &cx.era {
            Era::Modern(_) => {
                let requests: Map<String, Value> = questions
                    .into_iter()
                    .map(|(key, method, params)| (key, json!({ "method": method, "params": params })))
                    .collect();
                Ok(Asked::Client(json!({
                    "resultType": "input_required",
                    "inputRequests": requests,
                    "requestState": self.sealer.seal(&export.binding(), asked.request_state.as_deref()),
                })))
            }
            Era::Legacy(_) => {
                let client = cx.client.as_ref().ok_or_else(|| {
                    RpcError::invalid_request(
                        "this request needs to ask the client questions, which needs a response stream: accept text/event-stream",
                    )
                })?;
                // A 2025-11-25 task shows `input_required` while its questions are out.
                if let Some(task) = &cx.task {
                    let pending = questions.iter().map(|(key, method, _)| (key.clone(), json!({ "method": method })));
                    self.tasks.ask(task, pending.collect()).await;
                }
                let mut answers = Map::new();
                for (key, method, mut params) in questions {
                    let span = telemetry::client_request(&method, &mut params);
                    let answer = client.request(&method, params).instrument(span.clone()).await.map_err(|e| {
                        telemetry::record_error(&span, Some(&e.code.to_string()));
                        RpcError::new(e.code, format!("the client answered {method} with an error: {}", e.message))
                    })?;
                    answers.insert(key, answer);
                }
                if let Some(task) = &cx.task {
                    self.tasks.answer(&task.id, &answers).await?;
                }
                Ok(Asked::Answered { responses: Value::Object(answers).to_string(), state: asked.request_state })
            }
        }
    }
}
