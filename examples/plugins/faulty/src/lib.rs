//! `faulty`: a test fixture that misbehaves on purpose. Never ship it in `plugins/`.
//!
//! - `faulty_ok` answers `ok` (proves the plugin still serves after a failure).
//! - `faulty_trap` panics, which aborts the instance with a wasm trap.
//! - `faulty_spin` loops forever; only the host's deadline stops it.
//! - `faulty_hog` allocates memory without end; only the host's cap stops it.
//! - `faulty_print` writes to stdout and stderr, which must reach the host's
//!   log and never a transport.
//! - `faulty_flood_output`, `faulty_flood_stdout`: huge answers and endless output.
//! - `faulty_sleep` blocks in a host call (a clock wait) for a minute.
//! - `faulty_escape` tries files, environment and network it was not granted.
//! - `faulty_memo` (instance memory), `faulty_counter` and `faulty_kv_clear` (kv store), `faulty_env`
//!   and `faulty_read` show what isolation and grants allow.
//! - `faulty_strict` has a schema with every kind of constraint, for the argument checks;
//!   `faulty_broken` (only with FAULTY_BROKEN_SCHEMA granted) a schema that does not compile;
//!   `faulty_counted` structured output that can break its output schema.
//! - `faulty_flip` hides or shows `faulty_region` (a tool with an `Mcp-Param-Region`
//!   header) and announces the change, so its catalog changes under load (needs `kv = true`).

use berth_sdk::prelude::*;

struct Faulty;

const NO_ARGS: &str = r#"{"type":"object","properties":{}}"#;
/// A schema with every kind of constraint the argument checks report on.
const STRICT_SCHEMA: &str = r#"{"type":"object","properties":{
    "name":{"type":"string"},
    "mode":{"enum":["fast","slow"]},
    "point":{"type":"object","properties":{"x":{"type":"integer"},"y":{"type":"integer"}},"required":["x","y"]},
    "values":{"type":"array","items":{"type":"integer"},"maxItems":100}
  },"required":["name"],"additionalProperties":false}"#;
/// The key-value entry that hides `faulty_region` while present.
const REGION_HIDDEN: &str = "region-hidden";

impl Plugin for Faulty {
    fn tools() -> Vec<Tool> {
        let mut tools = vec![
            tool("faulty_ok", "Answers ok.", NO_ARGS),
            tool("faulty_trap", "Panics (a wasm trap).", NO_ARGS),
            tool("faulty_spin", "Loops forever.", NO_ARGS),
            tool("faulty_hog", "Allocates memory until stopped.", NO_ARGS),
            tool("faulty_print", "Prints to stdout and stderr, then answers printed.", NO_ARGS),
            tool(
                "faulty_flood_output",
                "Returns `mib` MiB of text.",
                r#"{"type":"object","properties":{"mib":{"type":"integer"}}}"#,
            ),
            tool("faulty_flood_stdout", "Writes 100,000 lines to stdout, then answers.", NO_ARGS),
            tool("faulty_sleep", "Sleeps for a minute inside a host call.", NO_ARGS),
            tool(
                "faulty_slow",
                "Sleeps `ms` milliseconds (default 200), then answers slept.",
                r#"{"type":"object","properties":{"ms":{"type":"integer"}}}"#,
            ),
            tool(
                "faulty_escape",
                "Tries to read /etc/passwd, the environment and the network; reports what worked.",
                r#"{"type":"object","properties":{"port":{"type":"integer"}}}"#,
            ),
            tool(
                "faulty_memo",
                "Counts its calls in instance memory (1 every time unless instances are reused).",
                NO_ARGS,
            ),
            tool("faulty_counter", "Counts its calls in the key-value store.", NO_ARGS),
            tool("faulty_kv_clear", "Deletes every key in the key-value store and names them.", NO_ARGS),
            tool(
                "faulty_env",
                "Returns the environment variable `name`.",
                r#"{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}"#,
            ),
            tool(
                "faulty_fetch",
                "GETs `url` (http://host[:port]/path) through wasi:http; returns status and body.",
                r#"{"type":"object","properties":{"url":{"type":"string"}},"required":["url"]}"#,
            ),
            tool(
                "faulty_read",
                "Returns the text of file `path`.",
                r#"{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}"#,
            ),
            tool("faulty_flip", "Hides or shows faulty_region and announces the tool list change.", NO_ARGS),
            tool("faulty_strict", "Answers `ok` to arguments that fit its strict schema.", STRICT_SCHEMA),
        ];
        // Promises an integer `count` in its structured output and breaks the promise when asked.
        let mut counted = tool(
            "faulty_counted",
            "Returns structured output {count}; with `lie: true`, a count that is not an integer.",
            r#"{"type":"object","properties":{"lie":{"type":"boolean"}}}"#,
        );
        counted.output_schema =
            Some(r#"{"type":"object","properties":{"count":{"type":"integer"}},"required":["count"]}"#.to_owned());
        tools.push(counted);
        // A schema no validator accepts ("strnig"), declared only when the operator grants
        // FAULTY_BROKEN_SCHEMA: the host must refuse the whole plugin, naming this tool.
        if std::env::var("FAULTY_BROKEN_SCHEMA").is_ok() {
            tools.push(tool(
                "faulty_broken",
                "Declares an input schema that does not compile.",
                r#"{"type":"object","properties":{"a":{"type":"strnig"}}}"#,
            ));
        }
        // Shown unless `faulty_flip` hid it (a store the plugin may not have counts as shown).
        if !matches!(kv_get(REGION_HIDDEN), Ok(Some(_))) {
            tools.push(tool(
                "faulty_region",
                "Echoes a region that clients mirror into the Mcp-Param-Region header.",
                r#"{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"}},"required":["region"]}"#,
            ));
        }
        tools
    }

    fn call_tool(_ctx: CallContext, name: String, arguments: String) -> Result<CallOutcome, Error> {
        match name.as_str() {
            "faulty_ok" => Ok(done(ToolResult::text("ok"))),
            "faulty_trap" => panic!("faulty_trap was called"),
            "faulty_spin" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "faulty_hog" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1024 * 1024]);
                    std::hint::black_box(&hoard);
                }
            }
            "faulty_flood_output" => {
                let args: serde_json::Value = parse_args(&arguments)?;
                let mib = args["mib"].as_u64().unwrap_or(100) as usize;
                Ok(done(ToolResult::text("x".repeat(mib * 1024 * 1024))))
            }
            "faulty_flood_stdout" => {
                for i in 0..100_000 {
                    println!("flood line {i}");
                }
                Ok(done(ToolResult::text("flooded")))
            }
            "faulty_sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(60));
                Ok(done(ToolResult::text("woke up")))
            }
            "faulty_slow" => {
                let args: serde_json::Value = parse_args(&arguments)?;
                let ms = args["ms"].as_u64().unwrap_or(200);
                std::thread::sleep(std::time::Duration::from_millis(ms));
                Ok(done(ToolResult::text("slept")))
            }
            "faulty_escape" => {
                let args: serde_json::Value = parse_args(&arguments)?;
                let port = args["port"].as_u64().unwrap_or(80) as u16;
                let report = serde_json::json!({
                    "passwd": std::fs::read_to_string("/etc/passwd").is_ok(),
                    "root_dir": std::fs::read_dir("/").is_ok(),
                    "env_count": std::env::vars().count(),
                    "home": std::env::var("HOME").ok(),
                    "tcp": std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
                });
                Ok(done(ToolResult::text(report.to_string())))
            }
            "faulty_memo" => {
                static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                Ok(done(ToolResult::text(n.to_string())))
            }
            "faulty_counter" => {
                let current = match kv_get("count") {
                    Ok(value) => {
                        value.and_then(|v| String::from_utf8(v).ok()).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
                    }
                    Err(denied) => return Ok(done(ToolResult::error(denied.to_string()))),
                };
                let next = current + 1;
                if let Err(e) = kv_set("count", next.to_string().as_bytes()) {
                    return Ok(done(ToolResult::error(e.to_string())));
                }
                Ok(done(ToolResult::text(next.to_string())))
            }
            "faulty_flip" => {
                let hidden = kv_get(REGION_HIDDEN)?.is_some();
                if hidden {
                    kv_delete(REGION_HIDDEN)?
                } else {
                    kv_set(REGION_HIDDEN, b"1")?
                }
                list_changed(ListKind::Tools);
                Ok(done(ToolResult::text(if hidden { "shown" } else { "hidden" })))
            }
            "faulty_region" => {
                let args: serde_json::Value = parse_args(&arguments)?;
                Ok(done(ToolResult::text(format!("region={}", args["region"].as_str().unwrap_or_default()))))
            }
            "faulty_strict" => Ok(done(ToolResult::text("ok"))),
            "faulty_counted" => {
                let args: serde_json::Value = parse_args(&arguments)?;
                let count = if args["lie"] == true { serde_json::json!("three") } else { serde_json::json!(3) };
                Ok(done(ToolResult::json(&serde_json::json!({ "count": count }))))
            }
            "faulty_kv_clear" => {
                // `?` turns a store failure into the plugin's internal error.
                let keys = kv_keys()?;
                for key in &keys {
                    kv_delete(key)?;
                }
                Ok(done(ToolResult::text(keys.join(","))))
            }
            "faulty_env" => {
                let args: serde_json::Value = parse_args(&arguments)?;
                let name = args["name"].as_str().unwrap_or_default();
                Ok(done(match std::env::var(name) {
                    Ok(value) => ToolResult::text(value),
                    Err(_) => ToolResult::error(format!("{name} is not set")),
                }))
            }
            "faulty_read" => {
                let args: serde_json::Value = parse_args(&arguments)?;
                let path = args["path"].as_str().unwrap_or_default();
                Ok(done(match std::fs::read_to_string(path) {
                    Ok(text) => ToolResult::text(text),
                    Err(e) => ToolResult::error(format!("cannot read {path}: {e}")),
                }))
            }
            "faulty_fetch" => {
                let args: serde_json::Value = parse_args(&arguments)?;
                let url = args["url"].as_str().unwrap_or_default();
                Ok(done(match fetch(url) {
                    Ok(body) => ToolResult::text(body),
                    Err(e) => ToolResult::error(e),
                }))
            }
            "faulty_print" => {
                println!("faulty plugin says hello on stdout");
                eprintln!("faulty plugin says hello on stderr");
                Ok(done(ToolResult::text("printed")))
            }
            _ => Err(unknown_tool(&name)),
        }
    }
}

/// A GET through `wasi:http`, for the outbound-HTTP grant tests.
fn fetch(url: &str) -> Result<String, String> {
    use wasi::http::outgoing_handler;
    use wasi::http::types::{Fields, OutgoingRequest, Scheme};
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (authority, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let request = OutgoingRequest::new(Fields::new());
    request.set_scheme(Some(&Scheme::Http)).map_err(|_| "bad scheme")?;
    request.set_authority(Some(authority)).map_err(|_| "bad authority")?;
    request.set_path_with_query(Some(&path)).map_err(|_| "bad path")?;
    let pending = outgoing_handler::handle(request, None).map_err(|e| format!("request refused: {e:?}"))?;
    pending.subscribe().block();
    let response = match pending.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(e))) => return Err(format!("request failed: {e:?}")),
        _ => return Err("no response".into()),
    };
    let status = response.status();
    let body = response.consume().map_err(|_| "no body")?;
    let stream = body.stream().map_err(|_| "no body stream")?;
    let mut bytes = Vec::new();
    while let Ok(chunk) = stream.blocking_read(64 * 1024) {
        bytes.extend_from_slice(&chunk);
    }
    Ok(format!("{status} {}", String::from_utf8_lossy(&bytes)))
}

berth_sdk::export_plugin!(Faulty);
