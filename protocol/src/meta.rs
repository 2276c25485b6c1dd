//! A request's `params._meta`: the members MCP defines read into fields as the
//! message is parsed, every other member kept by name.
//!
//! Every 2026-07-28 request carries `_meta`, and berth reads it several times
//! per request (era, envelope check, log level, progress token, trace
//! context). Read into fields, its member names are matched once against the
//! bytes instead of being copied into a map and looked up again.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};

use crate::key::Key;
use serde_json::{Map, Value};

/// `_meta` key of the request's protocol version.
pub const PROTOCOL_VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";
/// `_meta` key of the client's capabilities.
pub const CLIENT_CAPABILITIES_KEY: &str = "io.modelcontextprotocol/clientCapabilities";
/// `_meta` key of the log level the client wants for this request.
pub const LOG_LEVEL_KEY: &str = "io.modelcontextprotocol/logLevel";
/// `_meta` key of the token progress notifications name.
pub const PROGRESS_TOKEN_KEY: &str = "progressToken";

/// `params._meta` of a request that sent it as an object.
///
/// Each member is kept as the JSON value the client sent (a version that is not
/// a string is the envelope check's to refuse, not the parser's); a member given
/// twice keeps the last, as a `serde_json::Value` would.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meta {
    /// `io.modelcontextprotocol/protocolVersion`.
    pub protocol_version: Option<Value>,
    /// `io.modelcontextprotocol/clientCapabilities`.
    pub client_capabilities: Option<Value>,
    /// `io.modelcontextprotocol/logLevel`.
    pub log_level: Option<Value>,
    /// `progressToken`.
    pub progress_token: Option<Value>,
    /// Every other member: trace context (`traceparent`, …), clientInfo, a client's own keys.
    pub others: Map<String, Value>,
}

impl Meta {
    /// The member named `key`, whichever field holds it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self.field(key) {
            Some(field) => field.as_ref(),
            None => self.others.get(key),
        }
    }

    /// Whether the member named `key` was sent.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The field that holds member `key`, for the members MCP defines.
    fn field(&self, key: &str) -> Option<&Option<Value>> {
        match key {
            PROTOCOL_VERSION_KEY => Some(&self.protocol_version),
            CLIENT_CAPABILITIES_KEY => Some(&self.client_capabilities),
            LOG_LEVEL_KEY => Some(&self.log_level),
            PROGRESS_TOKEN_KEY => Some(&self.progress_token),
            _ => None,
        }
    }

    /// Sets member `key` to `value`, in its field or among the others.
    fn insert(&mut self, key: &str, value: Value) {
        let field = match key {
            PROTOCOL_VERSION_KEY => &mut self.protocol_version,
            CLIENT_CAPABILITIES_KEY => &mut self.client_capabilities,
            LOG_LEVEL_KEY => &mut self.log_level,
            PROGRESS_TOKEN_KEY => &mut self.progress_token,
            _ => {
                self.others.insert(key.to_owned(), value);
                return;
            }
        };
        *field = Some(value);
    }

    /// The same members, as a JSON object again.
    pub fn into_members(self) -> Map<String, Value> {
        let Meta { protocol_version, client_capabilities, log_level, progress_token, mut others } = self;
        let fields = [
            (PROTOCOL_VERSION_KEY, protocol_version),
            (CLIENT_CAPABILITIES_KEY, client_capabilities),
            (LOG_LEVEL_KEY, log_level),
            (PROGRESS_TOKEN_KEY, progress_token),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                others.insert(key.to_owned(), value);
            }
        }
        others
    }
}

impl From<Map<String, Value>> for Meta {
    /// The members of an object already decoded (the value path), read into fields.
    fn from(members: Map<String, Value>) -> Self {
        let mut meta = Meta::default();
        for (key, value) in members {
            meta.insert(&key, value);
        }
        meta
    }
}

/// Reads a `_meta` member into the slot it names: an object into the fields of a new
/// [`Meta`] there (built in place), anything else, which the
/// envelope check refuses, handed back as the value it is (the slot emptied).
pub(crate) struct MetaSeed<'a>(pub(crate) &'a mut Option<Box<Meta>>);

impl<'de> DeserializeSeed<'de> for MetaSeed<'_> {
    /// The member when it is not an object.
    type Value = Option<Value>;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Option<Value>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// Reads the members of a `_meta` object into `meta`.
fn fill<'de, A: MapAccess<'de>>(meta: &mut Meta, mut map: A) -> Result<(), A::Error> {
    while let Some(key) = map.next_key::<Key<'de>>()? {
        let value: Value = map.next_value()?;
        meta.insert(&key.0, value);
    }
    Ok(())
}

impl<'de> Visitor<'de> for MetaSeed<'_> {
    type Value = Option<Value>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<Value>, A::Error> {
        // As in a value, a later `_meta` replaces an earlier one whole.
        fill(self.0.insert(Box::default()), map)?;
        Ok(None)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Option<Value>, A::Error> {
        *self.0 = None;
        Value::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Some)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Option<Value>, E> {
        self.other(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Option<Value>, E> {
        self.other(value.into())
    }

    fn visit_u64<E>(self, value: u64) -> Result<Option<Value>, E> {
        self.other(value.into())
    }

    fn visit_f64<E>(self, value: f64) -> Result<Option<Value>, E> {
        // serde_json reads no NaN or infinity: every f64 it hands over is a number.
        self.other(serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Option<Value>, E> {
        self.other(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Option<Value>, E> {
        self.other(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Option<Value>, E> {
        self.other(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Option<Value>, E> {
        self.other(Value::Null)
    }
}

impl MetaSeed<'_> {
    /// A `_meta` that is not an object: the slot emptied, the value handed back.
    fn other<E>(self, value: Value) -> Result<Option<Value>, E> {
        *self.0 = None;
        Ok(Some(value))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// `text`, a JSON object, read as the parser reads a `_meta` member.
    fn read(text: &str) -> Meta {
        let mut slot = None;
        let other = MetaSeed(&mut slot).deserialize(&mut serde_json::Deserializer::from_str(text)).expect("JSON");
        assert_eq!(other, None, "{text} is an object");
        *slot.expect("read into the slot")
    }

    /// Read from text or from a decoded value, `_meta` holds the same members, and they
    /// come back out as the object that was sent.
    #[test]
    fn fields_and_others_hold_every_member() {
        let sent = json!({
            PROTOCOL_VERSION_KEY: "2026-07-28",
            CLIENT_CAPABILITIES_KEY: { "sampling": {} },
            LOG_LEVEL_KEY: "debug",
            PROGRESS_TOKEN_KEY: 7,
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "x.example/own": [1, { "a": null }],
        });
        let parsed = read(&sent.to_string());
        let Value::Object(members) = sent.clone() else { unreachable!("built as an object") };
        assert_eq!(parsed, Meta::from(members));
        assert_eq!(parsed.protocol_version, Some(json!("2026-07-28")));
        assert_eq!(parsed.progress_token, Some(json!(7)));
        assert_eq!(parsed.get("traceparent"), sent.get("traceparent"));
        assert_eq!(parsed.get(LOG_LEVEL_KEY), Some(&json!("debug")));
        assert!(parsed.contains_key("x.example/own") && !parsed.contains_key("absent"));
        assert_eq!(Value::Object(parsed.into_members()), sent);
    }

    /// A member given twice keeps the last, in a field as among the others; a member
    /// given as `null` is there.
    #[test]
    fn the_last_of_a_repeated_member_counts() {
        let text = r#"{"progressToken":1,"k":1,"progressToken":null,"k":2}"#;
        let parsed = read(text);
        let value: Value = serde_json::from_str(text).expect("JSON");
        assert_eq!(parsed.progress_token, Some(Value::Null));
        assert!(parsed.contains_key(PROGRESS_TOKEN_KEY));
        assert_eq!(Value::Object(parsed.into_members()), value);
    }

    /// Anything but an object is kept as the value it is.
    #[test]
    fn a_member_that_is_not_an_object_is_kept_as_sent() {
        for text in ["null", "true", "-3", "18446744073709551615", "2.5", r#""v""#, r#"[1,{"a":[]}]"#] {
            let expected: Value = serde_json::from_str(text).expect("JSON");
            let mut slot = Some(Box::default());
            let read = MetaSeed(&mut slot).deserialize(&mut serde_json::Deserializer::from_str(text));
            assert_eq!((read.expect("JSON"), slot), (Some(expected), None), "{text}");
        }
        let mut slot = None;
        let read = MetaSeed(&mut slot).deserialize(&mut serde_json::Deserializer::from_str(r#"{"k":1}"#));
        let others = slot.map(|meta| meta.others);
        assert_eq!((read.expect("JSON"), others), (None, Some(Map::from_iter([("k".to_owned(), 1.into())]))));
    }
}
