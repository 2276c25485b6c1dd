//! Traces: a server span per MCP request, named and attributed by the OpenTelemetry MCP
//! conventions, continuing the client's trace (SEP-414: `traceparent` in `_meta` on every
//! transport, else the W3C HTTP headers), with children where the time goes; exported over
//! OTLP when configured (`[telemetry]` or the standard `OTEL_*` variables), off otherwise.
//!
//! berth's trace spans are `tracing` spans of target `otel` (`trace_span!`): only the
//! OpenTelemetry layer, installed with the log subscriber (`logging`), listens to that
//! target, so with traces off no span is built (what the hooks around them still cost a
//! call is measured in BENCHMARKS.md, "Traces (#24)"). The layer hands
//! finished spans to a bounded queue (`export`), exported from berth's runtime once the
//! server starts (`start`); `spans` makes a request's server span; `propagation` reads and
//! writes trace context; `settings` resolves the configuration.

mod export;
mod inner;
mod propagation;
mod settings;
mod spans;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokio::sync::Notify;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::registry::LookupSpan;

pub(crate) use inner::{
    Carried, client_request, follow, http_answered, http_client, redis, redis_failed, relay_receive, relay_send,
};
pub(crate) use settings::Settings;
pub(crate) use spans::{Transport, error_type, record_era, record_error, server_span, trace_id};

use crate::sync::lock;

/// A span of berth's traces (target `otel`, seen only by the OpenTelemetry layer).
macro_rules! trace_span {
    ($name:expr $(, $($fields:tt)*)?) => {
        tracing::span!(target: "otel", tracing::Level::INFO, $name $(, $($fields)*)?)
    };
}
pub(crate) use trace_span;

/// Awaits `$work` inside `$span`, or as it is when the span is disabled (traces off, a request
/// the sampler left out, a log span below the log level). The future is pinned where it stands and the span wraps a pointer
/// to it: a call's futures are kilobytes, and moving one into a wrapper costs a copy on every
/// call whether anyone traces or not.
macro_rules! traced {
    ($span:expr, $work:expr) => {{
        let work = ::std::pin::pin!($work);
        let span: &::tracing::Span = &$span;
        if span.is_disabled() { work.await } else { ::tracing::Instrument::instrument(work, span.clone()).await }
    }};
}
pub(crate) use traced;

/// A span of berth's traces made only inside a traced request: work outside one (a plugin's
/// catalog read at load, background upkeep) starts no trace of its own.
macro_rules! child_span {
    ($name:expr $(, $($fields:tt)*)?) => {
        if $crate::telemetry::in_trace() {
            $crate::telemetry::trace_span!($name $(, $($fields)*)?)
        } else {
            tracing::Span::none()
        }
    };
}
pub(crate) use child_span;

/// Trace export as installed at start.
struct Installed {
    settings: Settings,
    /// The configured sampler, asked once per request before its server span is made (the
    /// provider itself records every span it is given: only sampled requests make spans).
    sampler: opentelemetry_sdk::trace::Sampler,
    /// Kept so the tracer it hands out stays valid for the life of the process.
    _provider: SdkTracerProvider,
    pending: Mutex<Option<export::Pending>>,
    counts: Arc<export::Counts>,
    stop: (Arc<Notify>, Arc<Notify>),
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// The layer that turns berth's trace spans into OpenTelemetry spans, queued for export
/// from now on (exported once [`start`] runs). Installed once per process.
pub(crate) fn layer<S>(settings: Settings) -> Option<impl Layer<S> + Send + Sync + 'static>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
{
    let (queue, pending, counts) = export::queue(settings.queue);
    let stop = queue.stop_handles();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(queue)
        .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOn)
        .build();
    let tracer = provider.tracer("berth");
    let sampler = settings.sampler();
    let installed =
        Installed { settings, sampler, _provider: provider, pending: Mutex::new(Some(pending)), counts, stop };
    INSTALLED.set(installed).ok()?;
    // INFO, the level of berth's trace spans, and no finer: the finest level any layer wants
    // is also what `log` records of the dependencies are filtered at before they reach
    // tracing, and TRACE would let every one of them through to be refused one by one.
    let only_traces = Targets::new().with_target("otel", tracing::Level::INFO);
    Some(
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_target(false)
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_filter(only_traces),
    )
}

/// Whether trace export is on in this process.
pub(crate) fn enabled() -> bool {
    INSTALLED.get().is_some()
}

/// Whether the code running now is inside a sampled request (a recorded span of berth's
/// traces is entered on this thread: the layer makes its context the current one). Inside a
/// request the sampler left out, child spans would be built only to be thrown away, so none are.
pub(crate) fn in_trace() -> bool {
    use opentelemetry::trace::TraceContextExt as _;
    enabled() && opentelemetry::Context::current().span().span_context().is_sampled()
}

/// The context of the request the sampler left out that runs now, if one does: still passed
/// on (its `traceparent` says "not sampled"), so what berth calls keeps the caller's decision.
fn unsampled() -> Option<opentelemetry::Context> {
    use opentelemetry::trace::TraceContextExt as _;
    if !enabled() {
        return None;
    }
    let context = opentelemetry::Context::current();
    let ids = context.span().span_context().clone();
    (ids.is_valid() && !ids.is_sampled()).then_some(context)
}

/// Whether a request named `name`, whose caller's context is `parent`, is traced: `Ok` when
/// the configured sampler records it, else `Err` with the context to pass on in its place (the
/// caller's, or a new trace marked not sampled), so what berth calls keeps the decision.
/// Deciding before any span is made keeps a request the sampler leaves out nearly free.
pub(crate) fn sample(parent: Option<&opentelemetry::Context>, name: &str) -> Result<(), opentelemetry::Context> {
    use opentelemetry::trace::{SpanContext, SpanKind, TraceContextExt as _, TraceFlags, TraceState};
    use opentelemetry_sdk::trace::{IdGenerator as _, RandomIdGenerator, SamplingDecision, ShouldSample as _};
    let Some(installed) = INSTALLED.get() else { return Err(opentelemetry::Context::new()) };
    let ids = RandomIdGenerator::default();
    let trace_id = parent.map_or_else(|| ids.new_trace_id(), |p| p.span().span_context().trace_id());
    let decided = installed.sampler.should_sample(parent, trace_id, name, &SpanKind::Server, &[], &[]);
    if decided.decision == SamplingDecision::RecordAndSample {
        return Ok(());
    }
    Err(match parent {
        Some(parent) if !parent.span().span_context().is_sampled() => parent.clone(),
        _ => {
            let state = parent.map_or_else(TraceState::default, |p| p.span().span_context().trace_state().clone());
            let ids = SpanContext::new(trace_id, ids.new_span_id(), TraceFlags::default(), false, state);
            parent.cloned().unwrap_or_default().with_remote_span_context(ids)
        }
    })
}

/// Starts exporting (on the current Tokio runtime) as replica `replica`: the exporter is
/// made, the resource named (service, version, instance), queued spans start to flow.
pub(crate) fn start(replica: &str) {
    let Some(installed) = INSTALLED.get() else { return };
    let Some(pending) = lock(&installed.pending).take() else { return };
    let settings = &installed.settings;
    let mut attributes = vec![
        KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        KeyValue::new("service.instance.id", replica.to_owned()),
    ];
    attributes.extend(settings.attributes.iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())));
    let resource =
        Resource::builder_empty().with_service_name(settings.service_name.clone()).with_attributes(attributes).build();
    use opentelemetry_otlp::WithExportConfig as _;
    // The HTTP exporter's client is reqwest over rustls, which needs berth's crypto provider.
    crate::tls::install_crypto_provider();
    let built = if settings.grpc {
        opentelemetry_otlp::SpanExporter::builder().with_tonic().with_endpoint(settings.endpoint.clone()).build()
    } else {
        opentelemetry_otlp::SpanExporter::builder().with_http().with_endpoint(settings.http_url.clone()).build()
    };
    match built {
        Ok(exporter) => {
            tracing::info!(
                endpoint = %settings.endpoint,
                protocol = if settings.grpc { "grpc" } else { "http/protobuf" },
                sampler = %settings.sampler_name,
                ratio = settings.sampler_ratio,
                "exporting traces"
            );
            tokio::spawn(pending.run(exporter, resource));
        }
        Err(e) => tracing::error!("traces will not be exported: the OTLP exporter for {}: {e}", settings.endpoint),
    }
}

/// Sends what is queued and stops exporting, waiting at most `limit`.
pub(crate) async fn shutdown(limit: Duration) {
    let Some(installed) = INSTALLED.get() else { return };
    if lock(&installed.pending).is_some() {
        return; // never started: nothing was exported, nothing to wait for
    }
    let (stop, stopped) = &installed.stop;
    let done = stopped.notified();
    stop.notify_one();
    let _ = tokio::time::timeout(limit, done).await;
}

/// Spans dropped (queue full), exported, and failed to export so far; `None` with traces off.
pub(crate) fn counts() -> Option<[u64; 3]> {
    use std::sync::atomic::Ordering::Relaxed;
    let counts = &INSTALLED.get()?.counts;
    Some([counts.dropped.load(Relaxed), counts.exported.load(Relaxed), counts.failed.load(Relaxed)])
}

/// The trace and span ids of the traced request running now, for a log line; `None` with
/// traces off or outside one.
pub(crate) fn current_ids() -> Option<(String, String)> {
    use opentelemetry::trace::TraceContextExt as _;
    if !enabled() {
        return None;
    }
    // The layer activates a span's context when it is entered (log spans inside do not).
    let context = opentelemetry::Context::current();
    let ids = context.span().span_context().clone();
    ids.is_valid().then(|| (ids.trace_id().to_string(), ids.span_id().to_string()))
}
