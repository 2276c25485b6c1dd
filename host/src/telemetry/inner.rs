//! The child spans of a request where its time goes outside berth's own code: a Redis
//! command, a plugin's outbound HTTP request, a message relayed to the other replicas
//! of a cluster and its delivery there. Each is made only inside a traced request, so
//! background work (lease renewals, index flushes) adds no traces of its own.

use std::collections::BTreeMap;

use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::{enabled, in_trace, propagation, trace_span, unsampled};

/// Trace context carried in a message between replicas (`traceparent`, `tracestate`,
/// `baggage`); empty when the sender was not in a traced request.
pub(crate) type Carried = BTreeMap<String, String>;

/// `work` that a request hands to a task of its own, kept in the request's trace.
pub(crate) fn follow<F: std::future::Future>(work: F) -> opentelemetry::context::WithContext<F> {
    use opentelemetry::context::FutureExt as _;
    work.with_context(opentelemetry::Context::current())
}

/// The span of Redis command `operation`, kind client; disabled outside a traced request.
pub(crate) fn redis(operation: &str) -> Span {
    if !in_trace() {
        return Span::none();
    }
    trace_span!(
        "redis",
        otel.name = operation,
        otel.kind = "client",
        otel.status_code = Empty,
        "db.system.name" = "redis",
        "db.operation.name" = operation,
        "error.type" = Empty,
    )
}

/// The span of a plugin's outbound HTTP request, kind client, whose context it carries to
/// the server it calls (`traceparent` and the client's baggage, written into `headers`).
pub(crate) fn http_client(method: &http::Method, uri: &http::Uri, headers: &mut http::HeaderMap) -> Span {
    if !in_trace() {
        if let Some(context) = unsampled() {
            propagation::inject(&context, headers);
        }
        return Span::none();
    }
    let span = trace_span!(
        "http client",
        otel.name = method.as_str(),
        otel.kind = "client",
        otel.status_code = Empty,
        "http.request.method" = method.as_str(),
        "server.address" = uri.host().unwrap_or_default(),
        "server.port" = Empty,
        "url.full" = Empty,
        "http.response.status_code" = Empty,
        "error.type" = Empty,
    );
    if let Some(port) = uri.port_u16().or_else(|| match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    }) {
        span.record("server.port", i64::from(port));
    }
    // The query may hold secrets (API keys): the span keeps the URL without it.
    let mut url = uri.clone().into_parts();
    url.path_and_query = url.path_and_query.and_then(|p| p.path().parse().ok());
    if let Ok(url) = http::Uri::from_parts(url) {
        span.record("url.full", url.to_string().as_str());
    }
    propagation::inject(&span.context(), headers);
    span
}

/// Records how an outbound HTTP request ended on its `span`.
pub(crate) fn http_answered(span: &Span, status: Result<u16, &str>) {
    if span.is_disabled() {
        return;
    }
    match status {
        Ok(status) => {
            span.record("http.response.status_code", i64::from(status));
            if status >= 500 {
                span.record("error.type", status.to_string().as_str());
                span.record("otel.status_code", "ERROR");
            }
        }
        Err(error) => {
            span.record("error.type", error);
            span.record("otel.status_code", "ERROR");
        }
    }
}

/// Records that a Redis command failed (`kind` of failure) on its `span`.
pub(crate) fn redis_failed(span: &Span, kind: &str) {
    if !span.is_disabled() {
        span.record("error.type", kind);
        span.record("otel.status_code", "ERROR");
    }
}

/// A message about to be relayed to the other replicas on `channel`: its span (kind
/// producer, ended once the message is queued) and the trace context the message carries,
/// empty outside a traced request.
pub(crate) fn relay_send(channel: &str, kind: &str) -> Carried {
    let mut carried = Carried::new();
    if !in_trace() {
        return carried;
    }
    let span = trace_span!(
        "relay send",
        otel.name = format!("send {channel} {kind}").as_str(),
        otel.kind = "producer",
        "messaging.system" = "redis",
        "messaging.operation.type" = "send",
        "messaging.destination.name" = channel,
    );
    propagation::inject_map(&span.context(), &mut carried);
    carried
}

/// The span of delivering a message relayed on `channel` from replica `from` (kind
/// consumer), in the trace the message carried; disabled when it carried none.
pub(crate) fn relay_receive(channel: &str, kind: &str, from: &str, carried: &Carried) -> Span {
    if !enabled() || carried.is_empty() {
        return Span::none();
    }
    let Some(parent) = propagation::extract_map(carried) else { return Span::none() };
    let span = trace_span!(
        "relay receive",
        otel.name = format!("process {channel} {kind}").as_str(),
        otel.kind = "consumer",
        "messaging.system" = "redis",
        "messaging.operation.type" = "process",
        "messaging.destination.name" = channel,
        "berth.relay.from" = from,
    );
    let _ = span.set_parent(parent);
    span
}

/// The span of a request berth sends the client (`elicitation/create`, `sampling/createMessage`,
/// `roots/list`) and waits on, kind client; its context goes into the request's `_meta` so a
/// client that traces its handler continues the call's trace (SEP-414 both ways).
pub(crate) fn client_request(method: &str, params: &mut serde_json::Value) -> Span {
    let (span, context) = if in_trace() {
        let span = trace_span!(
            "mcp.client",
            otel.name = method,
            otel.kind = "client",
            otel.status_code = Empty,
            "mcp.method.name" = method,
            "error.type" = Empty,
        );
        let context = span.context();
        (span, context)
    } else {
        match unsampled() {
            Some(context) => (Span::none(), context),
            None => return Span::none(),
        }
    };
    let mut carried = Carried::new();
    propagation::inject_map(&context, &mut carried);
    if let Some(params) = params.as_object_mut() {
        let meta = params.entry("_meta").or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        if let Some(meta) = meta.as_object_mut() {
            for (key, value) in carried {
                meta.entry(key).or_insert(serde_json::Value::String(value));
            }
        }
    }
    span
}
