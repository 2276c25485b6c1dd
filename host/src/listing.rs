//! What a server loaded, as `berth serve` announces it and `berth list` prints it.

use serde_json::{Value, json};

use crate::exchange::Exchange;
use crate::runtime::mcp;

/// One line per loaded plugin: its name, file and tools, as `berth serve` prints them.
pub fn loaded(exchange: &Exchange) -> Vec<String> {
    let snapshot = exchange.registry().snapshot();
    snapshot
        .plugins()
        .iter()
        .map(|plugin| {
            let tools: Vec<&str> = plugin.catalog.tools.iter().map(|t| t.name.as_str()).collect();
            format!("loaded {} ({}): tools [{}]", plugin.name, plugin.path.display(), tools.join(", "))
        })
        .collect()
}

/// Every plugin with what it offers, as MCP describes each item (`berth list --json`).
pub fn listing_json(exchange: &Exchange) -> Value {
    let snapshot = exchange.registry().snapshot();
    let plugins: Vec<Value> = snapshot
        .plugins()
        .iter()
        .map(|p| {
            json!({
                "name": &*p.name,
                "path": p.path.display().to_string(),
                "tools": p.catalog.tools.iter().map(|t| mcp::tool(t, p.catalog.task_support(&t.name))).collect::<Vec<_>>(),
                "resources": p.catalog.resources.iter().map(mcp::resource).collect::<Vec<_>>(),
                "resourceTemplates": p.catalog.templates.iter().map(mcp::resource_template).collect::<Vec<_>>(),
                "prompts": p.catalog.prompts.iter().map(mcp::prompt).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "plugins": plugins })
}

/// Every plugin with what it offers, one item a line (`berth list`).
pub fn listing_text(exchange: &Exchange) -> String {
    let snapshot = exchange.registry().snapshot();
    if snapshot.plugins().is_empty() {
        return "no plugins found\n".to_owned();
    }
    let mut text = String::new();
    for plugin in snapshot.plugins() {
        text.push_str(&format!("{} ({})\n", plugin.name, plugin.path.display()));
        let describe = |d: &Option<String>| d.clone().unwrap_or_default();
        for tool in &plugin.catalog.tools {
            text.push_str(&format!("  tool      {:<24} {}\n", tool.name, describe(&tool.description)));
        }
        for resource in &plugin.catalog.resources {
            text.push_str(&format!("  resource  {:<24} {}\n", resource.uri, describe(&resource.description)));
        }
        for template in &plugin.catalog.templates {
            text.push_str(&format!("  template  {:<24} {}\n", template.uri_template, describe(&template.description)));
        }
        for prompt in &plugin.catalog.prompts {
            text.push_str(&format!("  prompt    {:<24} {}\n", prompt.name, describe(&prompt.description)));
        }
    }
    text
}
