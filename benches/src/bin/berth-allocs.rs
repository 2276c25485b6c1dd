//! berth-allocs: heap allocations per in-process call (parse the request bytes, route, call
//! the tool, map the result, serialize the answer; no transport), for `echo` fresh and
//! reuse and `hash` of 4 KiB, counted by the benches' allocator across every thread.
//!
//!     cargo run --release -p berth-benches --bin berth-allocs [CALLS] [--sites]
//!
//! `--sites` also lists where a reuse `echo` call's allocations happen (backtraces of ten
//! calls, grouped by their first frames outside the standard library), most first.

use berth::protocol::jsonrpc::{Message, parse};
use serde_json::json;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let calls: u64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(2_000);
    let sites = args.iter().any(|a| a == "--sites");
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
            let id = request.id.clone();
            let result = exchange.call(request).await.expect("the tool answers");
            berth::protocol::jsonrpc::success_bytes(&id, &result).len()
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
        if sites && name == "echo" && mode == "reuse" {
            print_sites(
                || {
                    rt.block_on(async {
                        for _ in 0..10 {
                            one().await;
                        }
                    })
                },
                10,
            );
        }
        if name == "echo" && mode == "reuse" {
            // The two ends of a call alone: parsing its bytes, serializing its result.
            let result = rt.block_on(async {
                let Ok(Message::Request(request)) = parse(&bytes) else { panic!("the request parses") };
                exchange.call(request).await.expect("the tool answers")
            });
            let (_, parsing) = berth_benches::allocations::count(|| parse(&bytes).is_ok());
            let (_, writing) =
                berth_benches::allocations::count(|| berth::protocol::jsonrpc::success_bytes(&json!(1), &result).len());
            println!(
                "  of which parsing the request: {} allocations; serializing the result: {}",
                parsing.allocations, writing.allocations
            );
        }
    }
}

/// Where `work` (`calls` calls) allocates, per call, grouped by the first frames outside
/// the standard library, most first.
fn print_sites(work: impl FnOnce(), calls: u64) {
    let ((), counted, traces) = berth_benches::allocations::traced(work);
    let mut by_site = std::collections::BTreeMap::<Vec<String>, u64>::new();
    for trace in &traces {
        *by_site.entry(berth_benches::allocations::site(trace, 3)).or_default() += 1;
    }
    let mut sites: Vec<_> = by_site.into_iter().collect();
    sites.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    println!("  where a reuse echo call allocates ({:.1} per call):", counted.allocations as f64 / calls as f64);
    for (site, count) in sites {
        println!("  {:>5.1}  {}", count as f64 / calls as f64, site.join("\n         <- "));
    }
}
