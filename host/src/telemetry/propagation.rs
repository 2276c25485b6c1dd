//! W3C trace context in and out: `traceparent`, `tracestate` and `baggage` read from a
//! request's `_meta` (SEP-414, every transport) or its HTTP headers, and written into the
//! headers of a plugin's outbound HTTP requests.
//!
//! An invalid value is ignored (the span then starts a trace of its own), never an error:
//! a client's tracing must not break its calls.

use std::collections::BTreeMap;

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapCompositePropagator, TextMapPropagator};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use serde_json::Value;

use crate::protocol::meta::Meta;

/// The keys SEP-414 reserves in `_meta` (and the HTTP headers of the same names).
const KEYS: [&str; 3] = ["traceparent", "tracestate", "baggage"];

fn propagator() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![Box::new(TraceContextPropagator::new()), Box::new(BaggagePropagator::new())])
}

/// A request's `_meta`, read as a carrier.
struct MetaCarrier<'a>(&'a Meta);

impl Extractor for MetaCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        KEYS.into_iter().filter(|k| self.0.contains_key(k)).collect()
    }
}

/// HTTP headers, read as a carrier.
struct HeaderCarrier<'a>(&'a http::HeaderMap);

impl Extractor for HeaderCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        KEYS.into_iter().filter(|k| self.0.contains_key(*k)).collect()
    }
}

/// HTTP headers, written as a carrier.
struct HeaderWriter<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderWriter<'_> {
    fn set(&mut self, key: &str, value: String) {
        if value.is_empty() {
            return; // an empty `tracestate` says nothing
        }
        if let (Ok(name), Ok(value)) = (http::HeaderName::try_from(key), http::HeaderValue::try_from(value)) {
            self.0.insert(name, value);
        }
    }
}

/// The remote parent of a request: `_meta`'s trace context when it has a `traceparent`, else
/// the HTTP request's; `None` when neither carries a valid one.
pub(crate) fn remote_parent(meta: Option<&Meta>, headers: Option<&http::HeaderMap>) -> Option<Context> {
    use opentelemetry::trace::TraceContextExt as _;
    let propagator = propagator();
    let from_meta = meta.filter(|m| m.contains_key("traceparent")).map(|m| propagator.extract(&MetaCarrier(m)));
    let context = match from_meta {
        Some(context) if context.span().span_context().is_valid() => context,
        _ => propagator.extract(&HeaderCarrier(headers?)),
    };
    context.span().span_context().is_valid().then_some(context)
}

/// Writes `context`'s trace context and baggage into `headers` (a plugin's outbound request).
pub(crate) fn inject(context: &Context, headers: &mut http::HeaderMap) {
    propagator().inject_context(context, &mut HeaderWriter(headers));
}

/// Writes `context`'s trace context and baggage into `carried` (a message to other replicas).
pub(crate) fn inject_map(context: &Context, carried: &mut BTreeMap<String, String>) {
    propagator().inject_context(context, &mut MapCarrier(carried));
}

/// The trace context `carried` in a message from another replica, when it is valid.
pub(crate) fn extract_map(carried: &BTreeMap<String, String>) -> Option<Context> {
    use opentelemetry::trace::TraceContextExt as _;
    let context = propagator().extract(&MapRead(carried));
    context.span().span_context().is_valid().then_some(context)
}

/// A message's carried context, written.
struct MapCarrier<'a>(&'a mut BTreeMap<String, String>);

impl Injector for MapCarrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        if !value.is_empty() {
            self.0.insert(key.to_owned(), value);
        }
    }
}

/// A message's carried context, read.
struct MapRead<'a>(&'a BTreeMap<String, String>);

impl Extractor for MapRead<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TraceContextExt as _;
    use serde_json::json;

    use super::{Meta, remote_parent};

    const PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn meta_wins_over_headers_and_invalid_values_are_ignored() {
        let meta =
            Meta::from(json!({ "traceparent": PARENT, "baggage": "k=v" }).as_object().cloned().expect("an object"));
        let mut headers = http::HeaderMap::new();
        headers
            .insert("traceparent", "00-11111111111111111111111111111111-2222222222222222-01".parse().expect("value"));
        let from_meta = remote_parent(Some(&meta), Some(&headers)).expect("a parent");
        assert_eq!(from_meta.span().span_context().trace_id().to_string(), "0af7651916cd43dd8448eb211c80319c");
        let from_headers = remote_parent(None, Some(&headers)).expect("a parent");
        assert_eq!(from_headers.span().span_context().trace_id().to_string(), "11111111111111111111111111111111");
        let broken = Meta::from(json!({ "traceparent": "nonsense" }).as_object().cloned().expect("an object"));
        let fallback = remote_parent(Some(&broken), Some(&headers)).expect("the header's");
        assert_eq!(fallback.span().span_context().trace_id().to_string(), "11111111111111111111111111111111");
        assert!(remote_parent(Some(&broken), None).is_none(), "nothing valid: a trace of its own");
    }
}
