//! `bulk`: a test fixture with 250 tools, for pagination tests. Never ship it in `plugins/`.

use berth_sdk::prelude::*;

struct Bulk;

const COUNT: usize = 250;

impl Plugin for Bulk {
    fn tools() -> Vec<Tool> {
        (0..COUNT)
            .map(|i| {
                tool(&format!("bulk_{i:03}"), &format!("Bulk tool number {i}"), r#"{"type":"object","properties":{}}"#)
            })
            .collect()
    }

    fn call_tool(_ctx: CallContext, name: String, _arguments: String) -> Result<CallOutcome, Error> {
        match name.strip_prefix("bulk_") {
            Some(number) => Ok(done(ToolResult::text(number))),
            None => Err(unknown_tool(&name)),
        }
    }
}

berth_sdk::export_plugin!(Bulk);
