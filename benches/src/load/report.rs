//! A run's results: one JSON document, and an HTML page with SVG charts (`charts`) of
//! throughput, latency and memory over time and per ladder step.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::plan::Plan;
use super::probe;
use super::run::Outcomes;
use super::stats::Counts;
use crate::charts::{self, Axes, Line, Mark};
use plotters::style::RGBColor;

/// The whole run as JSON.
pub fn to_json(plan: &Plan, outcomes: &Outcomes, command: &str, unix_time: u64) -> Value {
    let seconds = outcomes.elapsed.as_secs_f64().max(1e-9);
    let step_secs = plan.step.as_secs_f64().max(1e-9);
    let steps: Vec<Value> = outcomes
        .steps
        .iter()
        .map(|(connections, counts)| {
            json!({
                "connections": connections,
                "answers_per_sec": counts.answered as f64 / step_secs,
                "ok": counts.ok,
                "errors": counts.errors,
                "latency_ms": counts.latency_json(),
            })
        })
        .collect();
    let rss = &outcomes.server_rss;
    json!({
        "label": plan.label,
        "command": command,
        "unix_time": unix_time,
        "machine": probe::machine(),
        "shared_machine": plan.server_pid.is_some() || plan.addr.ip().is_loopback(),
        "plan": {
            "url": plan.base,
            "transport": plan.transport.name(),
            "ladder": plan.ladder,
            "step_secs": plan.step.as_secs_f64(),
            "ramp_secs": plan.ramp.as_secs_f64(),
            "in_flight_per_connection": plan.in_flight,
            "open_loop_rate": plan.rate,
            "idle": plan.idle,
            "mix": plan.mix.iter().map(|m| json!({ "tool": m.tool, "weight": m.weight })).collect::<Vec<_>>(),
            "disconnect_every_secs": plan.disconnect_every.map(|d| d.as_secs_f64()),
            "disconnect_fraction": plan.disconnect_fraction,
            "churn": plan.churn,
            "reload_every_secs": plan.reload_every.map(|d| d.as_secs_f64()),
        },
        "totals": {
            "elapsed_secs": seconds,
            "sent": outcomes.total.sent,
            "answered": outcomes.total.answered,
            "ok": outcomes.total.ok,
            "dropped_by_chaos": outcomes.total.dropped,
            "unanswered": outcomes.unanswered,
            "errors": outcomes.total.errors,
            "answers_per_sec": outcomes.total.answered as f64 / plan.duration().as_secs_f64().max(1e-9),
            "latency_ms": outcomes.total.latency_json(),
            "send_lag_ms": outcomes.total.send_lag_json(),
            "close_wake_lag_ms": outcomes.total.close_wake_lag_json(),
            "peak_connections": outcomes.peak_connections,
        },
        "server": {
            "rss_start_bytes": rss.first(),
            "rss_peak_bytes": rss.iter().max(),
            "rss_end_bytes": rss.last(),
            "cpu_secs": outcomes.server_cpu_secs,
        },
        "client": { "cpu_secs": outcomes.client_cpu_secs },
        "steps": steps,
        "reloads_at_secs": outcomes.reloads,
        "storms_at_secs": outcomes.storms,
        "timeline": outcomes.timeline.iter().map(|p| p.to_json()).collect::<Vec<_>>(),
    })
}

/// A chart for the page: the SVG, or a line saying why it could not be drawn.
fn chart(axes: &Axes<'_>, lines: &[Line<'_>], marks: &[Mark]) -> String {
    match charts::line_chart(axes, lines, marks) {
        Ok(svg) => svg,
        Err(e) => format!("<p>{}</p>", escape(&e.to_string())),
    }
}

fn line<'a>(name: &'a str, colour: RGBColor, points: Vec<(f64, f64)>) -> Line<'a> {
    Line { name, colour, points }
}

fn axes<'a>(title: &'a str, x: &'a str, y: &'a str) -> Axes<'a> {
    Axes { title, x, y, x_names: None }
}

const GREEN: RGBColor = RGBColor(34, 170, 102);
const BLUE: RGBColor = RGBColor(51, 102, 204);
const RED: RGBColor = RGBColor(204, 51, 51);
const GREY: RGBColor = RGBColor(150, 150, 150);
const BROWN: RGBColor = RGBColor(170, 102, 0);
const PURPLE: RGBColor = RGBColor(136, 68, 170);

fn percentile(counts: &Counts, q: f64) -> f64 {
    counts.latency.value_at_quantile(q) as f64 / 1000.0
}

/// The HTML report: summary, charts, ladder steps, errors.
pub fn to_html(plan: &Plan, outcomes: &Outcomes, result: &Value) -> String {
    let timeline = &outcomes.timeline;
    let throughput: Vec<(f64, f64)> = timeline.iter().map(|p| (p.second, p.counts.answered as f64)).collect();
    let latency = |q: f64| -> Vec<(f64, f64)> {
        timeline.iter().filter(|p| !p.counts.latency.is_empty()).map(|p| (p.second, percentile(&p.counts, q))).collect()
    };
    let mut marks: Vec<Mark> = (1..plan.ladder.len())
        .map(|i| Mark { at: plan.step.as_secs_f64() * i as f64, label: format!("{} conns", plan.ladder[i]) })
        .collect();
    marks.extend(outcomes.reloads.iter().map(|at| Mark { at: *at, label: "reload".into() }));
    marks.extend(outcomes.storms.iter().map(|at| Mark { at: *at, label: "storm".into() }));
    let mut html = String::from("<!doctype html><meta charset=utf-8><title>berth-load report</title>");
    html.push_str("<style>body{font-family:sans-serif;max-width:800px;margin:2em auto}td,th{padding:2px 10px;text-align:right}th{background:#eee}pre{background:#f6f6f6;padding:8px;white-space:pre-wrap}</style>");
    let _ = write!(html, "<h1>berth-load: {}</h1>", escape(&plan.label));
    let _ = write!(html, "<pre>{}</pre>", escape(result["command"].as_str().unwrap_or_default()));
    let machine = &result["machine"];
    let _ = write!(
        html,
        "<p>Machine: {} cores, {} GiB, {} (kernel {}). Client and server share the machine: {}.</p>",
        machine["cores"],
        machine["memory_gib"],
        escape(machine["cpu"].as_str().unwrap_or("?")),
        escape(machine["kernel"].as_str().unwrap_or("?")),
        result["shared_machine"]
    );
    let totals = &result["totals"];
    let _ = write!(
        html,
        "<table><tr><th>sent</th><th>answered</th><th>ok</th><th>errors</th><th>unanswered</th><th>answers/s</th><th>p50 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th><th>peak conns</th></tr><tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>",
        totals["sent"],
        totals["answered"],
        totals["ok"],
        outcomes.total.error_total(),
        totals["unanswered"],
        totals["answers_per_sec"].as_f64().unwrap_or(0.0),
        totals["latency_ms"]["p50"],
        totals["latency_ms"]["p99"],
        totals["latency_ms"]["p999"],
        totals["latency_ms"]["max"],
        totals["peak_connections"]
    );
    let over_time = axes("answers per second", "time since start (s)", "answers/s");
    html.push_str(&chart(&over_time, &[line("answers/s", GREEN, throughput)], &marks));
    let mut latency_lines =
        vec![line("p50", BLUE, latency(0.5)), line("p99", RED, latency(0.99)), line("max", GREY, latency(1.0))];
    // Open loop: how late the generator itself sent, which every latency above includes.
    let send_lag: Vec<(f64, f64)> = timeline
        .iter()
        .filter(|p| !p.counts.send_lag.is_empty())
        .map(|p| (p.second, p.counts.send_lag.value_at_quantile(0.99) as f64 / 1000.0))
        .collect();
    if !send_lag.is_empty() {
        latency_lines.push(line("generator's send lag p99", PURPLE, send_lag));
    }
    html.push_str(&chart(&axes("latency", "time since start (s)", "latency (ms)"), &latency_lines, &marks));
    let rss: Vec<(f64, f64)> =
        timeline.iter().filter_map(|p| p.server_rss.map(|r| (p.second, r as f64 / 1e6))).collect();
    if !rss.is_empty() {
        let memory = axes("server memory", "time since start (s)", "resident set (MB)");
        html.push_str(&chart(&memory, &[line("RSS", BROWN, rss)], &marks));
    }
    if outcomes.steps.len() > 1 {
        let by_step = |read: &dyn Fn(&Counts) -> f64| -> Vec<(f64, f64)> {
            outcomes.steps.iter().enumerate().map(|(n, (_, counts))| ((n + 1) as f64, read(counts))).collect()
        };
        let step_secs = plan.step.as_secs_f64().max(1e-9);
        let names: Vec<String> = outcomes.steps.iter().map(|(connections, _)| connections.to_string()).collect();
        let stepped = |title| Axes { title, x: "ladder step (connections)", y: "", x_names: Some(names.clone()) };
        let rate = Axes { y: "answers/s", ..stepped("answers per second by ladder step") };
        html.push_str(&chart(&rate, &[line("answers/s", GREEN, by_step(&|c| c.answered as f64 / step_secs))], &[]));
        let latency = Axes { y: "latency (ms)", ..stepped("latency by ladder step") };
        let lines =
            [line("p50", BLUE, by_step(&|c| percentile(c, 0.5))), line("p99", RED, by_step(&|c| percentile(c, 0.99)))];
        html.push_str(&chart(&latency, &lines, &[]));
    }
    html.push_str("<h2>Per step</h2><table><tr><th>connections</th><th>answers/s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>errors</th></tr>");
    for step in result["steps"].as_array().into_iter().flatten() {
        let l = &step["latency_ms"];
        let errors: u64 = step["errors"].as_object().map(|e| e.values().filter_map(Value::as_u64).sum()).unwrap_or(0);
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{:.0}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            step["connections"],
            step["answers_per_sec"].as_f64().unwrap_or(0.0),
            l["p50"],
            l["p95"],
            l["p99"],
            l["max"],
            errors
        );
    }
    html.push_str("</table>");
    if !outcomes.total.errors.is_empty() {
        html.push_str("<h2>Errors by kind</h2><table>");
        for (kind, n) in &outcomes.total.errors {
            let _ = write!(html, "<tr><td>{}</td><td>{n}</td></tr>", escape(kind));
        }
        html.push_str("</table>");
    }
    html.push_str("<p>Dashed lines: ladder steps, hot reloads and disconnect storms. Latency of an open-loop run is measured from each request's intended send time (corrected for coordinated omission); the generator's send lag is how late it sent them: where it meets the latency lines, the generator was late, not the server.</p>");
    html
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
