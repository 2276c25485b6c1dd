//! Log lines on stderr: the subscriber berth installs, the replica name it puts on every
//! line once the server runs as one replica of a cluster (several replicas' logs are usually
//! read together, and a line must say whose it is), the trace id on JSON lines when traces
//! are on, and the OpenTelemetry layer beside the log layer (`telemetry`).

use std::fmt;
use std::sync::OnceLock;

use tracing::{Event, Subscriber};
use tracing_subscriber::Layer as _;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::TelemetryConfig;
use crate::telemetry;

/// The replica named on every log line (set once the server is clustered).
static REPLICA: OnceLock<String> = OnceLock::new();

/// Names `replica` on every later log line: `replica` first in a JSON line, a
/// `replica=NAME` prefix on a text line. The first name set stays.
pub fn name_replica(replica: &str) {
    let _ = REPLICA.set(replica.to_owned());
}

/// Installs the stderr subscriber: `filter` is an `EnvFilter` directive
/// (an invalid one is reported and `info` used), `json` picks one JSON object
/// per line over human text; with `telemetry` configured (an endpoint in it or in the
/// `OTEL_*` variables), spans go to OpenTelemetry too. Never stdout: that belongs to the
/// stdio transport.
pub fn init(filter: &str, json: bool, telemetry: Option<&TelemetryConfig>) {
    // Trace spans (target `otel`) are for the OpenTelemetry layer, never for log lines.
    let directives = format!("{filter},otel=off");
    let filter = tracing_subscriber::EnvFilter::try_new(&directives).unwrap_or_else(|e| {
        eprintln!("berth: ignoring invalid log filter {filter:?}: {e}");
        tracing_subscriber::EnvFilter::new("info,otel=off")
    });
    let traces = telemetry.and_then(telemetry::Settings::resolve).and_then(telemetry::layer);
    let format = tracing_subscriber::fmt::format().with_target(false);
    let registry = tracing_subscriber::registry().with(traces);
    if json {
        // Span fields (plugin, tool, timing) go into each line for log shippers.
        let format = format.json().with_current_span(true).with_span_list(false);
        let lines = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .fmt_fields(JsonFields::new())
            .event_format(Replica { inner: format, json: true });
        registry.with(lines.with_filter(filter)).init();
    } else {
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let lines = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .event_format(Replica { inner: format.with_ansi(ansi), json: false });
        registry.with(lines.with_filter(filter)).init();
    }
}

/// A line format that adds the replica's name (once there is one) and, on JSON lines, the
/// trace id (when traces are on and the line is written inside a traced request).
struct Replica<F> {
    inner: F,
    json: bool,
}

impl<S, N, F> FormatEvent<S, N> for Replica<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let replica = REPLICA.get();
        if !self.json {
            if let Some(replica) = replica {
                write!(writer, "replica={replica} ")?;
            }
            return self.inner.format_event(ctx, writer, event);
        }
        let ids = telemetry::current_ids();
        if replica.is_none() && ids.is_none() {
            return self.inner.format_event(ctx, writer, event);
        }
        let mut line = String::new();
        self.inner.format_event(ctx, Writer::new(&mut line), event)?;
        let Some(rest) = line.strip_prefix('{') else { return writer.write_str(&line) };
        writer.write_char('{')?;
        if let Some(replica) = replica {
            write!(writer, "\"replica\":{},", serde_json::Value::from(replica.as_str()))?;
        }
        if let Some((trace_id, span_id)) = ids {
            write!(writer, "\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\",")?;
        }
        writer.write_str(rest)
    }
}
