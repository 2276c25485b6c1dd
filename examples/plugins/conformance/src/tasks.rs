//! The fixtures of the Tasks extension scenarios (SEP-2663, `tasks-*`):
//! tools that run as tasks, fail, crash, ask questions from inside a task,
//! or ask before they become one.

use berth_sdk::prelude::*;
use serde_json::{Value, json};

const NAME_ARGS: &str = r#"{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}"#;
const SLOW_ARGS: &str =
    r#"{"type":"object","properties":{"seconds":{"type":"number","minimum":0},"label":{"type":"string"}}}"#;
const FILE_ARGS: &str = r#"{"type":"object","properties":{"filename":{"type":"string"}}}"#;
const NO_ARGS: &str = r#"{"type":"object","properties":{}}"#;

/// The task fixtures' tool definitions.
pub fn tools() -> Vec<Tool> {
    vec![
        tool("greet", "Says hello (never a task)", NAME_ARGS),
        tool("slow_compute", "Sleeps `seconds`, then answers (a task unless seconds is 0)", SLOW_ARGS),
        tool("failing_job", "Fails with a tool error after about a second (always a task)", NO_ARGS),
        tool("protocol_error_job", "Crashes into a protocol error (a task)", NO_ARGS),
        tool("confirm_delete", "Asks the user to confirm, from inside its task", FILE_ARGS),
        tool("multi_input", "Asks two questions at once, from inside its task", NO_ARGS),
        tool("test_tool_with_task", "Asks for a name first, then becomes a task that greets", NO_ARGS),
    ]
}

/// Which of them can run as tasks.
pub fn task_tools() -> Vec<(String, TaskSupport)> {
    let optional = ["slow_compute", "protocol_error_job", "confirm_delete", "multi_input"];
    let mut tools: Vec<(String, TaskSupport)> =
        optional.iter().map(|name| ((*name).to_owned(), TaskSupport::Optional)).collect();
    tools.push(("failing_job".to_owned(), TaskSupport::Required));
    tools.push(("test_tool_with_task".to_owned(), TaskSupport::Required));
    tools
}

/// Whether this call should become a task.
pub fn run_as_task(ctx: &CallContext, name: &str, arguments: &str) -> bool {
    let args: Value = serde_json::from_str(arguments).unwrap_or_default();
    match name {
        // The immediate shortcut: nothing to wait for.
        "slow_compute" => args["seconds"].as_f64().unwrap_or(1.0) > 0.0,
        // Ask for the name synchronously first; become a task once it is known.
        "test_tool_with_task" => input_response(ctx, "user_name").is_some(),
        _ => true,
    }
}

/// Sleeps `ms`, a little at a time, and says whether the call was cancelled meanwhile.
fn sleep_cancellable(ms: u64) -> bool {
    let step = 50;
    let mut slept = 0;
    while slept < ms {
        if cancelled() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(step.min(ms - slept)));
        slept += step;
    }
    cancelled()
}

fn name_question(message: &str, field: &str) -> Value {
    json!({
        "message": message,
        "requestedSchema": { "type": "object", "properties": { field: { "type": "string" } }, "required": [field] }
    })
}

/// Runs task fixture `name`, or `None` when `name` is not one.
pub fn call(ctx: &CallContext, name: &str, arguments: &str) -> Option<Result<CallOutcome, Error>> {
    let args: Value = serde_json::from_str(arguments).unwrap_or_default();
    let answer = |text: String| Ok(done(ToolResult::text(text)));
    Some(match name {
        "greet" => answer(format!("Hello, {}!", args["name"].as_str().unwrap_or("world"))),
        "slow_compute" => {
            let seconds = args["seconds"].as_f64().unwrap_or(1.0);
            let label = args["label"].as_str().unwrap_or("job");
            if sleep_cancellable((seconds * 1000.0) as u64) {
                Ok(done(ToolResult::error(format!("{label} was cancelled"))))
            } else {
                answer(format!("computed {label} in {seconds} s"))
            }
        }
        "failing_job" => {
            sleep_cancellable(1000);
            Ok(done(ToolResult::error("the job failed: the input could not be processed")))
        }
        "protocol_error_job" => Err(Error::Internal("the job crashed before it could produce a result".into())),
        "confirm_delete" => {
            let filename = args["filename"].as_str().unwrap_or("the file");
            match input_response(ctx, "confirm") {
                None => {
                    let question = json!({
                        "message": format!("Delete {filename}?"),
                        "requestedSchema": { "type": "object", "properties": { "confirm": { "type": "boolean" } }, "required": ["confirm"] }
                    });
                    Ok(input_required(vec![ask("confirm", "elicitation/create", &question)], None))
                }
                Some(response) if response["content"]["confirm"] == true => answer(format!("deleted {filename}")),
                Some(_) => answer(format!("kept {filename}")),
            }
        }
        "multi_input" => match (input_response(ctx, "first"), input_response(ctx, "second")) {
            (Some(first), Some(second)) => answer(format!("first={}, second={}", first["content"], second["content"])),
            _ => Ok(input_required(
                vec![
                    ask("first", "elicitation/create", &name_question("What is the first name?", "name")),
                    ask("second", "elicitation/create", &name_question("What is the second name?", "name")),
                ],
                None,
            )),
        },
        "test_tool_with_task" => match input_response(ctx, "user_name") {
            None => Ok(input_required(
                vec![ask("user_name", "elicitation/create", &name_question("What is your name?", "name"))],
                None,
            )),
            Some(response) => answer(format!("Hello, {}!", response["content"]["name"].as_str().unwrap_or("stranger"))),
        },
        _ => return None,
    })
}
