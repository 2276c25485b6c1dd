//! JSON-RPC 2.0 framing: parsing one message, named error codes, building replies.

use serde::Deserialize;
use serde_json::{Map, Value, json};

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
    /// An object (or absent).
    pub params: Option<Value>,
}

impl Request {
    /// The params object, or an empty one.
    pub fn params_object(&self) -> Option<&Map<String, Value>> {
        self.params.as_ref().and_then(Value::as_object)
    }

    /// `params[key]`, if any.
    pub fn param(&self, key: &str) -> Option<&Value> {
        self.params_object().and_then(|p| p.get(key))
    }

    /// `params._meta`, if it is an object.
    pub fn meta(&self) -> Option<&Map<String, Value>> {
        self.param("_meta").and_then(Value::as_object)
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
    let is_object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if is_object && let Ok(envelope) = serde_json::from_slice::<Envelope>(bytes) {
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
    #[serde(deserialize_with = "present")]
    jsonrpc: Option<Value>,
    #[serde(deserialize_with = "present")]
    id: Option<Value>,
    #[serde(deserialize_with = "present")]
    method: Option<Value>,
    #[serde(deserialize_with = "present")]
    params: Option<Value>,
    #[serde(deserialize_with = "present")]
    result: Option<Value>,
    #[serde(deserialize_with = "present")]
    error: Option<Value>,
}

/// A member that is there, even as `null`.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
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
    from_parts(Envelope {
        jsonrpc: object.remove("jsonrpc"),
        id: object.remove("id"),
        method: object.remove("method"),
        params: object.remove("params"),
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
    if jsonrpc.as_ref().and_then(Value::as_str) != Some("2.0") {
        return Err(reject(reply_id, "\"jsonrpc\" must be \"2.0\""));
    }
    if let Some(p) = &params
        && !p.is_object()
    {
        return Err(reject(reply_id, "\"params\" must be an object"));
    }
    match method {
        Some(Value::String(method)) => match id {
            None => Ok(Message::Notification { method, params }),
            Some(id) if id_ok => Ok(Message::Request(Request { id, method, params })),
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
    fn the_fast_path_and_the_value_path_agree() {
        let plain = request(r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo"},"x":1}"#);
        assert_eq!((plain.id, plain.method.as_str()), (json!(3), "tools/call"));
        assert_eq!(plain.params, Some(json!({ "name": "echo" })));
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
