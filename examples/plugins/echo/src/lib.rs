//! `echo`: berth's benchmark workload. One tool, `echo`, that returns its
//! `text` argument as a single text content item. Keep it exactly this small.

use berth_sdk::prelude::*;

struct Echo;

#[derive(serde::Deserialize)]
struct Args {
    text: String,
}

impl Plugin for Echo {
    fn tools() -> Vec<Tool> {
        vec![tool(
            "echo",
            "Returns the given text unchanged.",
            r#"{"type":"object","properties":{"text":{"type":"string","description":"Text to return"}},"required":["text"]}"#,
        )]
    }

    fn call_tool(_ctx: CallContext, name: String, arguments: String) -> Result<CallOutcome, Error> {
        match name.as_str() {
            "echo" => Ok(done(ToolResult::text(parse_args::<Args>(&arguments)?.text))),
            _ => Err(unknown_tool(&name)),
        }
    }
}

berth_sdk::export_plugin!(Echo);
