//! MCP JSON for the WIT records plugins produce, and tool errors for failed calls.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

use crate::runtime::CallFailure;
use crate::runtime::bindings::types::{
    Content, Prompt, PromptMessage, PromptResult, Resource, ResourceBody, ResourceContents,
    ResourceTemplate, Role, Tool, ToolResult,
};

/// Inserts `key: value` when `value` is present.
fn put(object: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(value) = value {
        object.insert(key.to_owned(), value.into());
    }
}

/// Parses JSON text the host already validated at load time.
fn parsed(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// A tool as listed by `tools/list`.
pub fn tool(tool: &Tool) -> Value {
    let mut object = Map::new();
    object.insert("name".into(), tool.name.clone().into());
    put(&mut object, "title", tool.title.clone());
    put(&mut object, "description", tool.description.clone());
    object.insert("inputSchema".into(), parsed(&tool.input_schema));
    put(
        &mut object,
        "outputSchema",
        tool.output_schema.as_deref().map(parsed),
    );
    put(
        &mut object,
        "annotations",
        tool.annotations.as_deref().map(parsed),
    );
    Value::Object(object)
}

/// A resource as listed by `resources/list`.
pub fn resource(resource: &Resource) -> Value {
    let mut object = Map::new();
    object.insert("uri".into(), resource.uri.clone().into());
    object.insert("name".into(), resource.name.clone().into());
    put(&mut object, "title", resource.title.clone());
    put(&mut object, "description", resource.description.clone());
    put(&mut object, "mimeType", resource.mime_type.clone());
    put(&mut object, "size", resource.size);
    Value::Object(object)
}

/// A resource template as listed by `resources/templates/list`.
pub fn resource_template(template: &ResourceTemplate) -> Value {
    let mut object = Map::new();
    object.insert("uriTemplate".into(), template.uri_template.clone().into());
    object.insert("name".into(), template.name.clone().into());
    put(&mut object, "title", template.title.clone());
    put(&mut object, "description", template.description.clone());
    put(&mut object, "mimeType", template.mime_type.clone());
    Value::Object(object)
}

/// A prompt as listed by `prompts/list`.
pub fn prompt(prompt: &Prompt) -> Value {
    let mut object = Map::new();
    object.insert("name".into(), prompt.name.clone().into());
    put(&mut object, "title", prompt.title.clone());
    put(&mut object, "description", prompt.description.clone());
    let arguments: Vec<Value> = prompt
        .arguments
        .iter()
        .map(|a| {
            let mut arg = Map::new();
            arg.insert("name".into(), a.name.clone().into());
            put(&mut arg, "title", a.title.clone());
            put(&mut arg, "description", a.description.clone());
            arg.insert("required".into(), a.required.into());
            Value::Object(arg)
        })
        .collect();
    object.insert("arguments".into(), arguments.into());
    Value::Object(object)
}

/// One resource's contents (`text` or base64 `blob`).
pub fn resource_contents(contents: &ResourceContents) -> Value {
    let mut object = Map::new();
    object.insert("uri".into(), contents.uri.clone().into());
    put(&mut object, "mimeType", contents.mime_type.clone());
    match &contents.body {
        ResourceBody::Text(text) => object.insert("text".into(), text.clone().into()),
        ResourceBody::Binary(bytes) => object.insert("blob".into(), BASE64.encode(bytes).into()),
    };
    Value::Object(object)
}

/// One content item of a tool result or prompt message.
pub fn content(content: &Content) -> Value {
    match content {
        Content::Text(text) => json!({ "type": "text", "text": text }),
        Content::Image(blob) => {
            json!({ "type": "image", "data": BASE64.encode(&blob.data), "mimeType": blob.mime_type })
        }
        Content::Audio(blob) => {
            json!({ "type": "audio", "data": BASE64.encode(&blob.data), "mimeType": blob.mime_type })
        }
        Content::ResourceLink(link) => {
            let mut object = Map::new();
            object.insert("type".into(), "resource_link".into());
            object.insert("uri".into(), link.uri.clone().into());
            object.insert("name".into(), link.name.clone().into());
            put(&mut object, "title", link.title.clone());
            put(&mut object, "description", link.description.clone());
            put(&mut object, "mimeType", link.mime_type.clone());
            Value::Object(object)
        }
        Content::Embedded(contents) => {
            json!({ "type": "resource", "resource": resource_contents(contents) })
        }
    }
}

/// A `CallToolResult`. Structured content that is not valid JSON turns the
/// result into an error: a plugin bug the client should not have to parse.
pub fn tool_result(result: &ToolResult) -> Value {
    let mut object = Map::new();
    object.insert(
        "content".into(),
        result
            .content
            .iter()
            .map(content)
            .collect::<Vec<_>>()
            .into(),
    );
    let mut is_error = result.is_error;
    if let Some(structured) = &result.structured_content {
        match serde_json::from_str::<Value>(structured) {
            Ok(value) => {
                object.insert("structuredContent".into(), value);
            }
            Err(e) => {
                is_error = true;
                object.insert(
                    "content".into(),
                    json!([{ "type": "text", "text": format!("the plugin returned structured content that is not JSON: {e}") }]),
                );
            }
        }
    }
    object.insert("isError".into(), is_error.into());
    Value::Object(object)
}

/// The tool error (`isError: true`) reported when a call failed in the sandbox.
pub fn failure_result(failure: &CallFailure) -> Value {
    json!({ "content": [{ "type": "text", "text": failure.to_string() }], "isError": true })
}

/// A `GetPromptResult`.
pub fn prompt_result(result: &PromptResult) -> Value {
    let messages: Vec<Value> = result.messages.iter().map(prompt_message).collect();
    let mut object = Map::new();
    put(&mut object, "description", result.description.clone());
    object.insert("messages".into(), messages.into());
    Value::Object(object)
}

fn prompt_message(message: &PromptMessage) -> Value {
    let role = match message.role {
        Role::User => "user",
        Role::Assistant => "assistant",
    };
    json!({ "role": role, "content": content(&message.content) })
}
