//! Tools and a prompt that need answers from the client (multi-round-trip).
//!
//! Each returns `input-required` until the answers it needs are present in
//! `input-responses`; missing answers are asked for again rather than failed.

use berth_sdk::prelude::*;
use serde_json::{Value, json};

const NO_ARGS: &str = r#"{"type":"object","properties":{}}"#;

/// The multi-round-trip tools.
pub fn tools() -> Vec<Tool> {
    vec![
        tool(
            "test_sampling",
            "Asks the client's LLM to answer a prompt",
            r#"{"type":"object","properties":{"prompt":{"type":"string"}},"required":["prompt"]}"#,
        ),
        tool(
            "test_elicitation",
            "Asks the user for a username and email",
            r#"{"type":"object","properties":{"message":{"type":"string"}},"required":["message"]}"#,
        ),
        tool("test_elicitation_sep1034_defaults", "Elicitation whose fields all have defaults", NO_ARGS),
        tool("test_elicitation_sep1330_enums", "Elicitation with every enum variant", NO_ARGS),
        tool("test_input_required_result_elicitation", "Asks for the user's name, then greets them", NO_ARGS),
        tool("test_input_required_result_sampling", "Asks the client's LLM a question", NO_ARGS),
        tool("test_input_required_result_list_roots", "Asks the client for its roots", NO_ARGS),
        tool("test_input_required_result_request_state", "Round-trips request state", NO_ARGS),
        tool("test_input_required_result_multiple_inputs", "Asks three questions at once", NO_ARGS),
        tool("test_input_required_result_multi_round", "Asks two questions in two rounds", NO_ARGS),
        tool("test_input_required_result_tampered_state", "Round-trips integrity-protected state", NO_ARGS),
        tool("test_input_required_result_capabilities", "Asks only what the client declared it can answer", NO_ARGS),
        tool("test_missing_capability", "Needs sampling, which the client must declare", NO_ARGS),
        tool("test_streaming_elicitation", "Asks the user a question", NO_ARGS),
    ]
}

fn name_question(message: &str, field: &str) -> Value {
    json!({
        "message": message,
        "requestedSchema": { "type": "object", "properties": { field: { "type": "string" } }, "required": [field] }
    })
}

fn sampling(prompt: &str, max_tokens: u32) -> Value {
    json!({ "messages": [{ "role": "user", "content": { "type": "text", "text": prompt } }], "maxTokens": max_tokens })
}

/// The text of a sampling answer (`CreateMessageResult`).
fn sampled_text(answer: &Value) -> String {
    answer["content"]["text"].as_str().map(str::to_owned).unwrap_or_else(|| answer.to_string())
}

/// An elicitation answer as `action=..., content=...`.
fn elicited(answer: &Value) -> String {
    format!(
        "action={}, content={}",
        answer["action"].as_str().unwrap_or("unknown"),
        answer.get("content").unwrap_or(&Value::Null)
    )
}

fn finish(message: String) -> Result<CallOutcome, Error> {
    Ok(done(ToolResult::text(message)))
}

/// Asks the questions whose answers are missing, or returns `None` when all are present.
fn missing(ctx: &CallContext, questions: &[(&str, &str, Value)], state: Option<&str>) -> Option<CallOutcome> {
    let asks: Vec<InputRequest> = questions
        .iter()
        .filter(|(key, _, _)| input_response(ctx, key).is_none())
        .map(|(key, method, params)| ask(key, method, params))
        .collect();
    (!asks.is_empty()).then(|| input_required(asks, state.map(str::to_owned)))
}

/// Runs the multi-round-trip tool `name`.
pub fn call(ctx: &CallContext, name: &str, arguments: &str) -> Result<CallOutcome, Error> {
    let args: Value = parse_args(arguments)?;
    let answer = |key: &str| input_response(ctx, key).unwrap_or(Value::Null);
    match name {
        "test_sampling" => {
            let prompt = args["prompt"].as_str().unwrap_or("Hello");
            if let Some(asking) = missing(ctx, &[("sampling", "sampling/createMessage", sampling(prompt, 100))], None) {
                return Ok(asking);
            }
            finish(format!("LLM response: {}", sampled_text(&answer("sampling"))))
        }
        "test_elicitation" => {
            let schema = json!({
                "message": args["message"].as_str().unwrap_or("Please provide your information"),
                "requestedSchema": {
                    "type": "object",
                    "properties": {
                        "username": { "type": "string", "description": "User's response" },
                        "email": { "type": "string", "description": "User's email address" }
                    },
                    "required": ["username", "email"]
                }
            });
            if let Some(asking) = missing(ctx, &[("elicitation", "elicitation/create", schema)], None) {
                return Ok(asking);
            }
            finish(format!("User response: {}", elicited(&answer("elicitation"))))
        }
        "test_elicitation_sep1034_defaults" => {
            let schema = json!({
                "message": "Test client default value handling - please accept with defaults",
                "requestedSchema": {
                    "type": "object",
                    "properties": {
                        "name": { "type": "string", "description": "User name", "default": "John Doe" },
                        "age": { "type": "integer", "description": "User age", "default": 30 },
                        "score": { "type": "number", "description": "User score", "default": 95.5 },
                        "status": { "type": "string", "description": "User status", "enum": ["active", "inactive", "pending"], "default": "active" },
                        "verified": { "type": "boolean", "description": "Verification status", "default": true }
                    },
                    "required": []
                }
            });
            if let Some(asking) = missing(ctx, &[("defaults", "elicitation/create", schema)], None) {
                return Ok(asking);
            }
            finish(format!("Elicitation completed: {}", elicited(&answer("defaults"))))
        }
        "test_elicitation_sep1330_enums" => {
            let schema = json!({
                "message": "Test enum schema variants",
                "requestedSchema": {
                    "type": "object",
                    "properties": {
                        "untitledSingle": { "type": "string", "enum": ["option1", "option2", "option3"] },
                        "titledSingle": { "type": "string", "oneOf": [
                            { "const": "value1", "title": "First Option" },
                            { "const": "value2", "title": "Second Option" },
                            { "const": "value3", "title": "Third Option" }
                        ] },
                        "legacyEnum": { "type": "string", "enum": ["opt1", "opt2", "opt3"], "enumNames": ["Option One", "Option Two", "Option Three"] },
                        "untitledMulti": { "type": "array", "items": { "type": "string", "enum": ["option1", "option2", "option3"] } },
                        "titledMulti": { "type": "array", "items": { "anyOf": [
                            { "const": "value1", "title": "First Choice" },
                            { "const": "value2", "title": "Second Choice" },
                            { "const": "value3", "title": "Third Choice" }
                        ] } }
                    },
                    "required": []
                }
            });
            if let Some(asking) = missing(ctx, &[("enums", "elicitation/create", schema)], None) {
                return Ok(asking);
            }
            finish(format!("Elicitation completed: {}", elicited(&answer("enums"))))
        }
        "test_input_required_result_elicitation" => {
            let question = name_question("What is your name?", "name");
            if let Some(asking) = missing(ctx, &[("user_name", "elicitation/create", question)], None) {
                return Ok(asking);
            }
            let reply = answer("user_name");
            let name = reply["content"]["name"].as_str().unwrap_or("there");
            finish(format!("Hello, {name}!"))
        }
        "test_input_required_result_sampling" => {
            let question = sampling("What is the capital of France?", 100);
            if let Some(asking) = missing(ctx, &[("capital_question", "sampling/createMessage", question)], None) {
                return Ok(asking);
            }
            finish(format!("The model answered: {}", sampled_text(&answer("capital_question"))))
        }
        "test_input_required_result_list_roots" => {
            if let Some(asking) = missing(ctx, &[("client_roots", "roots/list", json!({}))], None) {
                return Ok(asking);
            }
            let roots = answer("client_roots");
            let uris: Vec<&str> = roots["roots"]
                .as_array()
                .map(|r| r.iter().filter_map(|r| r["uri"].as_str()).collect())
                .unwrap_or_default();
            finish(format!("Client roots: {}", uris.join(", ")))
        }
        "test_input_required_result_request_state" => {
            let question = json!({
                "message": "Please confirm",
                "requestedSchema": { "type": "object", "properties": { "ok": { "type": "boolean" } }, "required": ["ok"] }
            });
            let state = "awaiting-confirmation";
            if let Some(asking) = missing(ctx, &[("confirm", "elicitation/create", question)], Some(state)) {
                return Ok(asking);
            }
            if ctx.request_state.as_deref() != Some(state) {
                return Err(Error::InvalidParams("requestState is missing or not the one this tool issued".into()));
            }
            finish(format!("state-ok: confirmation {}", elicited(&answer("confirm"))))
        }
        "test_input_required_result_multiple_inputs" => {
            let questions = [
                ("user_name", "elicitation/create", name_question("What is your name?", "name")),
                ("greeting", "sampling/createMessage", sampling("Generate a greeting", 50)),
                ("client_roots", "roots/list", json!({})),
            ];
            if let Some(asking) = missing(ctx, &questions, Some("three-questions")) {
                return Ok(asking);
            }
            finish(format!(
                "All inputs received: name {}, greeting {}, roots {}",
                answer("user_name")["content"]["name"],
                sampled_text(&answer("greeting")),
                answer("client_roots")["roots"]
            ))
        }
        "test_input_required_result_multi_round" => {
            let step1 = || name_question("Step 1: What is your name?", "name");
            let step2 = || name_question("Step 2: What is your favorite color?", "color");
            match ctx.request_state.as_deref() {
                Some(state) if state.starts_with("round-2:") => {
                    if let Some(asking) = missing(ctx, &[("step2", "elicitation/create", step2())], Some(state)) {
                        return Ok(asking);
                    }
                    let name = state.trim_start_matches("round-2:");
                    finish(format!("Completed both rounds: name {name}, color {}", answer("step2")["content"]["color"]))
                }
                Some("round-1") => {
                    if let Some(asking) = missing(ctx, &[("step1", "elicitation/create", step1())], Some("round-1")) {
                        return Ok(asking);
                    }
                    let name = answer("step1")["content"]["name"].as_str().unwrap_or_default().to_owned();
                    Ok(input_required(
                        vec![ask("step2", "elicitation/create", &step2())],
                        Some(format!("round-2:{name}")),
                    ))
                }
                _ => Ok(input_required(vec![ask("step1", "elicitation/create", &step1())], Some("round-1".to_owned()))),
            }
        }
        "test_input_required_result_tampered_state" => {
            let question = name_question("What is your name?", "name");
            if let Some(asking) =
                missing(ctx, &[("user_name", "elicitation/create", question)], Some("integrity-protected"))
            {
                return Ok(asking);
            }
            finish("state verified".to_owned())
        }
        "test_input_required_result_capabilities" => {
            let mut questions = Vec::new();
            if client_supports(ctx, "elicitation") {
                questions.push(("user_name", "elicitation/create", name_question("What is your name?", "name")));
            }
            if client_supports(ctx, "sampling") {
                questions.push(("greeting", "sampling/createMessage", sampling("Generate a greeting", 50)));
            }
            if client_supports(ctx, "roots") {
                questions.push(("client_roots", "roots/list", json!({})));
            }
            if questions.is_empty() {
                return finish("The client declared no capability to answer questions with".to_owned());
            }
            if let Some(asking) = missing(ctx, &questions, None) {
                return Ok(asking);
            }
            finish(format!("Answered {} question(s)", questions.len()))
        }
        "test_missing_capability" => {
            if let Some(asking) = missing(ctx, &[("sampling", "sampling/createMessage", sampling("Say hi", 20))], None)
            {
                return Ok(asking);
            }
            finish(format!("LLM response: {}", sampled_text(&answer("sampling"))))
        }
        "test_streaming_elicitation" => {
            let question = name_question("What is your name?", "name");
            if let Some(asking) = missing(ctx, &[("user_name", "elicitation/create", question)], None) {
                return Ok(asking);
            }
            finish(format!("Received {}", elicited(&answer("user_name"))))
        }
        _ => Err(unknown_tool(name)),
    }
}

/// The `test_input_required_result_prompt` prompt.
pub fn prompt(ctx: &CallContext) -> Result<PromptOutcome, Error> {
    let question = name_question("What context should the prompt use?", "context");
    if input_response(ctx, "user_context").is_none() {
        return Ok(PromptOutcome::InputRequired(InputRequired {
            requests: vec![ask("user_context", "elicitation/create", &question)],
            request_state: None,
        }));
    }
    let context = input_response(ctx, "user_context").unwrap_or(Value::Null);
    let context = context["content"]["context"].as_str().unwrap_or("none").to_owned();
    Ok(PromptOutcome::Complete(PromptResult {
        description: Some("A prompt built from the user's context".to_owned()),
        messages: vec![PromptMessage { role: Role::User, content: text(format!("Use this context: {context}")) }],
    }))
}
