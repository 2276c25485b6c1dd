//! berth-load: drives a running berth over loopback and reports throughput,
//! latency percentiles, errors and server resources.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;

use berth_benches::load::plan::{self, Plan, Transport};
use berth_benches::load::{report, run};

/// Load generator for berth: N connections (or a ladder of them), closed or
/// open loop, a tool mix, optional chaos; one JSON result and an HTML report.
///
/// Examples:
///   berth-load --url http://127.0.0.1:8080 --connections 64 --duration 10
///   berth-load --transport ws --connections 100 --in-flight 16 --duration 10
///   berth-load --ladder 150,500,1000 --step 20 --server-pid $(pgrep -n berth)
///   berth-load --rate 5000 --connections 150 --duration 60     (open loop)
///   berth-load --transport sessions --connections 8 --first-source 200   (session flood)
#[derive(Debug, Parser)]
#[command(name = "berth-load", version, verbatim_doc_comment)]
struct Args {
    /// The server: http://127.0.0.1:PORT (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// http (2026-07-28), legacy (2025-11-25 sessions), ws (WebSocket), or
    /// sessions (abuse: each request is an `initialize` whose session is never used).
    #[arg(long, value_enum, default_value = "http")]
    transport: Transport,
    /// Connections held for the whole run (ignored with --ladder).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Connection counts of successive steps, e.g. 150,500,1000.
    #[arg(long, value_delimiter = ',')]
    ladder: Vec<usize>,
    /// Seconds of a plain run.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of each ladder step.
    #[arg(long, default_value_t = 20.0)]
    step: f64,
    /// Seconds over which each step's new connections are opened.
    #[arg(long, default_value_t = 0.0)]
    ramp: f64,
    /// Hold the connections without sending anything (idle-connection cost, S11).
    #[arg(long)]
    idle: bool,
    /// Requests in flight per WebSocket connection (HTTP/1.1 has one).
    #[arg(long, default_value_t = 1)]
    in_flight: usize,
    /// Open loop: total requests per second, latency from each intended send time.
    #[arg(long)]
    rate: Option<f64>,
    /// Tool mix: tool=weight,... (echo gets 64 bytes of text, hash 4 KiB, others {}).
    #[arg(long, default_value = "echo")]
    mix: String,
    /// Arguments for a tool of the mix: TOOL=JSON (repeatable).
    #[arg(long = "args", value_name = "TOOL=JSON")]
    tool_args: Vec<String>,
    /// Bearer token for a server with auth on.
    #[arg(long, env = "BERTH_LOAD_TOKEN")]
    token: Option<String>,
    /// Spread connections over this many source addresses 127.0.0.F..F+N-1 (more ports
    /// past ~28K; to berth each address is its own client for quotas).
    #[arg(long, default_value_t = 1)]
    sources: u8,
    /// F: the last byte of the first source address (127.0.0.F); with --sources 1
    /// every connection comes from 127.0.0.F.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..))]
    first_source: u8,
    /// PID of a local berth to sample RSS and CPU from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Seconds before an unanswered request counts as a timeout.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Chaos: a disconnect storm every this many seconds.
    #[arg(long)]
    disconnect_every: Option<f64>,
    /// Chaos: the fraction of connections each storm drops mid-call.
    #[arg(long, default_value_t = 0.1)]
    disconnect_fraction: f64,
    /// Chaos, WebSocket: storms close the chosen connections that have no call running
    /// instead of cutting calls, and each opens again at once (connection churn, e.g. about
    /// 1,000 of 15,000 a second: --disconnect-every 1 --disconnect-fraction 0.0667 --churn).
    #[arg(long, requires = "disconnect_every")]
    churn: bool,
    /// Chaos: rewrite --reload-file every this many seconds (hot reload under load).
    #[arg(long, requires = "reload_file")]
    reload_every: Option<f64>,
    /// The plugin file to rewrite, e.g. plugins/echo.wasm.
    #[arg(long)]
    reload_file: Option<PathBuf>,
    /// A name for the run (report title).
    #[arg(long, default_value = "run")]
    label: String,
    /// Write the JSON result here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the HTML report here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Exit 1 unless every request was answered exactly once (CI smoke).
    #[arg(long)]
    expect_all_answered: bool,
    /// Exit 1 if any request failed (besides chaos drops).
    #[arg(long)]
    expect_no_errors: bool,
}

fn plan_of(args: &Args) -> Result<Plan, String> {
    let (base, addr, authority) = Plan::target(&args.url)?;
    let overrides = args
        .tool_args
        .iter()
        .map(|spec| {
            let (tool, json) = spec.split_once('=').ok_or_else(|| format!("--args wants TOOL=JSON, not {spec:?}"))?;
            let value: serde_json::Value =
                serde_json::from_str(json).map_err(|e| format!("--args {tool}: not JSON: {e}"))?;
            Ok((tool.to_owned(), value))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let ladder = if args.ladder.is_empty() { vec![args.connections] } else { args.ladder.clone() };
    if ladder.contains(&0) {
        return Err("connection counts must be at least 1".into());
    }
    let step = Duration::from_secs_f64(if args.ladder.is_empty() { args.duration } else { args.step });
    if step.is_zero() {
        return Err("the run needs a duration above 0".into());
    }
    let count = args.sources.max(1);
    let last = args
        .first_source
        .checked_add(count - 1)
        .ok_or_else(|| format!("--first-source {} with --sources {count} runs past 127.0.0.255", args.first_source))?;
    let sources = (args.first_source..=last).map(|n| std::net::IpAddr::from([127, 0, 0, n])).collect::<Vec<_>>();
    Ok(Plan {
        label: args.label.clone(),
        base,
        addr,
        authority,
        transport: args.transport,
        ladder,
        step,
        ramp: Duration::from_secs_f64(args.ramp),
        in_flight: if args.transport == Transport::Ws { args.in_flight.max(1) } else { 1 },
        rate: args.rate.filter(|r| *r > 0.0),
        idle: args.idle,
        mix: plan::parse_mix(&args.mix, &overrides)?,
        token: args.token.clone(),
        sources: if count > 1 || args.first_source != 1 { sources } else { Vec::new() },
        server_pid: args.server_pid,
        timeout: Duration::from_secs_f64(args.timeout),
        disconnect_every: args.disconnect_every.map(Duration::from_secs_f64),
        disconnect_fraction: args.disconnect_fraction.clamp(0.0, 1.0),
        churn: args.churn,
        reload_every: args.reload_every.map(Duration::from_secs_f64),
        reload_file: args.reload_file.clone(),
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let plan = match plan_of(&args) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("berth-load: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("berth-load: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let outcomes = runtime.block_on(run::run(plan.clone()));
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let result = report::to_json(&plan, &outcomes, &command, now);
    let totals = &result["totals"];
    println!(
        "{}: {} sent, {} answered, {} ok, {} errors, {} unanswered, {} dropped by chaos; {:.0} answers/s; latency ms p50 {} p99 {} p99.9 {} max {}",
        plan.label,
        totals["sent"],
        totals["answered"],
        totals["ok"],
        outcomes.total.error_total(),
        totals["unanswered"],
        totals["dropped_by_chaos"],
        totals["answers_per_sec"].as_f64().unwrap_or(0.0),
        totals["latency_ms"]["p50"],
        totals["latency_ms"]["p99"],
        totals["latency_ms"]["p999"],
        totals["latency_ms"]["max"],
    );
    if !outcomes.total.errors.is_empty() {
        println!("errors by kind: {}", serde_json::json!(outcomes.total.errors));
    }
    if let Some(path) = &args.out
        && let Err(e) = std::fs::write(path, serde_json::to_string_pretty(&result).unwrap_or_default())
    {
        eprintln!("berth-load: cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    if let Some(path) = &args.report
        && let Err(e) = std::fs::write(path, report::to_html(&plan, &outcomes, &result))
    {
        eprintln!("berth-load: cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    if args.expect_all_answered && (outcomes.unanswered > 0 || outcomes.total.sent == 0) {
        eprintln!("berth-load: {} of {} requests were not answered", outcomes.unanswered, outcomes.total.sent);
        return ExitCode::FAILURE;
    }
    if args.expect_no_errors && outcomes.total.error_total() > 0 {
        eprintln!("berth-load: {} requests failed", outcomes.total.error_total());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
