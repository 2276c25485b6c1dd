//! berth-bare: one tool of any plugin called straight through wasmtime, back to back, timed
//! per call as `berth bench` times berth's: what bare wasmtime takes for the same call on the
//! same engine, with no berth code (`berth_benches::baseline`).
//!
//!     berth-bare PLUGIN.wasm TOOL ARGS_JSON [CALLS] [WARMUP]
//!
//! TOOL is the plugin's own name for the tool (no prefix). Prints one line per isolation
//! (`fresh`: a new pooled instance per call; `warm`: one instance for every call) with p50 and
//! p99 in µs, and with `--json` (last) the same as one JSON object.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use berth_benches::baseline::Baseline;
use serde_json::json;

/// The call's arguments, parsed from the command line.
struct Args {
    wasm: String,
    tool: String,
    arguments: String,
    calls: usize,
    warmup: usize,
    json: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.last().is_some_and(|a| a == "--json");
    if json {
        args.pop();
    }
    let usage = "usage: berth-bare PLUGIN.wasm TOOL ARGS_JSON [CALLS] [WARMUP] [--json]";
    let [wasm, tool, arguments, rest @ ..] = args.as_slice() else {
        return Err(usage.to_owned());
    };
    serde_json::from_str::<serde_json::Value>(arguments).map_err(|e| format!("ARGS_JSON is not JSON: {e}"))?;
    let number = |at: usize, default: usize| -> Result<usize, String> {
        rest.get(at).map_or(Ok(default), |n| n.parse().map_err(|_| format!("not a count: {n}\n{usage}")))
    };
    Ok(Args {
        wasm: wasm.clone(),
        tool: tool.clone(),
        arguments: arguments.clone(),
        calls: number(0, 2_000)?.max(1),
        warmup: number(1, 100)?,
        json,
    })
}

/// The p-th quantile of sorted `times`, in µs.
fn micros(times: &[Duration], p: f64) -> f64 {
    let at = ((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1;
    times[at].as_secs_f64() * 1e6
}

/// Runs `call` `args.warmup` times, then `args.calls` times timed; the timings, sorted.
async fn timed(
    args: &Args,
    mut call: impl AsyncFnMut() -> wasmtime::Result<String>,
) -> wasmtime::Result<Vec<Duration>> {
    for _ in 0..args.warmup {
        call().await?;
    }
    let mut times = Vec::with_capacity(args.calls);
    for _ in 0..args.calls {
        let started = Instant::now();
        call().await?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times)
}

async fn measure(args: &Args) -> Result<serde_json::Value, String> {
    let bytes = std::fs::read(&args.wasm).map_err(|e| format!("cannot read {}: {e}", args.wasm))?;
    let baseline = Baseline::new(&bytes).map_err(|e| format!("cannot load {}: {e:#}", args.wasm))?;
    let (tool, arguments) = (args.tool.as_str(), args.arguments.as_str());
    let failed = |e: wasmtime::Error| format!("{tool} failed: {e:#}");
    let fresh = timed(args, async || baseline.call_tool_fresh(tool, arguments).await).await.map_err(failed)?;
    let mut instance = baseline.warm().await.map_err(failed)?;
    let warm = timed(args, async || instance.call_tool(tool, arguments).await).await.map_err(failed)?;
    let figures = |times: &[Duration]| json!({ "p50": micros(times, 0.5), "p99": micros(times, 0.99) });
    Ok(json!({ "calls": args.calls, "fresh_us": figures(&fresh), "warm_us": figures(&warm) }))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("berth-bare: {e}");
            return ExitCode::from(2);
        }
    };
    // One thread, as `berth bench` with its default concurrency runs calls one after another.
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("berth-bare: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(measure(&args)) {
        Ok(figures) if args.json => println!("{figures}"),
        Ok(figures) => {
            for isolation in ["fresh", "warm"] {
                let times = &figures[format!("{isolation}_us")];
                println!(
                    "{isolation:<6} p50 {:.1} µs   p99 {:.1} µs   ({} calls)",
                    times["p50"].as_f64().unwrap_or_default(),
                    times["p99"].as_f64().unwrap_or_default(),
                    args.calls
                );
            }
        }
        Err(e) => {
            eprintln!("berth-bare: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
