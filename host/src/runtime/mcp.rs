//! MCP JSON for the WIT records plugins produce, built with rmcp's data model.
//!
//! rmcp (the official Rust SDK) owns the shape of MCP's types; berth maps
//! each WIT record onto the matching rmcp type and serializes it. It sits in
//! the runtime because it speaks the runtime's WIT types; the registry uses
//! it once per load for the lists, the router once per call for results.

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rmcp::model as m;
use serde_json::{Value, json};

use crate::protocol::payload::{self, Payload, Written};

use super::bindings::tasks::TaskSupport;
use super::bindings::types::{
    Content, Prompt, PromptMessage, PromptResult, Resource, ResourceBody, ResourceContents, ResourceTemplate, Role,
    Tool, ToolResult,
};
use super::failure::CallFailure;

/// Serializes an rmcp value; rmcp's model types always serialize.
fn to_json(value: impl serde::Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Parses JSON object text the host validated at load time.
fn object(text: &str) -> m::JsonObject {
    serde_json::from_str(text).unwrap_or_default()
}

/// A tool as listed by `tools/list`, with `execution.taskSupport` when it can run as a task.
pub(crate) fn tool(tool: &Tool, task_support: TaskSupport) -> Value {
    let description = tool.description.clone().map(Cow::Owned);
    let mut listed = m::Tool::new_with_raw(tool.name.clone(), description, Arc::new(object(&tool.input_schema)));
    listed.title = tool.title.clone();
    listed.output_schema = tool.output_schema.as_deref().map(|s| Arc::new(object(s)));
    let mut value = to_json(listed);
    // Annotations stay as the plugin wrote them: MCP keeps adding hints, and
    // a host should not drop ones it does not know yet.
    if let Some(annotations) = &tool.annotations {
        value["annotations"] = Value::Object(object(annotations));
    }
    let support = match task_support {
        TaskSupport::Forbidden => None,
        TaskSupport::Optional => Some("optional"),
        TaskSupport::Required => Some("required"),
    };
    if let Some(support) = support {
        value["execution"] = json!({ "taskSupport": support });
    }
    value
}

/// A resource as listed by `resources/list`.
pub(crate) fn resource(resource: &Resource) -> Value {
    let mut listed = m::Resource::new(&resource.uri, &resource.name);
    listed.title = resource.title.clone();
    listed.description = resource.description.clone();
    listed.mime_type = resource.mime_type.clone();
    listed.size = resource.size;
    to_json(listed)
}

/// A resource template as listed by `resources/templates/list`.
pub(crate) fn resource_template(template: &ResourceTemplate) -> Value {
    let mut listed = m::ResourceTemplate::new(&template.uri_template, &template.name);
    listed.title = template.title.clone();
    listed.description = template.description.clone();
    listed.mime_type = template.mime_type.clone();
    to_json(listed)
}

/// A prompt as listed by `prompts/list`.
pub(crate) fn prompt(prompt: &Prompt) -> Value {
    let arguments = prompt
        .arguments
        .iter()
        .map(|a| {
            let mut argument = m::PromptArgument::new(&a.name);
            argument.title = a.title.clone();
            argument.description = a.description.clone();
            argument.required = Some(a.required);
            argument
        })
        .collect();
    let mut listed = m::Prompt::new(&prompt.name, prompt.description.clone(), Some(arguments));
    listed.title = prompt.title.clone();
    to_json(listed)
}

fn rmcp_contents(contents: &ResourceContents) -> m::ResourceContents {
    let (mut converted, mime_type) = match &contents.body {
        ResourceBody::Text(text) => (m::ResourceContents::text(text, &contents.uri), &contents.mime_type),
        ResourceBody::Binary(bytes) => {
            (m::ResourceContents::blob(BASE64.encode(bytes), &contents.uri), &contents.mime_type)
        }
    };
    // rmcp's constructor guesses text/plain; the plugin's word (or silence) wins.
    match &mut converted {
        m::ResourceContents::TextResourceContents { mime_type: slot, .. }
        | m::ResourceContents::BlobResourceContents { mime_type: slot, .. } => slot.clone_from(mime_type),
        _ => {}
    }
    converted
}

/// One resource's contents, as in `resources/read`.
pub(crate) fn resource_contents(contents: &ResourceContents) -> Value {
    to_json(rmcp_contents(contents))
}

fn content_block(content: &Content) -> m::ContentBlock {
    match content {
        Content::Text(text) => m::ContentBlock::text(text),
        Content::Image(blob) => m::ContentBlock::image(BASE64.encode(&blob.data), &blob.mime_type),
        Content::Audio(blob) => m::ContentBlock::audio(BASE64.encode(&blob.data), &blob.mime_type),
        Content::ResourceLink(link) => {
            let mut linked = m::Resource::new(&link.uri, &link.name);
            linked.title = link.title.clone();
            linked.description = link.description.clone();
            linked.mime_type = link.mime_type.clone();
            m::ContentBlock::resource_link(linked)
        }
        Content::Embedded(contents) => m::ContentBlock::resource(rmcp_contents(contents)),
    }
}

/// A `CallToolResult`. Structured content that is not valid JSON turns the
/// result into an error: a plugin bug the client should not have to parse.
pub(crate) fn tool_result(result: &ToolResult) -> Payload {
    if let Some(fast) = text_only_result(result) {
        return Payload::Written(fast);
    }
    let content = result.content.iter().map(content_block).collect();
    let mut converted =
        if result.is_error { m::CallToolResult::error(content) } else { m::CallToolResult::success(content) };
    if let Some(structured) = &result.structured_content {
        match serde_json::from_str::<Value>(structured) {
            Ok(value) => converted.structured_content = Some(value),
            Err(e) => {
                let message = format!("the plugin returned structured content that is not JSON: {e}");
                converted = m::CallToolResult::error(vec![m::ContentBlock::text(message)]);
            }
        }
    }
    converted.result_type = None;
    Payload::Value(to_json(converted))
}

/// The common case, text content and nothing else, written straight into the
/// answer's JSON text: the same JSON rmcp's model serializes to (a test checks),
/// with no model built and converted and no value tree built and walked (the
/// largest shares of a warm call's time and allocations, see BENCHMARKS.md).
fn text_only_result(result: &ToolResult) -> Option<Written> {
    if result.structured_content.is_some() || !result.content.iter().all(|item| matches!(item, Content::Text(_))) {
        return None;
    }
    let texts = result.content.iter().filter_map(|item| match item {
        Content::Text(text) => Some(text.as_str()),
        _ => None,
    });
    Some(payload::text_tool_result(texts, result.is_error))
}

/// The tool error (`isError: true`) reported when a call failed in the sandbox.
pub(crate) fn failure_result(failure: &CallFailure) -> Value {
    error_result(&failure.to_string())
}

/// A tool error (`isError: true`) with one text block: what the model reads to correct itself.
pub(crate) fn error_result(text: &str) -> Value {
    json!({ "content": [{ "type": "text", "text": text }], "isError": true })
}

/// A `GetPromptResult`.
pub(crate) fn prompt_result(result: &PromptResult) -> Value {
    let mut converted = m::GetPromptResult::new(result.messages.iter().map(prompt_message).collect());
    converted.description = result.description.clone();
    converted.result_type = None;
    to_json(converted)
}

fn prompt_message(message: &PromptMessage) -> m::PromptMessage {
    let role = match message.role {
        Role::User => m::Role::User,
        Role::Assistant => m::Role::Assistant,
    };
    m::PromptMessage::new(role, content_block(&message.content))
}

#[cfg(test)]
mod tests {
    use crate::runtime::mcp::*;

    /// The model path, which the fast path must match exactly.
    fn through_rmcp(result: &ToolResult) -> Value {
        let content = result.content.iter().map(content_block).collect();
        let mut converted =
            if result.is_error { m::CallToolResult::error(content) } else { m::CallToolResult::success(content) };
        converted.result_type = None;
        to_json(converted)
    }

    #[test]
    fn text_results_match_the_rmcp_model() {
        for (texts, is_error) in [(vec!["hi"], false), (vec!["a", "b\n\"quoted\""], true), (vec![], false)] {
            let result = ToolResult {
                content: texts.iter().map(|t| Content::Text((*t).to_owned())).collect(),
                structured_content: None,
                is_error,
            };
            assert_eq!(tool_result(&result).into_value(), through_rmcp(&result), "{texts:?}");
        }
    }
}
