//! `textkit`: everyday text and JSON utilities as MCP tools.
//!
//! Tools: `hash` (SHA-256/SHA-512 hex digest), `base64` (encode/decode),
//! `json_query` (pick a value out of a JSON document with a path such as
//! `.items[0].name`), `regex_find` (all matches of a regular expression) and
//! `text_stats` (lines, words, characters, bytes).
//! Resources: `textkit://help` (this list, as Markdown) and the template
//! `textkit://sha256/{text}` (the digest of `text`).
//! Prompt: `explain_regex` (asks the model to explain a pattern).

mod query;

use base64::Engine as _;
use berth_sdk::prelude::*;
use serde::Deserialize;
use serde_json::json;
use sha2::Digest as _;

struct Textkit;

const HELP: &str = "# textkit\n\n\
- `hash` — SHA-256 (default) or SHA-512 hex digest of `text`\n\
- `base64` — encode `text` to base64, or decode base64 `text` back to UTF-8\n\
- `json_query` — select a value from the JSON document `json` with a path like `.a.b[0]`\n\
- `regex_find` — every match of `pattern` in `text` (at most `limit`, default 100)\n\
- `text_stats` — line, word, character and byte counts of `text`\n\n\
Resource template `textkit://sha256/{text}` reads as the SHA-256 of `text`.\n";

#[derive(Deserialize)]
struct HashArgs {
    text: String,
    #[serde(default)]
    algorithm: Option<String>,
}

#[derive(Deserialize)]
struct Base64Args {
    text: String,
    mode: String,
}

#[derive(Deserialize)]
struct QueryArgs {
    json: String,
    path: String,
}

#[derive(Deserialize)]
struct RegexArgs {
    pattern: String,
    text: String,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize)]
struct TextArgs {
    text: String,
}

#[derive(Deserialize)]
struct ExplainArgs {
    pattern: String,
}

fn sha256_hex(text: &str) -> String {
    hex(&sha2::Sha256::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash(args: HashArgs) -> ToolResult {
    match args.algorithm.as_deref().unwrap_or("sha256") {
        "sha256" => ToolResult::text(sha256_hex(&args.text)),
        "sha512" => ToolResult::text(hex(&sha2::Sha512::digest(args.text.as_bytes()))),
        other => ToolResult::error(format!("unknown algorithm {other:?}: use sha256 or sha512")),
    }
}

fn base64(args: Base64Args) -> ToolResult {
    let engine = base64::engine::general_purpose::STANDARD;
    match args.mode.as_str() {
        "encode" => ToolResult::text(engine.encode(args.text.as_bytes())),
        "decode" => match engine.decode(args.text.trim()) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(decoded) => ToolResult::text(decoded),
                Err(_) => ToolResult::error("the decoded bytes are not UTF-8 text"),
            },
            Err(e) => ToolResult::error(format!("not valid base64: {e}")),
        },
        other => ToolResult::error(format!("unknown mode {other:?}: use encode or decode")),
    }
}

fn json_query(args: QueryArgs) -> ToolResult {
    let document: serde_json::Value = match serde_json::from_str(&args.json) {
        Ok(document) => document,
        Err(e) => return ToolResult::error(format!("`json` is not valid JSON: {e}")),
    };
    match query::select(&document, &args.path) {
        Ok(Some(value)) => ToolResult::json(&json!({ "value": value })),
        Ok(None) => ToolResult::error(format!("nothing at path {}", args.path)),
        Err(e) => ToolResult::error(e),
    }
}

fn regex_find(args: RegexArgs) -> ToolResult {
    let re = match regex::Regex::new(&args.pattern) {
        Ok(re) => re,
        Err(e) => return ToolResult::error(format!("invalid pattern: {e}")),
    };
    let limit = args.limit.unwrap_or(100);
    let matches: Vec<_> = re
        .find_iter(&args.text)
        .take(limit)
        .map(|m| json!({ "match": m.as_str(), "start": m.start(), "end": m.end() }))
        .collect();
    ToolResult::json(&json!({ "count": matches.len(), "matches": matches }))
}

fn text_stats(args: TextArgs) -> ToolResult {
    let text = &args.text;
    ToolResult::json(&json!({
        "lines": text.lines().count(),
        "words": text.split_whitespace().count(),
        "characters": text.chars().count(),
        "bytes": text.len(),
    }))
}

impl Plugin for Textkit {
    fn tools() -> Vec<Tool> {
        let mut stats = tool(
            "text_stats",
            "Counts lines, words, characters and bytes of a text.",
            r#"{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}"#,
        );
        stats.output_schema = Some(
            r#"{"type":"object","properties":{"lines":{"type":"integer"},"words":{"type":"integer"},"characters":{"type":"integer"},"bytes":{"type":"integer"}},"required":["lines","words","characters","bytes"]}"#
                .to_owned(),
        );
        stats.annotations = Some(r#"{"readOnlyHint":true,"idempotentHint":true}"#.to_owned());
        vec![
            tool(
                "hash",
                "Hex digest of a text: SHA-256 by default, or SHA-512.",
                r#"{"type":"object","properties":{"text":{"type":"string"},"algorithm":{"type":"string","enum":["sha256","sha512"]}},"required":["text"]}"#,
            ),
            tool(
                "base64",
                "Encodes text to base64 or decodes base64 to text.",
                r#"{"type":"object","properties":{"text":{"type":"string"},"mode":{"type":"string","enum":["encode","decode"]}},"required":["text","mode"]}"#,
            ),
            tool(
                "json_query",
                "Selects a value from a JSON document with a path such as .items[0].name (. alone is the whole document).",
                r#"{"type":"object","properties":{"json":{"type":"string","description":"The JSON document"},"path":{"type":"string","description":"Path like .a.b[0]"}},"required":["json","path"]}"#,
            ),
            tool(
                "regex_find",
                "Finds every match of a regular expression (Rust regex syntax) in a text.",
                r#"{"type":"object","properties":{"pattern":{"type":"string"},"text":{"type":"string"},"limit":{"type":"integer","minimum":1}},"required":["pattern","text"]}"#,
            ),
            stats,
        ]
    }

    fn call_tool(_ctx: CallContext, name: String, arguments: String) -> Result<CallOutcome, Error> {
        let result = match name.as_str() {
            "hash" => hash(parse_args(&arguments)?),
            "base64" => base64(parse_args(&arguments)?),
            "json_query" => json_query(parse_args(&arguments)?),
            "regex_find" => regex_find(parse_args(&arguments)?),
            "text_stats" => text_stats(parse_args(&arguments)?),
            _ => return Err(unknown_tool(&name)),
        };
        Ok(done(result))
    }

    fn resources() -> Vec<Resource> {
        vec![Resource {
            uri: "textkit://help".to_owned(),
            name: "textkit-help".to_owned(),
            title: Some("textkit help".to_owned()),
            description: Some("What each textkit tool does".to_owned()),
            mime_type: Some("text/markdown".to_owned()),
            size: Some(HELP.len() as u64),
        }]
    }

    fn resource_templates() -> Vec<ResourceTemplate> {
        vec![ResourceTemplate {
            uri_template: "textkit://sha256/{text}".to_owned(),
            name: "sha256".to_owned(),
            title: None,
            description: Some("SHA-256 hex digest of the text in the URI".to_owned()),
            mime_type: Some("text/plain".to_owned()),
        }]
    }

    fn read_resource(_ctx: CallContext, uri: String) -> Result<Vec<ResourceContents>, Error> {
        let body = if uri == "textkit://help" {
            HELP.to_owned()
        } else if let Some(text) = uri.strip_prefix("textkit://sha256/") {
            sha256_hex(text)
        } else {
            return Err(Error::NotFound(format!("no resource {uri}")));
        };
        let mime = if uri == "textkit://help" { "text/markdown" } else { "text/plain" };
        Ok(vec![ResourceContents { uri, mime_type: Some(mime.to_owned()), body: ResourceBody::Text(body) }])
    }

    fn prompts() -> Vec<Prompt> {
        vec![prompt(
            "explain_regex",
            "Asks the model to explain what a regular expression matches.",
            vec![prompt_argument("pattern", "The regular expression", true)],
        )]
    }

    fn get_prompt(_ctx: CallContext, name: String, arguments: String) -> Result<PromptOutcome, Error> {
        if name != "explain_regex" {
            return Err(Error::NotFound(format!("unknown prompt: {name}")));
        }
        let args: ExplainArgs = parse_args(&arguments)?;
        let mut result = PromptResult::user_text(format!(
            "Explain, step by step, what this regular expression matches and give two examples \
             that match and one that does not:\n\n{}",
            args.pattern
        ));
        result.description = Some("Explain a regular expression".to_owned());
        Ok(PromptOutcome::Complete(result))
    }
}

berth_sdk::export_plugin!(Textkit);
