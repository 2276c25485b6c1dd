//! Builders for the WIT records a plugin returns: tools, content, results, prompts.

use serde::de::DeserializeOwned;

use crate::{CallOutcome, Content, Error, Prompt, PromptArgument, PromptMessage, PromptResult, Role, Tool, ToolResult};

/// A tool with a name, a description and a JSON Schema for its arguments.
pub fn tool(name: &str, description: &str, input_schema: &str) -> Tool {
    Tool {
        name: name.to_owned(),
        title: None,
        description: Some(description.to_owned()),
        input_schema: input_schema.to_owned(),
        output_schema: None,
        annotations: None,
    }
}

/// A text content item.
pub fn text(value: impl Into<String>) -> Content {
    Content::Text(value.into())
}

/// A complete tool call outcome.
pub fn done(result: ToolResult) -> CallOutcome {
    CallOutcome::Complete(result)
}

/// The error for a tool name this plugin does not have.
pub fn unknown_tool(name: &str) -> Error {
    Error::NotFound(format!("unknown tool: {name}"))
}

/// Parses tool or prompt arguments (a JSON object as text) into `T`.
///
/// A mismatch becomes [`Error::InvalidParams`] naming what was wrong, which
/// the host returns to the client as JSON-RPC error -32602.
pub fn parse_args<T: DeserializeOwned>(arguments: &str) -> Result<T, Error> {
    serde_json::from_str(arguments).map_err(|e| Error::InvalidParams(format!("invalid arguments: {e}")))
}

impl ToolResult {
    /// A successful result with one text item.
    pub fn text(value: impl Into<String>) -> Self {
        Self { content: vec![text(value)], structured_content: None, is_error: false }
    }

    /// A failed result with one text item explaining the failure to the model.
    pub fn error(message: impl Into<String>) -> Self {
        Self { content: vec![text(message)], structured_content: None, is_error: true }
    }

    /// A successful result carrying `value` both as JSON text and as structured content.
    pub fn json(value: &serde_json::Value) -> Self {
        let rendered = value.to_string();
        Self { content: vec![text(rendered.clone())], structured_content: Some(rendered), is_error: false }
    }
}

/// A prompt with a description and its arguments.
pub fn prompt(name: &str, description: &str, arguments: Vec<PromptArgument>) -> Prompt {
    Prompt { name: name.to_owned(), title: None, description: Some(description.to_owned()), arguments }
}

/// One prompt argument.
pub fn prompt_argument(name: &str, description: &str, required: bool) -> PromptArgument {
    PromptArgument { name: name.to_owned(), title: None, description: Some(description.to_owned()), required }
}

impl PromptResult {
    /// A prompt made of one user message in text.
    pub fn user_text(value: impl Into<String>) -> Self {
        Self { description: None, messages: vec![PromptMessage { role: Role::User, content: text(value) }] }
    }
}

/// One question for the client in a multi-round-trip `input-required` outcome.
///
/// `method` is `elicitation/create`, `sampling/createMessage` or `roots/list`;
/// the answer comes back under `key` in the next call's `input-responses`.
pub fn ask(key: &str, method: &str, params: &serde_json::Value) -> crate::InputRequest {
    crate::InputRequest { key: key.to_owned(), method: method.to_owned(), params: params.to_string() }
}

/// An outcome asking the client for input before the tool can finish.
///
/// `state` comes back unchanged (sealed by the host) with the answers.
pub fn input_required(requests: Vec<crate::InputRequest>, state: Option<String>) -> CallOutcome {
    CallOutcome::InputRequired(crate::InputRequired { requests, request_state: state })
}

/// The client's answer to the question asked under `key`, if it sent one.
pub fn input_response(ctx: &crate::CallContext, key: &str) -> Option<serde_json::Value> {
    let responses: serde_json::Value = serde_json::from_str(ctx.input_responses.as_deref()?).ok()?;
    responses.get(key).cloned()
}

/// Whether the client declared capability `name` (e.g. `sampling`).
pub fn client_supports(ctx: &crate::CallContext, name: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(&ctx.client_capabilities)
        .ok()
        .and_then(|caps| caps.get(name).cloned())
        .is_some_and(|cap| !cap.is_null())
}
