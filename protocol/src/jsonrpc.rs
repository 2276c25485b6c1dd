//! JSON-RPC 2.0 framing: parsing one message, named error codes, building replies.

use serde_json::{Map, Value, json};

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
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| Rejected { id: Value::Null, error: RpcError::new(PARSE_ERROR, format!("parse error: {e}")) })?;
    from_value(value)
}

/// Checks the envelope of an already-decoded message.
pub fn from_value(value: Value) -> Result<Message, Rejected> {
    let reject = |id: Value, message: &str| Rejected { id, error: RpcError::invalid_request(message) };
    let Value::Object(mut object) = value else {
        if value.is_array() {
            return Err(reject(Value::Null, "JSON-RPC batches are not supported: send one message per request"));
        }
        return Err(reject(Value::Null, "a JSON-RPC message must be a JSON object"));
    };
    let id = object.remove("id");
    let id_ok = matches!(&id, Some(Value::String(_)) | Some(Value::Number(_)));
    let reply_id = if id_ok { id.clone().unwrap_or(Value::Null) } else { Value::Null };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(reject(reply_id, "\"jsonrpc\" must be \"2.0\""));
    }
    let params = object.remove("params");
    if let Some(p) = &params
        && !p.is_object()
    {
        return Err(reject(reply_id, "\"params\" must be an object"));
    }
    match object.remove("method") {
        Some(Value::String(method)) => match id {
            None => Ok(Message::Notification { method, params }),
            Some(id) if id_ok => Ok(Message::Request(Request { id, method, params })),
            Some(_) => Err(reject(Value::Null, "\"id\" must be a string or a number")),
        },
        Some(_) => Err(reject(reply_id, "\"method\" must be a string")),
        None if id_ok && object.contains_key("result") => {
            let result = object.remove("result").unwrap_or(Value::Null);
            Ok(Message::Response { id: reply_id, answer: Ok(result) })
        }
        None if id_ok && object.contains_key("error") => {
            let error = object.remove("error").unwrap_or(Value::Null);
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

/// An error reply.
pub fn failure(id: &Value, error: &RpcError) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": error.to_json() })
}

/// A notification.
pub fn notification(method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "method": method, "params": params })
}
