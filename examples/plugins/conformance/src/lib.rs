//! `conformance`: every tool, resource and prompt the official MCP conformance
//! suites call, served through berth's WIT contract like any other plugin.
//!
//! A test fixture: `make fixtures` builds it into `.build/fixtures/`, never into
//! `plugins/`. Multi-round-trip tools return `input-required`; berth relays the
//! questions (2026-07-28: an `InputRequiredResult` with sealed state; 2025
//! sessions: real `sampling/createMessage` / `elicitation/create` requests).
//! The Tasks extension's fixtures are in `tasks`.

mod media;
mod mrtr;
mod tasks;

use berth_sdk::prelude::*;
use serde_json::{Value, json};

struct Conformance;

const NO_ARGS: &str = r#"{"type":"object","properties":{}}"#;

fn sleep_ms(ms: u64) {
    std::thread::sleep(std::time::Duration::from_millis(ms));
}

fn result(content: Vec<Content>) -> Result<CallOutcome, Error> {
    Ok(done(ToolResult { content, structured_content: None, is_error: false }))
}

fn embedded(uri: &str, mime: &str, body: &str) -> Content {
    Content::Embedded(ResourceContents {
        uri: uri.to_owned(),
        mime_type: Some(mime.to_owned()),
        body: ResourceBody::Text(body.to_owned()),
    })
}

fn tools() -> Vec<Tool> {
    let mut list = vec![
        tool("test_simple_text", "Returns a simple text response", NO_ARGS),
        tool("test_image_content", "Returns a 1x1 PNG image", NO_ARGS),
        tool("test_audio_content", "Returns a short WAV clip", NO_ARGS),
        tool("test_embedded_resource", "Returns an embedded text resource", NO_ARGS),
        tool("test_multiple_content_types", "Returns text, an image and an embedded resource", NO_ARGS),
        tool("test_tool_with_logging", "Sends three info log messages while it runs", NO_ARGS),
        tool("test_tool_with_progress", "Reports progress 0, 50 and 100 of 100", NO_ARGS),
        tool("test_error_handling", "Always fails with a tool error", NO_ARGS),
        tool("test_logging_tool", "Logs at info level (only delivered when the client asked for logs)", NO_ARGS),
        tool("test_trigger_tool_change", "Announces that the tool list changed", NO_ARGS),
        tool("test_trigger_prompt_change", "Announces that the prompt list changed", NO_ARGS),
        tool("test_trigger_resource_update", "Announces that test://watched-resource changed", NO_ARGS),
        tool("test_wait_for_cancel", "Waits until the call is cancelled or its deadline passes", NO_ARGS),
        tool(
            "test_header_param",
            "Echoes a region that clients mirror into the Mcp-Param-Region header",
            r#"{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"},"query":{"type":"string"}},"required":["region"]}"#,
        ),
        tool("json_schema_2020_12_tool", "Tool with JSON Schema 2020-12 features", &media::json_schema_2020_12()),
    ];
    list.extend(mrtr::tools());
    list.extend(tasks::tools());
    list
}

impl Plugin for Conformance {
    fn tools() -> Vec<Tool> {
        tools()
    }

    fn task_tools() -> Vec<(String, TaskSupport)> {
        tasks::task_tools()
    }

    fn run_as_task(ctx: CallContext, name: String, arguments: String) -> bool {
        tasks::run_as_task(&ctx, &name, &arguments)
    }

    fn call_tool(ctx: CallContext, name: String, arguments: String) -> Result<CallOutcome, Error> {
        if let Some(outcome) = tasks::call(&ctx, &name, &arguments) {
            return outcome;
        }
        match name.as_str() {
            "test_simple_text" => result(vec![text("This is a simple text response for testing.")]),
            "test_image_content" => result(vec![media::png_content()]),
            "test_audio_content" => result(vec![media::wav_content()]),
            "test_embedded_resource" => result(vec![embedded(
                "test://embedded-resource",
                "text/plain",
                "This is an embedded resource content.",
            )]),
            "test_multiple_content_types" => result(vec![
                text("Multiple content types test:"),
                media::png_content(),
                embedded("test://mixed-content-resource", "application/json", r#"{"test":"data","value":123}"#),
            ]),
            "test_tool_with_logging" => {
                log(LogLevel::Info, "Tool execution started");
                sleep_ms(50);
                log(LogLevel::Info, "Tool processing data");
                sleep_ms(50);
                log(LogLevel::Info, "Tool execution completed");
                result(vec![text("Tool with logging executed successfully")])
            }
            "test_tool_with_progress" => {
                progress(0.0, Some(100.0), None);
                sleep_ms(50);
                progress(50.0, Some(100.0), None);
                sleep_ms(50);
                progress(100.0, Some(100.0), None);
                result(vec![text("Tool with progress executed successfully")])
            }
            "test_error_handling" => {
                Ok(done(ToolResult::error("This tool intentionally returns an error for testing")))
            }
            "test_logging_tool" => {
                log(LogLevel::Info, "test_logging_tool ran");
                result(vec![text("logged")])
            }
            "test_trigger_tool_change" => {
                list_changed(ListKind::Tools);
                result(vec![text("tool list change announced")])
            }
            "test_trigger_prompt_change" => {
                list_changed(ListKind::Prompts);
                result(vec![text("prompt list change announced")])
            }
            "test_trigger_resource_update" => {
                resource_updated("test://watched-resource");
                result(vec![text("resource update announced")])
            }
            "test_wait_for_cancel" => {
                while !cancelled() {
                    sleep_ms(10);
                }
                result(vec![text("cancelled")])
            }
            "test_header_param" => {
                let args: Value = parse_args(&arguments)?;
                result(vec![text(format!("region={}", args["region"].as_str().unwrap_or_default()))])
            }
            "json_schema_2020_12_tool" => result(vec![text(format!("received {arguments}"))]),
            other => mrtr::call(&ctx, other, &arguments),
        }
    }

    fn resources() -> Vec<Resource> {
        let resource = |uri: &str, name: &str, description: &str, mime: &str| Resource {
            uri: uri.to_owned(),
            name: name.to_owned(),
            title: None,
            description: Some(description.to_owned()),
            mime_type: Some(mime.to_owned()),
            size: None,
        };
        vec![
            resource("test://static-text", "static-text", "A static text resource", "text/plain"),
            resource("test://static-binary", "static-binary", "A static binary resource (PNG)", "image/png"),
            resource(
                "test://watched-resource",
                "watched-resource",
                "A resource clients can subscribe to",
                "text/plain",
            ),
        ]
    }

    fn resource_templates() -> Vec<ResourceTemplate> {
        vec![ResourceTemplate {
            uri_template: "test://template/{id}/data".to_owned(),
            name: "template-data".to_owned(),
            title: None,
            description: Some("Data for an id".to_owned()),
            mime_type: Some("application/json".to_owned()),
        }]
    }

    fn read_resource(_ctx: CallContext, uri: String) -> Result<Vec<ResourceContents>, Error> {
        let (mime, body) = match uri.as_str() {
            "test://static-text" => {
                ("text/plain", ResourceBody::Text("This is the content of the static text resource.".into()))
            }
            "test://static-binary" => ("image/png", ResourceBody::Binary(media::png())),
            "test://watched-resource" => ("text/plain", ResourceBody::Text("Watched resource content.".into())),
            other => match other.strip_prefix("test://template/").and_then(|rest| rest.strip_suffix("/data")) {
                Some(id) if !id.is_empty() && !id.contains('/') => {
                    let data = json!({ "id": id, "templateTest": true, "data": format!("Data for ID: {id}") });
                    ("application/json", ResourceBody::Text(data.to_string()))
                }
                _ => return Err(Error::NotFound(format!("no resource {uri}"))),
            },
        };
        Ok(vec![ResourceContents { uri, mime_type: Some(mime.to_owned()), body }])
    }

    fn prompts() -> Vec<Prompt> {
        vec![
            prompt("test_simple_prompt", "A simple prompt without arguments", vec![]),
            prompt(
                "test_prompt_with_arguments",
                "A prompt with two required arguments",
                vec![
                    prompt_argument("arg1", "First test argument", true),
                    prompt_argument("arg2", "Second test argument", true),
                ],
            ),
            prompt(
                "test_prompt_with_embedded_resource",
                "A prompt that embeds a resource",
                vec![prompt_argument("resourceUri", "URI of the resource to embed", true)],
            ),
            prompt("test_prompt_with_image", "A prompt with an image", vec![]),
            prompt("test_input_required_result_prompt", "A prompt that first asks the user for context", vec![]),
        ]
    }

    fn get_prompt(ctx: CallContext, name: String, arguments: String) -> Result<PromptOutcome, Error> {
        let args: Value = parse_args(&arguments)?;
        let arg = |key: &str| -> Result<String, Error> {
            args.get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| Error::InvalidParams(format!("missing required argument {key}")))
        };
        let user = |content: Content| PromptMessage { role: Role::User, content };
        let messages = match name.as_str() {
            "test_simple_prompt" => vec![user(text("This is a simple prompt for testing."))],
            "test_prompt_with_arguments" => {
                vec![user(text(format!("Prompt with arguments: arg1='{}', arg2='{}'", arg("arg1")?, arg("arg2")?)))]
            }
            "test_prompt_with_embedded_resource" => vec![
                user(embedded(&arg("resourceUri")?, "text/plain", "Embedded resource content for testing.")),
                user(text("Please process the embedded resource above.")),
            ],
            "test_prompt_with_image" => vec![user(media::png_content()), user(text("Please analyze the image above."))],
            "test_input_required_result_prompt" => return mrtr::prompt(&ctx),
            _ => return Err(Error::NotFound(format!("unknown prompt: {name}"))),
        };
        Ok(PromptOutcome::Complete(PromptResult { description: None, messages }))
    }

    fn complete(_ctx: CallContext, request: CompletionRequest) -> Result<Completion, Error> {
        let candidates: &[&str] = match (&request.reference, request.argument_name.as_str()) {
            (CompletionRef::Prompt(name), "arg1" | "arg2") if name == "test_prompt_with_arguments" => {
                &["paris", "park", "party", "test-value"]
            }
            (CompletionRef::ResourceTemplate(template), "id") if template == "test://template/{id}/data" => {
                &["1", "2", "123"]
            }
            _ => &[],
        };
        let values: Vec<String> = candidates
            .iter()
            .filter(|v| v.starts_with(request.argument_value.as_str()))
            .map(|v| (*v).to_owned())
            .collect();
        let total = u32::try_from(values.len()).ok();
        Ok(Completion { values, total, has_more: false })
    }
}

berth_sdk::export_plugin!(Conformance);
