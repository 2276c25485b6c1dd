//! Log lines on stderr: the subscriber berth installs, and the replica name it
//! puts on every line once the server runs as one replica of a cluster (several
//! replicas' logs are usually read together, and a line must say whose it is).

use std::fmt;
use std::sync::OnceLock;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The replica named on every log line (set once the server is clustered).
static REPLICA: OnceLock<String> = OnceLock::new();

/// Names `replica` on every later log line: `replica` first in a JSON line, a
/// `replica=NAME` prefix on a text line. The first name set stays.
pub(crate) fn name_replica(replica: &str) {
    let _ = REPLICA.set(replica.to_owned());
}

/// Installs the stderr subscriber: `filter` is an `EnvFilter` directive
/// (an invalid one is reported and `info` used), `json` picks one JSON object
/// per line over human text. Never stdout: that belongs to the stdio transport.
pub fn init(filter: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|e| {
        eprintln!("berth: ignoring invalid log filter {filter:?}: {e}");
        tracing_subscriber::EnvFilter::new("info")
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let format = tracing_subscriber::fmt::format().with_target(false);
    if json {
        // Span fields (plugin, tool, timing) go into each line for log shippers.
        let format = format.json().with_current_span(true).with_span_list(false);
        builder.fmt_fields(JsonFields::new()).event_format(Replica { inner: format, json: true }).init();
    } else {
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        builder.with_ansi(ansi).event_format(Replica { inner: format.with_ansi(ansi), json: false }).init();
    }
}

/// A line format that adds the replica's name, once there is one, to `inner`'s lines.
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
        let Some(replica) = REPLICA.get() else {
            return self.inner.format_event(ctx, writer, event);
        };
        if !self.json {
            write!(writer, "replica={replica} ")?;
            return self.inner.format_event(ctx, writer, event);
        }
        let mut line = String::new();
        self.inner.format_event(ctx, Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) => write!(writer, "{{\"replica\":{},{rest}", serde_json::Value::from(replica.as_str())),
            None => writer.write_str(&line),
        }
    }
}
