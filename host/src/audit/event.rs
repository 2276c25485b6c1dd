//! One audit event and its JSON line.

use std::net::IpAddr;

use serde::Serialize;

use crate::access::Identity;

/// How an audited request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A result (a tool's `isError: false`, a read's contents, a prompt).
    Ok,
    /// A tool result with `isError: true`.
    ToolError,
    /// A JSON-RPC error (unknown tool, bad params, a plugin failure, …).
    Error,
    /// The caller may not use the target: answered as if it did not exist.
    RefusedByRule,
    /// Refused because the caller was over one of its quotas.
    OverQuota,
}

impl Outcome {
    /// Every outcome, in counter order.
    pub(crate) const ALL: [Outcome; 5] =
        [Outcome::Ok, Outcome::ToolError, Outcome::Error, Outcome::RefusedByRule, Outcome::OverQuota];

    /// Its name in events and metric labels.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ToolError => "tool_error",
            Outcome::Error => "error",
            Outcome::RefusedByRule => "refused_by_rule",
            Outcome::OverQuota => "over_quota",
        }
    }
}

/// One audited request, as the trail writes it.
pub(crate) struct Event<'a> {
    /// Who, by credentials (`None`: anonymous, or a token with no name).
    pub(crate) identity: Option<&'a Identity>,
    /// The source quotas count it as (`id:ci`, `token:<digest>`, `addr:<ip>`, `stdio`).
    pub(crate) source: &'a str,
    /// The client's address, when it came over the network.
    pub(crate) address: Option<IpAddr>,
    /// `http`, `websocket`, `stdio`, `in-process`.
    pub(crate) transport: &'static str,
    pub(crate) method: &'a str,
    /// The tool or prompt name, or the resource URI, as the client sent it.
    pub(crate) target: Option<&'a str>,
    pub(crate) outcome: Outcome,
    /// The JSON-RPC error code, for `error`, `refused_by_rule` and `over_quota`.
    pub(crate) error_code: Option<i64>,
    pub(crate) duration: std::time::Duration,
    pub(crate) trace_id: Option<String>,
    /// The legacy session, if any.
    pub(crate) session: Option<&'a str>,
}

impl Event<'_> {
    /// The event as one JSON line (with its newline).
    pub(crate) fn to_line(&self) -> Vec<u8> {
        // Serialized straight from borrowed fields: a `Value` tree per event cost about as
        // many instructions as the call it records (BENCHMARKS.md, "Access rules").
        let line = Line {
            audit: true,
            time: Time(chrono::Utc::now()),
            identity: self.identity.and_then(Who::of),
            source: self.source,
            address: self.address,
            transport: self.transport,
            method: self.method,
            target: self.target,
            outcome: self.outcome.label(),
            error_code: self.error_code,
            duration_us: u64::try_from(self.duration.as_micros()).unwrap_or(u64::MAX),
            trace_id: self.trace_id.as_deref(),
            session: self.session,
        };
        let mut bytes = Vec::with_capacity(320);
        if serde_json::to_writer(&mut bytes, &line).is_err() {
            bytes.clear();
        }
        bytes.push(b'\n');
        bytes
    }
}

/// An event's JSON line.
#[derive(Serialize)]
struct Line<'a> {
    audit: bool,
    time: Time,
    identity: Option<Who<'a>>,
    source: &'a str,
    address: Option<IpAddr>,
    transport: &'a str,
    method: &'a str,
    target: Option<&'a str>,
    outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<i64>,
    duration_us: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<&'a str>,
}

/// How the trail names a caller: by name, else by issuer and subject.
#[derive(Serialize)]
#[serde(untagged)]
enum Who<'a> {
    Named { name: &'a str },
    Subject { issuer: Option<&'a str>, subject: &'a str },
}

impl<'a> Who<'a> {
    fn of(identity: &'a Identity) -> Option<Self> {
        match (&identity.name, &identity.subject) {
            (Some(name), _) => Some(Who::Named { name }),
            (None, Some(subject)) => Some(Who::Subject { issuer: identity.issuer.as_deref(), subject }),
            (None, None) => None,
        }
    }
}

/// A UTC time as RFC 3339 with microseconds (`2026-12-06T05:40:12.123456Z`).
struct Time(chrono::DateTime<chrono::Utc>);

impl Serialize for Time {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use chrono::{Datelike as _, Timelike as _};
        // Written digit by digit: chrono's `format` parses its pattern on every call, which
        // was a fifth of what an event cost.
        let t = &self.0;
        let mut text = [0u8; 27];
        let mut at = 0;
        let mut put = |value: u32, digits: u32, then: u8| {
            for place in (0..digits).rev() {
                text[at] = b'0' + u8::try_from(value / 10u32.pow(place) % 10).unwrap_or(0);
                at += 1;
            }
            text[at] = then;
            at += 1;
        };
        put(u32::try_from(t.year()).unwrap_or(0), 4, b'-');
        put(t.month(), 2, b'-');
        put(t.day(), 2, b'T');
        put(t.hour(), 2, b':');
        put(t.minute(), 2, b':');
        put(t.second(), 2, b'.');
        // A leap second's nanoseconds run past 1e9: clamp into the last microsecond.
        put((t.nanosecond() / 1_000).min(999_999), 6, b'Z');
        serializer.serialize_str(std::str::from_utf8(&text).unwrap_or("1970-01-01T00:00:00.000000Z"))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use crate::access::Identity;
    use crate::audit::event::*;

    fn line(event: &Event<'_>) -> Value {
        let bytes = event.to_line();
        assert_eq!(bytes.last(), Some(&b'\n'), "one line each");
        serde_json::from_slice(&bytes).expect("a JSON line")
    }

    #[test]
    fn an_event_says_who_what_and_how_it_ended() {
        let ci = Identity::named("ci");
        let event = Event {
            identity: Some(&ci),
            source: "id:ci",
            address: Some([10, 0, 0, 7].into()),
            transport: "http",
            method: "tools/call",
            target: Some("deploy \"prod\""),
            outcome: Outcome::RefusedByRule,
            error_code: Some(-32602),
            duration: Duration::from_micros(41),
            trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
            session: None,
        };
        let line = line(&event);
        assert_eq!(line["identity"], json!({ "name": "ci" }));
        assert_eq!(line["address"], "10.0.0.7");
        assert_eq!(line["target"], "deploy \"prod\"", "escaped, not broken");
        assert_eq!((line["outcome"].as_str(), line["error_code"].as_i64()), (Some("refused_by_rule"), Some(-32602)));
        assert_eq!(line["duration_us"], 41);
        assert!(line.get("session").is_none(), "absent, not null");
        let time = line["time"].as_str().expect("time");
        assert!(
            chrono::DateTime::parse_from_rfc3339(time).is_ok() && time.ends_with('Z') && time.len() == 27,
            "{time}"
        );

        let oauth = Identity::from_claims(json!({ "iss": "https://auth.example", "sub": "user-1" }));
        let by_subject =
            Event { identity: Some(&oauth), trace_id: None, error_code: None, outcome: Outcome::Ok, ..event };
        let line = self::line(&by_subject);
        assert_eq!(line["identity"], json!({ "issuer": "https://auth.example", "subject": "user-1" }));
        assert!(line.get("error_code").is_none() && line.get("trace_id").is_none());
    }
}
