//! berth-floor-wasm: the floor with a bare wasmtime call in it, the most a wasm host on
//! berth's stack could answer on this machine.
//!
//! The floor's server (axum, serde_json, mimalloc, TCP_NODELAY; no MCP, no sessions) whose
//! `tools/call echo` answer comes from the `echo` component called straight through wasmtime
//! on berth's own engine (the criterion baseline, `berth_benches::baseline`): a new instance
//! per call (`fresh`), or one of a stack of warm ones (`warm`). No routing, checks, permits,
//! deadlines or metrics: what berth does beyond this shows up as the gap to it.
//!
//!   berth-floor-wasm fresh|warm [ADDR] [--small-pool]
//!
//! ADDR defaults to 127.0.0.1:0; it prints the URL it serves. `--small-pool` sizes the engine's
//! pool as benches/request-cost.sh sizes berth's (4 instances of at most 64 MiB), small enough
//! for valgrind to map; by default it is berth's default pool.
//!
//! Run from the repository (it reads plugins/echo.wasm; `make plugins` builds it).

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt;
use berth_benches::baseline::{Baseline, Warm};
use serde_json::{Value, json};

/// How each call gets its instance.
#[derive(Clone, Copy, PartialEq)]
enum Isolation {
    Fresh,
    Warm,
}

/// The compiled component and, for `warm`, the instances not in use.
struct Wasm {
    baseline: Baseline,
    isolation: Isolation,
    idle: Mutex<Vec<Warm>>,
}

impl Wasm {
    /// One `call-tool` of `echo` with `arguments` (JSON text); the text it answered.
    async fn call(&self, arguments: &str) -> Result<String, String> {
        if self.isolation == Isolation::Fresh {
            return self.baseline.call_tool_fresh("echo", arguments).await.map_err(|e| format!("{e:#}"));
        }
        let taken = self.idle.lock().map_err(|_| "the idle list is poisoned")?.pop();
        let mut warm = match taken {
            Some(warm) => warm,
            None => self.baseline.warm().await.map_err(|e| format!("{e:#}"))?,
        };
        let text = warm.call_tool("echo", arguments).await.map_err(|e| format!("{e:#}"))?;
        self.idle.lock().map_err(|_| "the idle list is poisoned")?.push(warm);
        Ok(text)
    }
}

/// The echo result for a `tools/call` body, from the component; a JSON-RPC error for anything else.
async fn answer(State(wasm): State<Arc<Wasm>>, body: Bytes) -> Response {
    let json_answer = |status: StatusCode, reply: Value| {
        (status, [(header::CONTENT_TYPE, "application/json")], reply.to_string()).into_response()
    };
    let request: Value = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            let error = json!({ "jsonrpc": "2.0", "id": null, "error": { "code": -32700, "message": e.to_string() } });
            return json_answer(StatusCode::BAD_REQUEST, error);
        }
    };
    let id = &request["id"];
    if request["method"] != "tools/call" || request["params"]["name"] != "echo" {
        let error = json!({ "code": -32601, "message": "the floor answers tools/call echo only" });
        return json_answer(StatusCode::OK, json!({ "jsonrpc": "2.0", "id": id, "error": error }));
    }
    let arguments = request["params"]["arguments"].to_string();
    match wasm.call(&arguments).await {
        Ok(text) => json_answer(
            StatusCode::OK,
            json!({ "jsonrpc": "2.0", "id": id, "result": { "content": [{ "type": "text", "text": text }] } }),
        ),
        Err(message) => {
            let error = json!({ "code": -32603, "message": message });
            json_answer(StatusCode::OK, json!({ "jsonrpc": "2.0", "id": id, "error": error }))
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let isolation = match args.next().as_deref() {
        Some("fresh") => Isolation::Fresh,
        Some("warm") => Isolation::Warm,
        _ => {
            eprintln!("usage: berth-floor-wasm fresh|warm [ADDR] [--small-pool]");
            return ExitCode::from(2);
        }
    };
    let rest: Vec<String> = args.collect();
    let small_pool = rest.iter().any(|a| a == "--small-pool");
    let addr = rest.iter().find(|a| !a.starts_with("--")).map_or("127.0.0.1:0", String::as_str);
    match serve(isolation, addr, small_pool).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berth-floor-wasm: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(isolation: Isolation, addr: &str, small_pool: bool) -> Result<(), String> {
    let path = berth_benches::plugins_dir().join("echo.wasm");
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {} (run make plugins): {e}", path.display()))?;
    let pool = if small_pool { berth_benches::small_pool() } else { berth::config::Config::default().pool };
    let baseline =
        Baseline::with_pool(&bytes, &pool).map_err(|e| format!("cannot compile {}: {e:#}", path.display()))?;
    let wasm = Arc::new(Wasm { baseline, isolation, idle: Mutex::new(Vec::new()) });
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    println!("berth-floor-wasm listening on http://{local}/mcp");
    // As berth and the floor do: Nagle would hold each small response for a delayed ACK.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = axum::Router::new().route("/mcp", post(answer)).with_state(wasm);
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}
