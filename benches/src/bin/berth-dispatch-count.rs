//! berth-dispatch-count: makes CALLS in-process `echo` calls on a warm instance, through
//! berth (exchange → router → pool → wasm → MCP result, as criterion's `dispatch/echo/reuse`)
//! or straight through bare wasmtime (criterion's `baseline/echo/warm`), for a profiler to
//! count. `benches/dispatch-cost.sh` runs it under callgrind.
//!
//!     berth-dispatch-count bare|berth|berth-unvalidated|clones CALLS
//!
//! Criterion copies each request outside its timing (`call` takes it by value); here the
//! copy is counted with the call, and `clones` makes only the copies, to subtract.
//! Both use berth's engine with a pool small enough for valgrind (4 instances, 64 MiB).

use std::process::ExitCode;

use berth::protocol::jsonrpc::{Message, parse};
use serde_json::json;

/// The scenario workload: 64 bytes of text.
const TEXT: &str = "0123456789012345678901234567890123456789012345678901234567890123";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(mode), Some(Ok(calls))) = (args.first(), args.get(1).map(|n| n.parse::<u64>())) else {
        eprintln!("usage: berth-dispatch-count bare|berth|berth-unvalidated|clones CALLS");
        return ExitCode::from(2);
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    let pool = berth_benches::small_pool();
    let arguments = json!({ "text": TEXT });
    rt.block_on(async {
        match mode.as_str() {
            "bare" => {
                let wasm = std::fs::read(berth_benches::plugins_dir().join("echo.wasm"))
                    .expect("plugins/echo.wasm: make plugins");
                let baseline = berth_benches::baseline::Baseline::with_pool(&wasm, &pool).expect("compile echo");
                let mut warm = baseline.warm().await.expect("warm instance");
                let arguments = arguments.to_string();
                for _ in 0..calls {
                    warm.call(&arguments).await.expect("call");
                }
            }
            "berth" | "berth-unvalidated" => {
                let validate = if mode == "berth" { "" } else { "validate = false\n" };
                let sidecar = format!("isolation = \"reuse\"\n{validate}");
                let config =
                    format!("[pool]\ninstances = {}\nmax_memory_mib = {}\n", pool.instances, pool.max_memory_mib);
                let (exchange, _dir) = berth_benches::plugin_exchange_configured("echo", &sidecar, &config).await;
                let call = berth::bench::modern_call("echo", &arguments);
                let Ok(Message::Request(request)) = parse(call.to_string().as_bytes()) else {
                    panic!("bench request does not parse")
                };
                for _ in 0..calls {
                    let result = exchange.call(request.clone()).await.expect("the tool answers");
                    assert!(!result.is_tool_error(), "{result:?}");
                }
            }
            "clones" => {
                let call = berth::bench::modern_call("echo", &arguments);
                let Ok(Message::Request(request)) = parse(call.to_string().as_bytes()) else {
                    panic!("bench request does not parse")
                };
                for _ in 0..calls {
                    std::hint::black_box(request.clone());
                }
            }
            other => panic!("unknown mode {other}: bare, berth, berth-unvalidated or clones"),
        }
    });
    ExitCode::SUCCESS
}
