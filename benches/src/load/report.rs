//! A run's results: one JSON document, and an HTML page with SVG charts of
//! throughput and latency over time and per ladder step.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::plan::Plan;
use super::probe;
use super::run::Outcomes;
use super::stats::Counts;

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

/// One line of a chart: name, colour, (x, y) points.
type Series<'a> = (&'a str, &'a str, Vec<(f64, f64)>);

/// A line chart of `series` over `x_label` (seconds, ladder step), with dashed vertical `marks`, as SVG.
fn chart(title: &str, unit: &str, x_label: &str, series: &[Series<'_>], marks: &[f64]) -> String {
    let (width, height, left, bottom) = (760.0, 260.0, 60.0, 30.0);
    let all = series.iter().flat_map(|(_, _, points)| points.iter());
    let x_max = all.clone().map(|p| p.0).fold(1.0f64, f64::max);
    let y_max = all.map(|p| p.1).fold(0.0f64, f64::max).max(1e-9) * 1.1;
    let x = |v: f64| left + v / x_max * (width - left - 10.0);
    let y = |v: f64| height - bottom - v / y_max * (height - bottom - 20.0);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(svg, r#"<text x="{left}" y="13" font-size="13">{title}</text>"#);
    for i in 0..=4 {
        let value = y_max * f64::from(i) / 4.0;
        let (right, at, label_x, label_y, label) =
            (width - 10.0, y(value), left - 4.0, y(value) + 4.0, format_value(value, unit));
        let _ = write!(
            svg,
            r##"<line x1="{left}" x2="{right}" y1="{at}" y2="{at}" stroke="#ddd"/><text x="{label_x}" y="{label_y}" text-anchor="end">{label}</text>"##
        );
    }
    let _ = write!(svg, r#"<text x="{}" y="{}" text-anchor="end">{x_label}</text>"#, width - 10.0, height - 4.0);
    for mark in marks {
        let _ = write!(
            svg,
            r##"<line x1="{0}" x2="{0}" y1="20" y2="{1}" stroke="#c9a" stroke-dasharray="3,3"/>"##,
            x(*mark),
            height - bottom
        );
    }
    for (n, (name, colour, points)) in series.iter().enumerate() {
        let path: Vec<String> = points.iter().map(|(px, py)| format!("{:.1},{:.1}", x(*px), y(*py))).collect();
        let _ =
            write!(svg, r#"<polyline fill="none" stroke="{colour}" stroke-width="1.6" points="{}"/>"#, path.join(" "));
        let _ = write!(svg, r#"<text x="{}" y="13" fill="{colour}">{name}</text>"#, 300.0 + 90.0 * n as f64);
    }
    svg.push_str("</svg>");
    svg
}

fn format_value(value: f64, unit: &str) -> String {
    if value >= 10_000.0 {
        format!("{:.0}k{unit}", value / 1000.0)
    } else if value >= 10.0 {
        format!("{value:.0}{unit}")
    } else {
        format!("{value:.2}{unit}")
    }
}

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
    let step_marks: Vec<f64> = (1..plan.ladder.len()).map(|i| plan.step.as_secs_f64() * i as f64).collect();
    let mut marks = step_marks.clone();
    marks.extend(&outcomes.reloads);
    marks.extend(&outcomes.storms);
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
    html.push_str(&chart("answers per second", "", "seconds", &[("answers/s", "#2a6", throughput)], &marks));
    html.push_str(&chart(
        "latency (ms)",
        "",
        "seconds",
        &[("p50", "#36c", latency(0.5)), ("p99", "#c33", latency(0.99)), ("max", "#999", latency(1.0))],
        &marks,
    ));
    let rss: Vec<(f64, f64)> =
        timeline.iter().filter_map(|p| p.server_rss.map(|r| (p.second, r as f64 / 1e6))).collect();
    if !rss.is_empty() {
        html.push_str(&chart("server RSS (MB)", "", "seconds", &[("rss", "#a60", rss)], &marks));
    }
    if outcomes.steps.len() > 1 {
        let by_step = |read: &dyn Fn(&Counts) -> f64| -> Vec<(f64, f64)> {
            outcomes.steps.iter().enumerate().map(|(n, (_, counts))| ((n + 1) as f64, read(counts))).collect()
        };
        let step_secs = plan.step.as_secs_f64().max(1e-9);
        html.push_str(&chart(
            "answers per second by ladder step",
            "",
            "ladder step (connections in the table below)",
            &[("answers/s", "#2a6", by_step(&|c| c.answered as f64 / step_secs))],
            &[],
        ));
        html.push_str(&chart(
            "latency (ms) by ladder step",
            "",
            "ladder step (connections in the table below)",
            &[("p50", "#36c", by_step(&|c| percentile(c, 0.5))), ("p99", "#c33", by_step(&|c| percentile(c, 0.99)))],
            &[],
        ));
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
    html.push_str("<p>Dashed lines: ladder steps, hot reloads and disconnect storms. Latency of an open-loop run is measured from each request's intended send time (corrected for coordinated omission).</p>");
    html
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
