//! berth-floor: the physical limit of berth's stack on this machine.
//!
//! A plain axum/tokio/serde_json server (the versions and allocator berth
//! uses) that parses each POSTed JSON-RPC body and answers a `tools/call` of
//! `echo` with the echo result: no MCP layer, no sessions, no wasm. Anything
//! berth does on top of parsing and answering shows up as the gap to this.
//!
//!   berth-floor [ADDR]     (default 127.0.0.1:0; prints the URL it serves)

use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt;
use serde_json::{Value, json};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The echo result for a `tools/call` body; a JSON-RPC error for anything else.
async fn answer(body: Bytes) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            let error = json!({ "jsonrpc": "2.0", "id": null, "error": { "code": -32700, "message": e.to_string() } });
            return (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "application/json")], error.to_string())
                .into_response();
        }
    };
    let id = &request["id"];
    let reply = if request["method"] == "tools/call" && request["params"]["name"] == "echo" {
        let text = request["params"]["arguments"]["text"].as_str().unwrap_or_default();
        json!({ "jsonrpc": "2.0", "id": id, "result": { "content": [{ "type": "text", "text": text }] } })
    } else {
        json!({ "jsonrpc": "2.0", "id": id, "error": { "code": -32601, "message": "the floor answers tools/call echo only" } })
    };
    ([(header::CONTENT_TYPE, "application/json")], reply.to_string()).into_response()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("berth-floor listening on http://{}/mcp", listener.local_addr()?);
    // As berth does: Nagle would hold each small response for a delayed ACK.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, axum::Router::new().route("/mcp", post(answer))).await
}
