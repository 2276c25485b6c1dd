//! What berth says about itself: server info, capabilities, the `initialize`
//! and `server/discover` results, and the decoration every 2026-07-28 result carries.

use std::sync::LazyLock;

use serde_json::{Value, json};

use super::Router;
use super::tasks::LEGACY_TASKS_VERSION;
use crate::protocol::jsonrpc::{Payload, Request};
use crate::protocol::{era, tasks};

/// What `initialize` and `server/discover` tell clients berth is for.
const INSTRUCTIONS: &str = "berth serves tools, resources and prompts from sandboxed WebAssembly plugins.";

/// berth's name and version as MCP `Implementation`.
pub(crate) fn server_info() -> Value {
    static INFO: LazyLock<Value> =
        LazyLock::new(|| json!({ "name": "berth", "title": "berth", "version": env!("CARGO_PKG_VERSION") }));
    INFO.clone()
}

/// What berth offers in protocol `version`: tasks as the 2026-07-28
/// extension, or as the 2025-11-25 capability; earlier revisions have none.
fn capabilities(version: &str) -> Value {
    let mut offered = json!({
        "tools": { "listChanged": true },
        "resources": { "subscribe": true, "listChanged": true },
        "prompts": { "listChanged": true },
        "completions": {},
        "logging": {},
    });
    if version == era::MODERN_VERSION {
        offered["extensions"] = json!({ tasks::EXTENSION: {} });
    } else if version == LEGACY_TASKS_VERSION {
        offered["tasks"] = json!({ "list": {}, "cancel": {}, "requests": { "tools": { "call": {} } } });
    }
    offered
}

impl Router {
    /// Answers `initialize` (legacy era): the negotiated version and what berth offers.
    pub(crate) fn initialize(&self, request: &Request) -> (&'static str, Value) {
        let requested = request.param("protocolVersion").and_then(Value::as_str);
        let version = era::negotiate_legacy(requested);
        let result = json!({
            "protocolVersion": version,
            "capabilities": capabilities(version),
            "serverInfo": server_info(),
            "instructions": INSTRUCTIONS,
        });
        (version, result)
    }

    /// `server/discover` (2026-07-28).
    pub(super) fn discover(&self) -> Value {
        json!({
            "supportedVersions": era::SUPPORTED_VERSIONS,
            "capabilities": capabilities(era::MODERN_VERSION),
            "instructions": INSTRUCTIONS,
        })
    }
}

/// Adds what every 2026-07-28 result carries: `resultType`, cache hints on
/// cacheable results (`private` ones when what they hold depends on the caller), and
/// berth's identity in `_meta`.
pub(super) fn decorate_modern(result: Payload, cacheable: bool, private: bool) -> Payload {
    match result {
        // A written result names none of these members (its writer's promise), and is
        // never a cacheable one: the decoration goes in front as text written once.
        Payload::Written(written) if !cacheable => Payload::Written(written.decorated(uncacheable_decoration())),
        other => Payload::Value(decorate_value(other.into_value(), cacheable, private)),
    }
}

/// The members [`decorate_value`] adds to a result of its own without `_meta` that
/// may not be cached, as JSON text, each followed by a comma.
fn uncacheable_decoration() -> &'static str {
    static TEXT: LazyLock<String> = LazyLock::new(|| {
        let members = decorate_value(json!({}), false, false);
        let text = serde_json::to_string(&members).unwrap_or_else(|_| "{}".to_owned());
        // `{"a":1,"b":{}}` → `"a":1,"b":{},`: exactly one brace off each end, whatever the
        // members' order (`trim_*_matches` would also eat a nested object's closing braces).
        let members = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or_default();
        if members.is_empty() { String::new() } else { format!("{members},") }
    });
    &TEXT
}

fn decorate_value(mut result: Value, cacheable: bool, private: bool) -> Value {
    if let Value::Object(object) = &mut result {
        let complete = object.get("resultType").is_none_or(|t| t == "complete");
        object.entry("resultType").or_insert_with(|| "complete".into());
        if cacheable && complete {
            // Lists change when plugins are reloaded, so clients revalidate
            // every time; without access rules nothing berth returns is specific to one user.
            object.entry("ttlMs").or_insert_with(|| 0.into());
            let scope = if private { "private" } else { "public" };
            object.entry("cacheScope").or_insert_with(|| scope.into());
        }
        let meta = object.entry("_meta").or_insert_with(|| json!({}));
        if let Value::Object(meta) = meta {
            meta.entry(era::SERVER_INFO_KEY).or_insert_with(server_info);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::jsonrpc::Written;

    #[test]
    fn a_written_result_is_decorated_as_its_value_would_be() {
        let members = r#""content":[{"type":"text","text":"hi"}],"isError":false"#;
        let value: Value = serde_json::from_str(&format!("{{{members}}}")).expect("valid JSON");
        let written = Payload::Written(Written::new(members.to_owned(), false));
        assert_eq!(decorate_modern(written, false, false).into_value(), decorate_value(value.clone(), false, false));
        // Cacheable (never the case for a written one today) still gets its hints.
        let cacheable = decorate_modern(Payload::Written(Written::new(members.to_owned(), false)), true, true);
        assert!(matches!(cacheable, Payload::Value(_)));
        assert_eq!(cacheable.into_value(), decorate_value(value, true, true));
    }
}
