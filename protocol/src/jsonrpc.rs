//! JSON-RPC 2.0 framing: parsing one message, named error codes, building replies.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::arguments::{Arguments, NotAnObject};
use crate::key::Key;
use crate::meta::{Meta, MetaSeed};

pub use crate::payload::{Payload, Written};

/// Invalid JSON.
pub const PARSE_ERROR: i32 = -32700;
/// Valid JSON that is not one JSON-RPC request, notification or response.
pub const INVALID_REQUEST: i32 = -32600;
/// The method does not exist (in this protocol era).
pub const METHOD_NOT_FOUND: i32 = -32601;
/// The params are wrong: missing fields, unknown tool, bad cursor, ...
pub const INVALID_PARAMS: i32 = -32602;
/// The server failed.
pub const INTERNAL_ERROR: i32 = -32603;
/// Legacy eras: the resource does not exist.
pub const RESOURCE_NOT_FOUND: i32 = -32002;
/// 2026-07-28: an HTTP routing header disagrees with the body.
pub const HEADER_MISMATCH: i32 = -32020;
/// 2026-07-28: the request needs a client capability it did not declare.
pub const MISSING_REQUIRED_CLIENT_CAPABILITY: i32 = -32021;
/// 2026-07-28: the requested protocol version is not served.
pub const UNSUPPORTED_PROTOCOL_VERSION: i32 = -32022;
/// berth: the server is overloaded or at a capacity limit; retry later.
pub const SERVER_BUSY: i32 = -32000;

/// A JSON-RPC error object: protocol errors are data, not exceptions.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i32,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    /// An error with `code` and `message` and no data.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), data: None }
    }

    /// The same error with `data` attached.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMS, message)
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(INVALID_REQUEST, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(INTERNAL_ERROR, message)
    }

    pub fn method_not_found(method: &str) -> Self {
        Self::new(METHOD_NOT_FOUND, format!("method not found: {method}"))
    }

    /// -32000 for a client over one of its own quotas (`limit`): `data` has
    /// the limit, `scope: "source"` and `retryAfterMs`; HTTP carries it as 429.
    pub fn over_quota(limit: &str, message: impl Into<String>, retry_after_ms: u64) -> Self {
        Self::new(SERVER_BUSY, message).with_data(json!({
            "limit": limit,
            "scope": "source",
            "retryAfterMs": retry_after_ms,
        }))
    }

    /// Whether this is a client's own quota refusal (see [`RpcError::over_quota`]).
    pub fn is_over_quota(&self) -> bool {
        self.code == SERVER_BUSY && self.data.as_ref().is_some_and(|data| data["scope"] == "source")
    }

    /// The HTTP status that carries this error on Streamable HTTP.
    pub fn http_status(&self) -> u16 {
        match self.code {
            PARSE_ERROR
            | INVALID_REQUEST
            | INVALID_PARAMS
            | HEADER_MISMATCH
            | MISSING_REQUIRED_CLIENT_CAPABILITY
            | UNSUPPORTED_PROTOCOL_VERSION => 400,
            METHOD_NOT_FOUND => 404,
            SERVER_BUSY if self.is_over_quota() => 429,
            SERVER_BUSY => 503,
            _ => 200,
        }
    }

    fn to_json(&self) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), self.code.into());
        error.insert("message".into(), self.message.clone().into());
        if let Some(data) = &self.data {
            error.insert("data".into(), data.clone());
        }
        Value::Object(error)
    }
}

/// One parsed JSON-RPC message.
#[derive(Debug, Clone)]
pub enum Message {
    /// A request, answered by a response with the same id.
    Request(Request),
    /// A notification: no id, no answer.
    Notification { method: String, params: Option<Value> },
    /// A client's answer to a request the server sent.
    Response { id: Value, answer: Result<Value, RpcError> },
}

/// A JSON-RPC request.
#[derive(Debug, Clone)]
pub struct Request {
    /// A string or number, echoed in the reply.
    pub id: Value,
    pub method: String,
    /// An object (or absent), without its `name` and `arguments` members and without a
    /// `_meta` object, which are kept apart.
    pub params: Option<Value>,
    /// `params.name` (what `tools/call` and `prompts/get` name), kept apart from the map:
    /// a call's params then often need no map node at all. Read through [`Request::param`].
    name: Option<Value>,
    /// `params.arguments` as the JSON text the client sent, parsed only where a check
    /// needs it (see [`Arguments`](crate::arguments::Arguments)).
    pub arguments: Option<Box<RawValue>>,
    /// `params._meta`, when it is an object, read into fields ([`Meta`]; boxed, as it is
    /// large to move); any other `_meta` stays in `params` for the envelope check to refuse.
    pub meta: Option<Box<Meta>>,
    /// The arguments as parsed for berth's checks, kept so the `Mcp-Param-*` headers and
    /// the input schema are checked against one parse (see [`Request::checked_arguments`]).
    checked: OnceLock<Checked>,
}

/// Arguments parsed once: the value berth's checks read and, when the client's text named
/// a member twice, the text written again from that value.
#[derive(Debug, Clone)]
struct Checked {
    value: Value,
    rewritten: Option<String>,
}

impl Request {
    /// A request with `params` as a value (its `name` kept apart, its `arguments` member
    /// taken out and kept as text, its `_meta` read into fields).
    pub fn new(id: Value, method: impl Into<String>, params: Option<Value>) -> Self {
        let (params, name, arguments, meta) = match params {
            Some(Value::Object(members)) => {
                let split = Params::from_members(members);
                (Some(Value::Object(split.members)), split.name, split.arguments, split.meta)
            }
            other => (other, None, None, None),
        };
        Self { id, method: method.into(), params, name, arguments, meta, checked: OnceLock::new() }
    }

    /// `params.arguments`: the client's JSON text, or `{}`; -32602 when it is not an object.
    pub fn arguments(&self) -> Result<Arguments<'_>, RpcError> {
        Arguments::new(self.arguments.as_deref())
            .map_err(|NotAnObject| RpcError::invalid_params("params.arguments must be an object"))
    }

    /// `params.arguments` as [`Arguments::checked`] reads them (the value berth's checks
    /// read, the text a plugin gets), parsed on the first call and kept for the next.
    pub fn checked_arguments(&self) -> Result<(&Value, &str), RpcError> {
        let arguments = self.arguments()?;
        let checked = self.checked.get_or_init(|| match arguments.checked() {
            (value, Cow::Borrowed(_)) => Checked { value, rewritten: None },
            (value, Cow::Owned(text)) => Checked { value, rewritten: Some(text) },
        });
        Ok((&checked.value, checked.rewritten.as_deref().unwrap_or(arguments.text())))
    }

    /// The params object, if any, without the members kept apart (`name`, `arguments`, a
    /// `_meta` object).
    pub fn params_object(&self) -> Option<&Map<String, Value>> {
        self.params.as_ref().and_then(Value::as_object)
    }

    /// `params[key]`, if any (`arguments` is read through [`Request::arguments`], a
    /// `_meta` object through [`Request::meta`]).
    pub fn param(&self, key: &str) -> Option<&Value> {
        if key == NAME {
            return self.name.as_ref();
        }
        self.params_object().and_then(|p| p.get(key))
    }

    /// `params._meta`, if it is an object.
    pub fn meta(&self) -> Option<&Meta> {
        self.meta.as_deref()
    }
}

/// A message that could not be parsed, with the id to answer to (if one was readable).
#[derive(Debug, Clone)]
pub struct Rejected {
    pub id: Value,
    pub error: RpcError,
}

/// Parses one JSON-RPC message. Batches (arrays) are refused: no supported
/// MCP revision allows them on this endpoint.
pub fn parse(bytes: &[u8]) -> Result<Message, Rejected> {
    // An object's members go straight into their fields, without a map of
    // the whole message built first; anything else (arrays, scalars, an
    // object with a member twice) takes the slower path for its exact answer.
    // (A derived struct would also take an array, by position: objects only.)
    // The bytes are checked as UTF-8 once, as a whole: read from bytes, serde_json would
    // check each string it reads on its own, which cost more than the check of the body.
    // Bytes that are not UTF-8 take the value path, whose error says where they go wrong.
    let is_object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if is_object
        && let Ok(text) = std::str::from_utf8(bytes)
        && let Ok(envelope) = serde_json::from_str::<Envelope>(text)
    {
        return from_parts(envelope);
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| Rejected { id: Value::Null, error: RpcError::new(PARSE_ERROR, format!("parse error: {e}")) })?;
    from_value(value)
}

/// The members of a message that berth reads; JSON-RPC lets others be ignored.
/// A member given as `null` is present (`Some(Value::Null)`), unlike one left out.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Envelope {
    /// Whether the member is the string `"2.0"`.
    #[serde(deserialize_with = "version_two")]
    jsonrpc: Option<bool>,
    #[serde(deserialize_with = "present")]
    id: Option<Value>,
    #[serde(deserialize_with = "present")]
    method: Option<Value>,
    /// Only an object deserializes here; anything else takes the value path for its answer.
    #[serde(deserialize_with = "present_object")]
    params: Option<ParamsMember>,
    #[serde(deserialize_with = "present")]
    result: Option<Value>,
    #[serde(deserialize_with = "present")]
    error: Option<Value>,
}

/// A member that is there, even as `null`.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// Whether `jsonrpc` is `"2.0"`, read without copying it out of the bytes.
fn version_two<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    let raw = <&'de RawValue>::deserialize(deserializer)?;
    // Written with escapes (`"2\u002e0"`) it is still the same string.
    let two = raw.get() == r#""2.0""# || serde_json::from_str::<String>(raw.get()).is_ok_and(|s| s == "2.0");
    Ok(Some(two))
}

/// `params` read straight from the bytes: an object, its `arguments` kept as text.
fn present_object<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<ParamsMember>, D::Error> {
    Params::deserialize(deserializer).map(|params| Some(ParamsMember::Object(params)))
}

/// A message's `params` member: an object, or something else (refused).
enum ParamsMember {
    Object(Params),
    Other,
}

/// The member kept apart from a request's params map, see [`Request::param`].
const NAME: &str = "name";

/// A `params` object: its members as values, except `name`, `arguments`, kept as JSON
/// text, and a `_meta` object, read into fields.
struct Params {
    members: Map<String, Value>,
    name: Option<Value>,
    arguments: Option<Box<RawValue>>,
    meta: Option<Box<Meta>>,
}

impl Params {
    /// The same split of an object already decoded (the value path).
    fn from_members(mut members: Map<String, Value>) -> Self {
        // A `Value` always serializes to JSON text; were it not to, the arguments would read as absent.
        let name = members.remove(NAME);
        let arguments = members.remove("arguments").and_then(|a| serde_json::value::to_raw_value(&a).ok());
        let meta = match members.remove("_meta") {
            Some(Value::Object(meta)) => Some(Box::new(Meta::from(meta))),
            Some(other) => {
                members.insert("_meta".to_owned(), other);
                None
            }
            None => None,
        };
        Self { members, name, arguments, meta }
    }

    /// The members put back together as one object (a notification's params, kept whole).
    fn into_value(self) -> Value {
        let Params { mut members, name, arguments, meta } = self;
        if let Some(name) = name {
            members.insert(NAME.to_owned(), name);
        }
        if let Some(meta) = meta {
            members.insert("_meta".to_owned(), Value::Object(meta.into_members()));
        }
        // The text came from valid JSON; were it not to parse, the member is left out.
        if let Some(arguments) = arguments
            && let Ok(value) = serde_json::from_str(arguments.get())
        {
            members.insert("arguments".to_owned(), value);
        }
        Value::Object(members)
    }
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ParamsVisitor)
    }
}

struct ParamsVisitor;

impl<'de> Visitor<'de> for ParamsVisitor {
    type Value = Params;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a params object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Params, A::Error> {
        let mut params = Params { members: Map::new(), name: None, arguments: None, meta: None };
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            // As in a value, the last of a member given twice counts.
            if key == "arguments" {
                let arguments: Box<RawValue> = map.next_value()?;
                // Kept as text, the arguments skip the parser's nesting limit; a message
                // nested deeper than a value could be takes the value path, which refuses it.
                if nests_deeper_than(arguments.get(), ARGUMENTS_NESTING) {
                    return Err(serde::de::Error::custom("arguments nested too deep"));
                }
                params.arguments = Some(arguments);
            } else if key == NAME {
                params.name = Some(map.next_value()?);
            } else if key == "_meta" {
                // As in a value, the last `_meta` counts, whatever it is.
                match map.next_value_seed(MetaSeed(&mut params.meta))? {
                    None => params.members.remove("_meta"),
                    Some(other) => params.members.insert("_meta".to_owned(), other),
                };
            } else {
                params.members.insert(key.into_owned(), map.next_value()?);
            }
        }
        Ok(params)
    }
}

/// Checks the envelope of an already-decoded message.
pub fn from_value(value: Value) -> Result<Message, Rejected> {
    let reject = |message: &str| Rejected { id: Value::Null, error: RpcError::invalid_request(message) };
    let Value::Object(mut object) = value else {
        if value.is_array() {
            return Err(reject("JSON-RPC batches are not supported: send one message per request"));
        }
        return Err(reject("a JSON-RPC message must be a JSON object"));
    };
    let params = object.remove("params").map(|params| match params {
        Value::Object(members) => ParamsMember::Object(Params::from_members(members)),
        _ => ParamsMember::Other,
    });
    from_parts(Envelope {
        jsonrpc: object.remove("jsonrpc").map(|version| version == "2.0"),
        id: object.remove("id"),
        method: object.remove("method"),
        params,
        result: object.remove("result"),
        error: object.remove("error"),
    })
}

/// What a message's members make it: a request, a notification or a response.
fn from_parts(envelope: Envelope) -> Result<Message, Rejected> {
    let reject = |id: Value, message: &str| Rejected { id, error: RpcError::invalid_request(message) };
    let Envelope { jsonrpc, id, method, params, result, error } = envelope;
    let id_ok = matches!(&id, Some(Value::String(_)) | Some(Value::Number(_)));
    let reply_id = if id_ok { id.clone().unwrap_or(Value::Null) } else { Value::Null };
    if jsonrpc != Some(true) {
        return Err(reject(reply_id, "\"jsonrpc\" must be \"2.0\""));
    }
    let params = match params {
        None => None,
        Some(ParamsMember::Object(params)) => Some(params),
        Some(ParamsMember::Other) => return Err(reject(reply_id, "\"params\" must be an object")),
    };
    match method {
        Some(Value::String(method)) => match id {
            None => Ok(Message::Notification { method, params: params.map(Params::into_value) }),
            Some(id) if id_ok => {
                let (params, name, arguments, meta) = match params {
                    Some(Params { members, name, arguments, meta }) => {
                        (Some(Value::Object(members)), name, arguments, meta)
                    }
                    None => (None, None, None, None),
                };
                Ok(Message::Request(Request { id, method, params, name, arguments, meta, checked: OnceLock::new() }))
            }
            Some(_) => Err(reject(Value::Null, "\"id\" must be a string or a number")),
        },
        Some(_) => Err(reject(reply_id, "\"method\" must be a string")),
        None if id_ok && result.is_some() => {
            Ok(Message::Response { id: reply_id, answer: Ok(result.unwrap_or(Value::Null)) })
        }
        None if id_ok && error.is_some() => {
            let error = error.unwrap_or(Value::Null);
            let code = error["code"].as_i64().and_then(|c| i32::try_from(c).ok()).unwrap_or(INTERNAL_ERROR);
            let message = error["message"].as_str().unwrap_or("the client reported an error").to_owned();
            let data = error.get("data").cloned();
            Ok(Message::Response { id: reply_id, answer: Err(RpcError { code, message, data }) })
        }
        None => Err(reject(reply_id, "missing \"method\"")),
    }
}

/// The deepest arguments a message may hold: as deep as a value of the whole message
/// may be (serde_json stops at 127 nested arrays and objects; the message and its
/// `params` are two of them). A test checks the two limits agree.
const ARGUMENTS_NESTING: usize = 125;

/// Whether arrays and objects nest more than `limit` deep in JSON text.
fn nests_deeper_than(text: &str, limit: usize) -> bool {
    // Every level opens with a `{` or `[`: text with no more of them than `limit` (those in
    // strings counted too) cannot nest deeper, and most arguments are found so in one
    // quick count instead of the scan that tells strings apart.
    if text.len() <= limit || text.bytes().filter(|b| matches!(b, b'{' | b'[')).count() <= limit {
        return false;
    }
    nesting(text) > limit
}

/// How deeply arrays and objects nest in JSON text (outside strings).
fn nesting(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in text.as_bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// A success reply.
pub fn success(id: &Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

/// A success reply as JSON bytes, written from its parts: no message value
/// is built, and nothing goes through `fmt` (the hot path of every answer).
pub fn success_bytes(id: &Value, result: &Payload) -> Vec<u8> {
    // A written result's size is known: one buffer that fits, never grown.
    let capacity = match result {
        Payload::Written(written) => 64 + written.len(),
        Payload::Value(_) => 256,
    };
    let mut out = Vec::with_capacity(capacity);
    out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    write_json(&mut out, id);
    out.extend_from_slice(br#","result":"#);
    result.write(&mut out);
    out.push(b'}');
    out
}

/// A success reply as JSON text (WebSocket text frames, stdio lines, SSE events).
pub fn success_text(id: &Value, result: &Payload) -> String {
    // Both parts are written by serde_json or vouched for by their writer: valid UTF-8.
    String::from_utf8(success_bytes(id, result)).unwrap_or_default()
}

/// A message as JSON bytes.
pub fn to_bytes(message: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    write_json(&mut out, message);
    out
}

/// A message as JSON text (for WebSocket text frames and stdio lines).
pub fn to_text(message: &Value) -> String {
    // serde_json writes valid UTF-8; `Value::to_string` would go through `fmt`, several times slower.
    String::from_utf8(to_bytes(message)).unwrap_or_default()
}

fn write_json(out: &mut Vec<u8>, value: &Value) {
    // Writing a `Value` into a `Vec` cannot fail: its map keys are strings and a `Vec` takes any write.
    let _ = serde_json::to_writer(out, value);
}

/// An error reply.
pub fn failure(id: &Value, error: &RpcError) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": error.to_json() })
}

/// A notification.
pub fn notification(method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "method": method, "params": params })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_id_reads_back_as_the_number_the_client_sent() {
        // Integers past u64 and fractions are floats; the written reply must parse to the very
        // float the request's id parsed to (found by the fuzz target: one unit apart before).
        for id in [
            "1666666666666666666666666666666666666666",
            "1666666666666666666666666666666666666666666666",
            "0.1",
            "2.5e-308",
            "18446744073709551616",
            "-7",
        ] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#);
            let Ok(Message::Request(request)) = parse(body.as_bytes()) else { panic!("{body} is a request") };
            let bytes = success_bytes(&request.id, &Payload::Value(json!({})));
            let reply: Value = serde_json::from_slice(&bytes).expect("valid JSON");
            assert_eq!(reply["id"], request.id, "{id}");
            assert_eq!(request.id, serde_json::from_str::<Value>(id).expect("a number"), "{id}");
        }
    }

    #[test]
    fn bytes_written_from_parts_are_the_reply_message() {
        let result = json!({ "content": [{ "type": "text", "text": "a \"quoted\" \u{e9}\n" }], "isError": false });
        for id in [json!(7), json!("req-1")] {
            let bytes = success_bytes(&id, &Payload::Value(result.clone()));
            let parsed: Value = serde_json::from_slice(&bytes).expect("valid JSON");
            assert_eq!(parsed, success(&id, result.clone()));
        }
        let failed = failure(&json!(1), &RpcError::invalid_params("no such tool"));
        assert_eq!(serde_json::from_slice::<Value>(&to_bytes(&failed)).expect("valid JSON"), failed);
        assert_eq!(to_text(&failed), failed.to_string());
    }

    fn request(text: &str) -> Request {
        match parse(text.as_bytes()) {
            Ok(Message::Request(request)) => request,
            Ok(_) => panic!("{text}: not a request"),
            Err(rejected) => panic!("{text}: {:?}", rejected.error),
        }
    }

    fn refusal(text: &str) -> Rejected {
        match parse(text.as_bytes()) {
            Err(rejected) => rejected,
            Ok(_) => panic!("{text}: accepted"),
        }
    }

    #[test]
    fn arguments_are_kept_as_the_text_the_client_sent() {
        let text = r#"{ "b": 1,  "a": "\u00e9" }"#;
        let fast = request(&format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"e","arguments":{text}}}}}"#
        ));
        assert_eq!(fast.arguments().map(|a| a.text()), Ok(text));
        assert_eq!(fast.params, Some(json!({})), "arguments are not in params as well");
        // The value path (a member given twice) keeps them too, written again.
        let slow = request(r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"tools/call","params":{"arguments":{"x":[1]}}}"#);
        assert_eq!(slow.arguments().map(|a| a.text()), Ok(r#"{"x":[1]}"#));
        // Absent or null is `{}`; anything else is the client's -32602, found when it is read.
        assert_eq!(request(r#"{"jsonrpc":"2.0","id":1,"method":"x"}"#).arguments().map(|a| a.text()), Ok("{}"));
        let array = request(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"arguments":[1]}}"#);
        assert_eq!(array.arguments().map_err(|e| e.code), Err(INVALID_PARAMS));
        // A notification's params stay whole.
        match parse(br#"{"jsonrpc":"2.0","method":"n","params":{"arguments":{"k":1},"z":2}}"#) {
            Ok(Message::Notification { params, .. }) => {
                assert_eq!(params, Some(json!({ "arguments": { "k": 1 }, "z": 2 })))
            }
            other => panic!("not a notification: {other:?}"),
        }
        // Built from a value, the same split.
        let built = Request::new(json!(3), "tools/call", Some(json!({ "name": "e", "arguments": { "k": true } })));
        assert_eq!(built.arguments().map(|a| a.text()), Ok(r#"{"k":true}"#));
        assert_eq!((built.param("name"), &built.params), (Some(&json!("e")), &Some(json!({}))));
    }

    #[test]
    fn the_name_is_kept_apart_and_read_as_a_param() {
        let read = request(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"e","k":1}}"#);
        assert_eq!((read.param("name"), read.param("k")), (Some(&json!("e")), Some(&json!(1))));
        assert_eq!(read.params, Some(json!({ "k": 1 })), "the name is not in params as well");
        // Whatever it is, the last of two counts; a notification's params stay whole.
        let twice = request(r#"{"jsonrpc":"2.0","id":1,"method":"m","params":{"name":"a","name":5}}"#);
        assert_eq!(twice.param("name"), Some(&json!(5)));
        let slow = request(r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"m","params":{"name":"a","name":[1]}}"#);
        assert_eq!(slow.param("name"), Some(&json!([1])));
        assert_eq!(request(r#"{"jsonrpc":"2.0","id":1,"method":"m","params":{}}"#).param("name"), None);
        match parse(br#"{"jsonrpc":"2.0","method":"n","params":{"name":"e","z":2}}"#) {
            Ok(Message::Notification { params, .. }) => assert_eq!(params, Some(json!({ "name": "e", "z": 2 }))),
            other => panic!("not a notification: {other:?}"),
        }
    }

    #[test]
    fn a_body_that_is_not_utf8_is_a_parse_error() {
        let mut body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"e"}}"#.to_vec();
        let at = body.iter().position(|b| *b == b'e').expect("an e");
        body[at] = 0xff;
        assert_eq!(parse(&body).map_err(|r| (r.id, r.error.code)).err(), Some((Value::Null, PARSE_ERROR)));
        // UTF-8 beyond ASCII, escaped or not, is read as sent.
        let accented = request(r#"{"jsonrpc":"2.0","id":1,"method":"m","params":{"name":"éé"}}"#);
        assert_eq!(accented.param("name"), Some(&json!("éé")));
    }

    #[test]
    fn checked_arguments_are_parsed_once_and_keep_the_text_a_plugin_gets() {
        let read = request(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"a": 1}}}"#);
        let (value, text) = read.checked_arguments().expect("an object");
        assert_eq!((value, text), (&json!({ "a": 1 }), r#"{"a": 1}"#), "the client's own text");
        let (again, _) = read.checked_arguments().expect("an object");
        assert!(std::ptr::eq(value, again), "the second read is the first parse, kept");
        // A member named twice: the checked value's text, written again, every time.
        let twice = request(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"a":1,"a":2}}}"#);
        for _ in 0..2 {
            assert_eq!(twice.checked_arguments().expect("an object"), (&json!({ "a": 2 }), r#"{"a":2}"#));
        }
        let array = request(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"arguments":[1]}}"#);
        assert_eq!(array.checked_arguments().map_err(|e| e.code), Err(INVALID_PARAMS));
    }

    #[test]
    fn arguments_nest_exactly_as_deep_as_a_value_may() {
        for depth in 120..135 {
            let arguments =
                format!("{}{}", r#"{"a":"#.repeat(depth - 1) + r#"{"s":"]]}}[[{\""}"#, "}".repeat(depth - 1));
            let text =
                format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"arguments":{arguments}}}}}"#);
            let as_value = serde_json::from_str::<Value>(&text).is_ok();
            assert_eq!(parse(text.as_bytes()).is_ok(), as_value, "{depth} deep");
            if as_value {
                assert_eq!(nesting(request(&text).arguments().expect("an object").text()), depth);
            }
        }
        // The quick count and the scan agree, on either side of the limit, with brackets in
        // strings to mislead the count.
        for depth in [1, 3, 4, 5] {
            let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let quoted = format!(r#"[{}"{}\"[",{}]"#, "[".repeat(depth - 1), "[".repeat(9), "]".repeat(depth - 1));
            for text in [text, quoted] {
                for limit in 0..8 {
                    assert_eq!(nests_deeper_than(&text, limit), nesting(&text) > limit, "{text} against {limit}");
                }
            }
        }
    }

    #[test]
    fn meta_is_read_into_its_fields_and_kept_apart_from_params() {
        let text = r#"{"jsonrpc":"2\u002e0","id":1,"method":"tools/call","params":{"name":"e","_meta":{
            "io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},
            "progressToken":"p","traceparent":"t"}}}"#;
        let read = request(text);
        let meta = read.meta().expect("an object");
        assert_eq!(meta.protocol_version, Some(json!("2026-07-28")));
        assert_eq!(meta.client_capabilities, Some(json!({})));
        assert_eq!((meta.progress_token.clone(), meta.get("traceparent")), (Some(json!("p")), Some(&json!("t"))));
        assert_eq!(read.params, Some(json!({})), "_meta is not in params as well");
        // The value path (a member given twice) reads the same.
        let twice = text.replacen(r#""id":1"#, r#""id":0,"id":1"#, 1);
        let slow = request(&twice);
        assert_eq!((slow.meta(), &slow.params), (read.meta(), &read.params));
        // A `_meta` that is not an object stays in params; the last of two counts.
        let other =
            request(r#"{"jsonrpc":"2.0","id":1,"method":"m","params":{"_meta":{"progressToken":1},"_meta":5}}"#);
        assert_eq!((other.meta(), &other.params), (None, &Some(json!({ "_meta": 5 }))));
        let last = request(r#"{"jsonrpc":"2.0","id":1,"method":"m","params":{"_meta":5,"_meta":{"progressToken":1}}}"#);
        assert_eq!(
            (last.meta().and_then(|m| m.progress_token.clone()), last.params),
            (Some(json!(1)), Some(json!({})))
        );
        // A notification's params stay whole, `_meta` with them.
        match parse(br#"{"jsonrpc":"2.0","method":"n","params":{"_meta":{"progressToken":2,"k":[]},"z":2}}"#) {
            Ok(Message::Notification { params, .. }) => {
                assert_eq!(params, Some(json!({ "_meta": { "progressToken": 2, "k": [] }, "z": 2 })))
            }
            other => panic!("not a notification: {other:?}"),
        }
        // Built from a value, the same split.
        let built = Request::new(json!(3), "m", Some(json!({ "_meta": { "progressToken": 3 }, "k": 1 })));
        assert_eq!(
            (built.meta().and_then(|m| m.progress_token.clone()), built.params),
            (Some(json!(3)), Some(json!({ "k": 1 })))
        );
    }

    #[test]
    fn the_version_must_be_the_string_two_point_oh() {
        for version in [r#""2.0""#, r#""2\u002e0""#, r#""\u0032.0""#] {
            let text = format!(r#"{{"jsonrpc":{version},"id":1,"method":"ping"}}"#);
            assert!(matches!(parse(text.as_bytes()), Ok(Message::Request(_))), "{text}");
        }
        for version in [r#""2.00""#, "2.0", "2", "null", r#"["2.0"]"#, r#"{"v":"2.0"}"#, r#""2.0 ""#] {
            let text = format!(r#"{{"jsonrpc":{version},"id":1,"method":"ping"}}"#);
            assert_eq!(refusal(&text).error.code, INVALID_REQUEST, "{text}");
        }
        assert_eq!(refusal(r#"{"id":1,"method":"ping"}"#).error.code, INVALID_REQUEST, "absent");
    }

    #[test]
    fn the_fast_path_and_the_value_path_agree() {
        let plain = request(r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo"},"x":1}"#);
        assert_eq!((&plain.id, plain.method.as_str()), (&json!(3), "tools/call"));
        assert_eq!((plain.param("name"), &plain.params), (Some(&json!("echo")), &Some(json!({}))));
        // A member given twice takes the Value path, where the last one wins, as before.
        assert_eq!(request(r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#).id, json!(2));
        // `"id": null` is present and wrong; no id at all is a notification.
        assert_eq!(refusal(r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#).error.code, INVALID_REQUEST);
        assert!(matches!(parse(br#"{"jsonrpc":"2.0","method":"ping"}"#), Ok(Message::Notification { .. })));
        let response = parse(br#"{"jsonrpc":"2.0","id":"q1","result":null}"#);
        assert!(matches!(response, Ok(Message::Response { answer: Ok(Value::Null), .. })));
        let batch = refusal(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#);
        assert!(batch.error.message.contains("batches"), "{}", batch.error.message);
        assert_eq!(refusal("42").error.code, INVALID_REQUEST);
        assert_eq!(refusal("{").error.code, PARSE_ERROR);
        assert_eq!(refusal(r#"{"jsonrpc":"2.0","id":5,"method":"x","params":[1]}"#).id, json!(5));
        assert_eq!(refusal(r#"{"jsonrpc":"1.0","id":5,"method":"x"}"#).error.code, INVALID_REQUEST);
    }
}
