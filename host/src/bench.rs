//! `berth bench`: the in-process dispatch latency of one plugin tool.
//!
//! Each call goes the way a request does once its bytes have arrived: parse
//! the JSON-RPC message, route it through the exchange (era, envelope,
//! snapshot), dispatch it in the router, take the
//! plugin's permit, get an instance (fresh or warm, as the plugin's sidecar
//! says), call the tool, and serialize the MCP result. No socket is involved,
//! so the figure is berth's own cost plus the plugin's work. Latencies go into
//! an HDR histogram (1 ns – 60 s, 3 significant digits).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::exchange::Exchange;
use crate::protocol::era;
use crate::protocol::jsonrpc::{self, Message};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    pub tool: String,
    /// The tool's arguments, a JSON object.
    pub arguments: Value,
    /// Measured calls (after the warm-up).
    pub calls: u64,
    /// Calls made first and not measured (compiles caches, warms pools).
    pub warmup: u64,
    /// Calls running at once.
    pub concurrency: u64,
}

/// What was measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub tool: String,
    pub plugin: String,
    pub isolation: String,
    pub calls: u64,
    pub concurrency: u64,
    /// Calls whose result had `isError` or that failed.
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    pub latency: Histogram<u64>,
    /// With traces on: spans exported, dropped and failed, once the export has stopped.
    pub trace_spans: Option<[u64; 3]>,
    /// The process's page faults (minor and major) over the measured calls, where the OS
    /// tells them (Linux).
    pub page_faults: Option<u64>,
}

impl BenchReport {
    /// Calls per second over the measured phase.
    pub fn calls_per_sec(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Page faults per measured call: memory the kernel had to map while the calls ran, the
    /// whole process's (for a fresh plugin that leaves written pages its slot's reset does not
    /// keep, those pages, written again by the next instance).
    pub fn page_faults_per_call(&self) -> Option<f64> {
        self.page_faults.map(|faults| faults as f64 / self.calls.max(1) as f64)
    }

    fn micros(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }

    /// The report as JSON (latencies in microseconds).
    pub fn to_json(&self) -> Value {
        json!({
            "tool": self.tool,
            "plugin": self.plugin,
            "isolation": self.isolation,
            "calls": self.calls,
            "concurrency": self.concurrency,
            "errors": self.errors,
            "first_error": self.first_error,
            "elapsed_secs": self.elapsed.as_secs_f64(),
            "calls_per_sec": self.calls_per_sec(),
            "latency_us": {
                "min": self.latency.min() as f64 / 1000.0,
                "p50": self.micros(0.50),
                "p90": self.micros(0.90),
                "p99": self.micros(0.99),
                "p999": self.micros(0.999),
                "max": self.latency.max() as f64 / 1000.0,
                "mean": self.latency.mean() / 1000.0,
            },
            "page_faults_per_call": self.page_faults_per_call(),
            "trace_spans": self.trace_spans.map(|[exported, dropped, failed]| {
                json!({ "exported": exported, "dropped": dropped, "failed": failed })
            }),
        })
    }

    /// The report for a person.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "berth bench: tool {} (plugin {}, isolation {}), {} calls, concurrency {}\n",
            self.tool, self.plugin, self.isolation, self.calls, self.concurrency
        );
        text.push_str(&format!(
            "  latency  p50 {:.1} µs   p90 {:.1} µs   p99 {:.1} µs   p99.9 {:.1} µs   max {:.1} µs\n",
            self.micros(0.50),
            self.micros(0.90),
            self.micros(0.99),
            self.micros(0.999),
            self.latency.max() as f64 / 1000.0
        ));
        text.push_str(&format!("  throughput  {:.0} calls/s\n", self.calls_per_sec()));
        if let Some(faults) = self.page_faults_per_call() {
            text.push_str(&format!("  page faults  {faults:.1} per call\n"));
        }
        if self.errors > 0 {
            text.push_str(&format!(
                "  errors  {} of {} calls (first: {})\n",
                self.errors,
                self.calls,
                self.first_error.as_deref().unwrap_or("?")
            ));
        }
        if let Some([exported, dropped, failed]) = self.trace_spans {
            text.push_str(&format!("  trace spans  {exported} exported, {dropped} dropped, {failed} failed\n"));
        }
        text
    }
}

/// One call's outcome: its latency and, if it failed, why.
type Sample = (u64, Option<String>);

/// Runs `plan` against `exchange`.
pub async fn run(exchange: Arc<Exchange>, plan: &BenchPlan) -> Result<BenchReport> {
    let snapshot = exchange.registry().snapshot();
    let plugin = snapshot.tool(&plan.tool).ok_or_else(|| {
        let known: Vec<String> =
            snapshot.plugins().iter().flat_map(|p| p.catalog.tools.iter().map(|t| t.name.clone())).collect();
        Error::Config(format!("no tool {:?} in the plugins folder (tools: {})", plan.tool, known.join(", ")))
    })?;
    if !plan.arguments.is_object() {
        return Err(Error::Config("--args must be a JSON object".into()));
    }
    let bytes = Arc::new(request_bytes(&plan.tool, &plan.arguments));
    let concurrency = plan.concurrency.max(1);
    // Warm-up: the same calls, unmeasured; a failure here stops the run early.
    let warmup = drive(&exchange, &bytes, plan.warmup, concurrency).await;
    if let Some((_, Some(error))) = warmup.iter().find(|(_, e)| e.is_some())
        && warmup.iter().all(|(_, e)| e.is_some())
    {
        return Err(Error::Config(format!("every warm-up call of {} failed: {error}", plan.tool)));
    }
    let faults_before = page_faults();
    let started = Instant::now();
    let samples = drive(&exchange, &bytes, plan.calls, concurrency).await;
    let elapsed = started.elapsed();
    let page_faults = faults_before.zip(page_faults()).map(|(before, after)| after.saturating_sub(before));
    let mut latency =
        Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).map_err(|e| Error::Config(e.to_string()))?;
    let mut errors = 0;
    let mut first_error = None;
    for (nanos, error) in samples {
        let _ = latency.record(nanos.max(1));
        if let Some(error) = error {
            errors += 1;
            first_error.get_or_insert(error);
        }
    }
    Ok(BenchReport {
        tool: plan.tool.clone(),
        plugin: plugin.name.to_string(),
        isolation: format!("{:?}", plugin.settings().isolation).to_lowercase(),
        calls: plan.calls,
        concurrency,
        errors,
        first_error,
        trace_spans: None,
        page_faults,
        elapsed,
        latency,
    })
}

/// This process's page faults so far, minor and major, from `/proc/self/stat` (Linux).
fn page_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name, in parentheses, may hold spaces: count fields after its end.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 1..)?.split_whitespace().collect();
    let field = |n: usize| fields.get(n).and_then(|f| f.parse::<u64>().ok());
    // After the name: state, ppid, pgrp, session, tty_nr, tpgid, flags, minflt, cminflt, majflt.
    Some(field(7)? + field(9)?)
}

/// A 2026-07-28 `tools/call` request of `tool` with `arguments` (id 1).
pub fn modern_call(tool: &str, arguments: &Value) -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {
            "name": tool, "arguments": arguments,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": era::MODERN_VERSION,
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    })
}

fn request_bytes(tool: &str, arguments: &Value) -> Vec<u8> {
    modern_call(tool, arguments).to_string().into_bytes()
}

/// Makes `calls` calls with `concurrency` workers; one sample per call.
async fn drive(exchange: &Arc<Exchange>, bytes: &Arc<Vec<u8>>, calls: u64, concurrency: u64) -> Vec<Sample> {
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        let share = calls / concurrency + u64::from(worker < calls % concurrency);
        let exchange = exchange.clone();
        let bytes = bytes.clone();
        workers.spawn(async move {
            let mut samples = Vec::with_capacity(share as usize);
            for _ in 0..share {
                let started = Instant::now();
                let error = one_call(&exchange, &bytes).await.err();
                samples.push((started.elapsed().as_nanos() as u64, error));
            }
            samples
        });
    }
    let mut all = Vec::with_capacity(calls as usize);
    while let Some(done) = workers.join_next().await {
        match done {
            Ok(samples) => all.extend(samples),
            Err(e) => all.push((0, Some(format!("worker failed: {e}")))),
        }
    }
    all
}

/// One dispatch, from bytes to serialized reply.
async fn one_call(exchange: &Exchange, bytes: &[u8]) -> std::result::Result<(), String> {
    let Ok(Message::Request(request)) = jsonrpc::parse(bytes) else {
        return Err("the request does not parse".into());
    };
    let id = request.id.clone();
    let result = exchange.call(request).await.map_err(|e| e.message)?;
    let is_error = result.is_tool_error();
    // Serialized as the HTTP transport serializes an answer.
    let reply = jsonrpc::success_bytes(&id, &result);
    if is_error {
        return Err(format!(
            "isError result: {}",
            String::from_utf8_lossy(&reply).chars().take(200).collect::<String>()
        ));
    }
    Ok(())
}

/// One request's access decision, as the criterion benches time it: the grant for a
/// caller (every rule's "who" checked once), then a tool checked against it.
pub struct AccessDecision {
    access: crate::access::Access,
    caller: crate::access::Identity,
}

impl AccessDecision {
    /// The rules of a `[[rules]]` TOML table (the `[access]` section of `berth.toml`), for
    /// a caller with the static token named `caller`.
    pub fn new(rules_toml: &str, caller: &str) -> Result<Self> {
        let config: crate::config::AccessConfig =
            toml::from_str(rules_toml).map_err(|e| Error::Config(format!("access rules: {}", e.message())))?;
        config.validate()?;
        Ok(Self { access: crate::access::Access::new(&config), caller: crate::access::Identity::named(caller) })
    }

    /// The same rules, for an OAuth caller whose verified token holds `claims`.
    pub fn for_claims(mut self, claims: Value) -> Self {
        self.caller = crate::access::Identity::from_claims(claims);
        self
    }

    /// Whether the caller may call tool `tool` of plugin `plugin`.
    pub fn allows(&self, plugin: &str, tool: &str) -> bool {
        self.access.grant(Some(&self.caller)).tool(plugin, tool)
    }
}
