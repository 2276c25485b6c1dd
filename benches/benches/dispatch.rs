//! Dispatch latency of the `echo` tool: in process (router → fresh instance →
//! wasm → MCP result) and as one HTTP round trip to a server on loopback.
//!
//! `cargo bench -p berth-benches` (after `make plugins`).

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

use berth::protocol::era;
use berth::protocol::jsonrpc::{Message, parse};
use berth::router::{Era, RequestContext};

const TEXT: &str = "0123456789012345678901234567890123456789012345678901234567890123";

fn modern_call() -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {
            "name": "echo", "arguments": { "text": TEXT },
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": era::MODERN_VERSION,
                "io.modelcontextprotocol/clientCapabilities": {}
            }
        }
    })
}

/// In-process dispatch of `echo`, once per isolation mode.
fn dispatch(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("tokio");
    let bytes = modern_call().to_string().into_bytes();
    let mut group = c.benchmark_group("dispatch/echo");
    for (mode, reuse) in [("fresh", false), ("reuse", true)] {
        let (router, _dir) = rt.block_on(berth_benches::echo_router(reuse));
        group.bench_function(BenchmarkId::from_parameter(mode), |b| {
            b.to_async(&rt).iter(|| {
                let router = router.clone();
                let bytes = bytes.clone();
                async move {
                    let Ok(Message::Request(request)) = parse(&bytes) else { panic!("bench request does not parse") };
                    let envelope = era::check_modern(&request.method, request.params_object(), None).expect("envelope");
                    let cx = RequestContext::new(&request, Era::Modern(envelope), None, Default::default());
                    router.handle(&request, &cx).await.expect("echo answers")
                }
            })
        });
    }
    group.finish();
}

fn http_roundtrip(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("tokio");
    let url = rt.block_on(async {
        let router = berth_benches::bundled_router().await;
        let listener = berth::server::bind("127.0.0.1:0".parse().expect("addr")).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let config = berth::config::Config::default();
        tokio::spawn(async move { berth::server::serve_http(listener, router, &config).await });
        format!("http://{addr}/mcp")
    });
    let client = Arc::new(reqwest::Client::builder().tcp_nodelay(true).build().expect("client"));
    let body = modern_call().to_string();
    c.bench_function("http/echo/json", |b| {
        b.to_async(&rt).iter(|| {
            let client = client.clone();
            let url = url.clone();
            let body = body.clone();
            async move {
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("accept", "application/json, text/event-stream")
                    .header("mcp-protocol-version", era::MODERN_VERSION)
                    .header("mcp-method", "tools/call")
                    .header("mcp-name", "echo")
                    .body(body)
                    .send()
                    .await
                    .expect("send");
                assert!(response.status().is_success());
                response.bytes().await.expect("body")
            }
        })
    });
}

criterion_group!(benches, dispatch, http_roundtrip);
criterion_main!(benches);
