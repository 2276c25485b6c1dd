//! berth-allocs: heap allocations per in-process call (parse the request bytes, route, call
//! the tool, map the result, serialize the answer; no transport), for `echo` fresh and
//! reuse and `hash` of 4 KiB, counted by the benches' allocator across every thread.
//!
//!     cargo run --release -p berth-benches --bin berth-allocs [CALLS]

use berth::protocol::jsonrpc::{Message, parse};
use serde_json::json;

fn main() {
    let calls: u64 = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(2_000);
    // One thread: nothing else runs while the calls are counted.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio");
    let text = "0123456789012345678901234567890123456789012345678901234567890123";
    let workloads = [
        ("echo", "echo", "fresh", "", json!({ "text": text })),
        ("echo", "echo", "reuse", "isolation = \"reuse\"\n", json!({ "text": text })),
        ("hash4k", "textkit", "fresh", "", json!({ "text": "x".repeat(4096) })),
        ("hash4k", "textkit", "reuse", "isolation = \"reuse\"\n", json!({ "text": "x".repeat(4096) })),
    ];
    println!(
        "{:<8} {:<6} {:>14} {:>14}   ({calls} calls, after 200 to warm up)",
        "tool", "mode", "allocs/call", "bytes/call"
    );
    for (name, plugin, mode, sidecar, arguments) in workloads {
        let (exchange, _dir) = rt.block_on(berth_benches::plugin_exchange(plugin, sidecar));
        let tool = if name == "hash4k" { "hash" } else { "echo" };
        let bytes = berth::bench::modern_call(tool, &arguments).to_string().into_bytes();
        let one = || async {
            let Ok(Message::Request(request)) = parse(&bytes) else { panic!("the request parses") };
            let result = exchange.call(request).await.expect("the tool answers");
            serde_json::to_vec(&result).expect("serializes").len()
        };
        rt.block_on(async {
            for _ in 0..200 {
                one().await;
            }
        });
        let (_, counted) = berth_benches::allocations::count(|| {
            rt.block_on(async {
                for _ in 0..calls {
                    one().await;
                }
            })
        });
        println!(
            "{name:<8} {mode:<6} {:>14.1} {:>14.0}",
            counted.allocations as f64 / calls as f64,
            counted.bytes as f64 / calls as f64
        );
        if name == "echo" && mode == "reuse" {
            // The two ends of a call alone: parsing its bytes, serializing its result.
            let result = rt.block_on(async {
                let Ok(Message::Request(request)) = parse(&bytes) else { panic!("the request parses") };
                exchange.call(request).await.expect("the tool answers")
            });
            let (_, parsing) = berth_benches::allocations::count(|| parse(&bytes).is_ok());
            let (_, writing) = berth_benches::allocations::count(|| serde_json::to_vec(&result).map(|v| v.len()));
            println!(
                "  of which parsing the request: {} allocations; serializing the result: {}",
                parsing.allocations, writing.allocations
            );
        }
    }
}
