//! Dispatch latency: in process (exchange → router → pool → wasm → MCP result) for
//! `echo` and a CPU tool in both isolation modes, the same `echo` called
//! through bare wasmtime (the baseline), JSON-RPC parse and serialize, and
//! one HTTP round trip through the full tower stack on loopback.
//!
//! `make bench` (or `make plugins` then `cargo bench -p berth-benches`).

use std::sync::Arc;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

use berth::protocol::era;
use berth::protocol::jsonrpc::{self, Message, parse};
use berth_benches::baseline::Baseline;

/// The scenario workload: 64 bytes of text.
const TEXT: &str = "0123456789012345678901234567890123456789012345678901234567890123";

fn modern_call(tool: &str, arguments: Value) -> Value {
    berth::bench::modern_call(tool, &arguments)
}

/// In-process dispatch, from a parsed request to the MCP result: routing
/// (era, envelope check, one snapshot load), registry lookup, permit,
/// instance (fresh or warm), wasm call, result mapping. `echo` (64 B) and
/// `hash` (SHA-256 of 4 KiB), fresh and reuse; `echo` also with argument
/// validation off (`*-unvalidated`), so its cost is a difference within one
/// run. Parsing and serializing are timed apart (`jsonrpc/*`).
fn dispatch(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("tokio");
    let mut group = c.benchmark_group("dispatch");
    let workloads = [
        ("echo", "echo", modern_call("echo", json!({ "text": TEXT }))),
        ("hash4k", "textkit", modern_call("hash", json!({ "text": "x".repeat(4096) }))),
    ];
    for (name, plugin, call) in workloads {
        let Ok(Message::Request(request)) = parse(call.to_string().as_bytes()) else {
            panic!("bench request does not parse")
        };
        let mut modes = vec![("fresh", ""), ("reuse", "isolation = \"reuse\"\n")];
        if name == "echo" {
            modes.push(("fresh-unvalidated", "validate = false\n"));
            modes.push(("reuse-unvalidated", "isolation = \"reuse\"\nvalidate = false\n"));
        }
        for (mode, sidecar) in modes {
            let (exchange, _dir) = rt.block_on(berth_benches::plugin_exchange(plugin, sidecar));
            group.bench_function(BenchmarkId::new(name, mode), |b| {
                // The request is copied outside the timed part: `call` takes it by value.
                b.to_async(&rt).iter_batched(
                    || (exchange.clone(), request.clone()),
                    |(exchange, request)| async move {
                        let result = exchange.call(request).await.expect("the tool answers");
                        assert!(!result.is_tool_error(), "{result:?}");
                        result
                    },
                    BatchSize::SmallInput,
                )
            });
        }
    }
    group.finish();
}

/// `count` access rules for teams `team-0`…, each granting its own plugin, and a last
/// one for `caller` granting tools by glob (`ech*`); `anyone` makes the last rule match
/// every caller instead.
fn rules(count: usize, last: &str) -> String {
    let mut text = String::new();
    for n in 0..count.saturating_sub(1) {
        text.push_str(&format!("[[rules]]\nidentities = [\"team-{n}\"]\nplugins = [\"plugin-{n}\"]\n"));
    }
    text.push_str(&format!("[[rules]]\n{last}\ntools = [\"ech*\"]\n"));
    text
}

/// What access rules cost a request: the grant (the "who" of the caller's candidate
/// rules checked) and one tool checked against it. A named token is looked up among the
/// rules naming it (1 to 1,000 rules for other teams beside its own); an OAuth caller is
/// checked against every rule naming no identity (`by-scope`). And a whole in-process
/// `echo` call (reuse) under 100 rules, beside the same call with none (`dispatch/echo/reuse`).
fn access(c: &mut Criterion) {
    let mut group = c.benchmark_group("access/decision");
    for count in [1, 10, 100, 1000] {
        let decision = berth::bench::AccessDecision::new(&rules(count, "identities = [\"ci\"]"), "ci").expect("rules");
        assert!(decision.allows("echo", "echo"));
        group.bench_function(BenchmarkId::from_parameter(count), |b| {
            b.iter(|| decision.allows(std::hint::black_box("echo"), std::hint::black_box("echo")))
        });
    }
    // OAuth callers are matched by scope against every rule that names no identity.
    for count in [10, 100] {
        let text = rules(count, "scopes = [\"mcp\"]").replace("identities = [\"team-", "scopes = [\"team-");
        let claims = json!({ "iss": "https://auth.example", "sub": "user-1", "scope": "openid mcp" });
        let decision = berth::bench::AccessDecision::new(&text, "unused").expect("rules").for_claims(claims);
        assert!(decision.allows("echo", "echo"));
        group.bench_function(BenchmarkId::new("by-scope", count), |b| {
            b.iter(|| decision.allows(std::hint::black_box("echo"), std::hint::black_box("echo")))
        });
    }
    group.finish();
    let rt = tokio::runtime::Runtime::new().expect("tokio");
    let Ok(Message::Request(request)) = parse(modern_call("echo", json!({ "text": TEXT })).to_string().as_bytes())
    else {
        panic!("bench request does not parse")
    };
    let config = rules(100, "anyone = true").replace("[[rules]]", "[[access.rules]]");
    let (exchange, _dir) =
        rt.block_on(berth_benches::plugin_exchange_configured("echo", "isolation = \"reuse\"\n", &config));
    c.benchmark_group("dispatch").bench_function(BenchmarkId::new("echo", "reuse-100-rules"), |b| {
        b.to_async(&rt).iter_batched(
            || (exchange.clone(), request.clone()),
            |(exchange, request)| async move { exchange.call(request).await.expect("the tool answers") },
            BatchSize::SmallInput,
        )
    });
}

/// The same `echo` component through bare wasmtime: no berth code.
fn baseline(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("tokio");
    let wasm = std::fs::read(berth_benches::plugins_dir().join("echo.wasm")).expect("plugins/echo.wasm: make plugins");
    let baseline = Arc::new(Baseline::new(&wasm).expect("compile echo"));
    let arguments = json!({ "text": TEXT }).to_string();
    let mut group = c.benchmark_group("baseline/echo");
    group.bench_function(BenchmarkId::from_parameter("fresh"), |b| {
        b.to_async(&rt).iter(|| {
            let baseline = baseline.clone();
            let arguments = arguments.clone();
            async move { baseline.call_fresh(&arguments).await.expect("call") }
        })
    });
    let warm = rt.block_on(baseline.warm()).expect("warm instance");
    let warm = Arc::new(tokio::sync::Mutex::new(warm));
    group.bench_function(BenchmarkId::from_parameter("warm"), |b| {
        b.to_async(&rt).iter(|| {
            let warm = warm.clone();
            let arguments = arguments.clone();
            async move { warm.lock().await.call(&arguments).await.expect("call") }
        })
    });
    group.finish();
}

/// JSON-RPC framing alone: parse + envelope check, and a reply's serialization.
fn json_rpc(c: &mut Criterion) {
    let bytes = modern_call("echo", json!({ "text": TEXT })).to_string().into_bytes();
    let result = json!({ "content": [{ "type": "text", "text": TEXT }], "isError": false, "resultType": "complete" });
    let mut group = c.benchmark_group("jsonrpc");
    group.bench_function("parse", |b| {
        b.iter(|| {
            let Ok(Message::Request(request)) = parse(&bytes) else { panic!("does not parse") };
            era::check_modern(&request, None).expect("envelope")
        })
    });
    group.bench_function("serialize", |b| b.iter(|| jsonrpc::success(&json!(1), result.clone()).to_string()));
    group.finish();
}

/// One keep-alive HTTP/1.1 POST through berth's full stack (tower layers included).
fn http_roundtrip(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("tokio");
    let url = rt.block_on(async {
        let exchange = berth_benches::bundled_exchange().await;
        let listener = berth::server::bind("127.0.0.1:0".parse().expect("addr")).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let config = berth::config::Config::default();
        tokio::spawn(async move { berth::server::serve_http(listener, exchange, &config).await });
        format!("http://{addr}/mcp")
    });
    berth::install_crypto_provider();
    let client = Arc::new(reqwest::Client::builder().tcp_nodelay(true).build().expect("client"));
    let body = modern_call("echo", json!({ "text": TEXT })).to_string();
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

criterion_group!(benches, dispatch, access, baseline, json_rpc, http_roundtrip);
criterion_main!(benches);
