//! `Mcp-Param-*` headers: tool arguments mirrored into HTTP headers (2026-07-28).
//!
//! A tool's input schema may mark a property with `"x-mcp-header": "Token"`;
//! clients then send the argument's value as `Mcp-Param-Token` so that proxies
//! can route on it. The server must check that header and body agree: both
//! present and equal (after decoding the `=?base64?...?=` form), or both absent.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use super::jsonrpc::{HEADER_MISMATCH, RpcError};

/// One argument mirrored into a header.
#[derive(Debug, Clone)]
pub struct HeaderParam {
    /// Property names from the schema root to the argument.
    path: Vec<String>,
    /// The header is `Mcp-Param-<token>`.
    token: String,
    /// The property's JSON Schema type: `string`, `integer` or `boolean`.
    kind: String,
}

impl HeaderParam {
    /// The header's name, lower case.
    pub fn header_name(&self) -> String {
        format!("mcp-param-{}", self.token.to_ascii_lowercase())
    }
}

/// The mirrored arguments of an input schema. A schema whose annotations are
/// invalid (bad token, wrong type, duplicates) yields none: conforming
/// clients ignore such a tool's annotations, so there is nothing to check.
pub fn header_params(schema: &Value) -> Vec<HeaderParam> {
    let mut found = Vec::new();
    if collect(schema, &mut Vec::new(), &mut found).is_err() {
        return Vec::new();
    }
    let mut seen = std::collections::HashSet::new();
    if found.iter().any(|p| !seen.insert(p.token.to_ascii_lowercase())) {
        return Vec::new();
    }
    found
}

fn collect(schema: &Value, path: &mut Vec<String>, found: &mut Vec<HeaderParam>) -> Result<(), ()> {
    let Some(object) = schema.as_object() else {
        return Ok(());
    };
    if let Some(token) = object.get("x-mcp-header") {
        let token = token.as_str().ok_or(())?;
        let kind = object.get("type").and_then(Value::as_str).ok_or(())?;
        let is_token =
            !token.is_empty() && token.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if path.is_empty() || !is_token || !matches!(kind, "string" | "integer" | "boolean") {
            return Err(());
        }
        found.push(HeaderParam { path: path.clone(), token: token.to_owned(), kind: kind.to_owned() });
    }
    if let Some(properties) = object.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            path.push(name.clone());
            collect(property, path, found)?;
            path.pop();
        }
    }
    Ok(())
}

/// Decodes a header value: the `=?base64?...?=` form, or the literal text.
/// `None` for a malformed base64 form.
pub fn decode_value(raw: &str) -> Option<Cow<'_, str>> {
    let Some(payload) = raw.strip_prefix("=?base64?").and_then(|r| r.strip_suffix("?=")) else {
        return Some(Cow::Borrowed(raw));
    };
    let bytes = BASE64.decode(payload).ok()?;
    // Only the canonical encoding is accepted, as only it is ever produced.
    if BASE64.encode(&bytes) != payload {
        return None;
    }
    String::from_utf8(bytes).ok().map(Cow::Owned)
}

fn value_at<'a>(arguments: Option<&'a Value>, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(arguments?, |node, key| node.get(key)).filter(|v| !v.is_null())
}

fn rendered(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn matches(param: &HeaderParam, value: &Value, decoded: &str) -> bool {
    if param.kind == "integer"
        && let Some(number) = value.as_f64()
        && number.fract() == 0.0
    {
        let (whole, fraction) = decoded.split_once('.').unwrap_or((decoded, ""));
        let canonical = !whole.is_empty()
            && whole.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit())
            && fraction.bytes().all(|b| b == b'0');
        return canonical && whole.parse::<f64>().is_ok_and(|w| w == number);
    }
    rendered(value).is_some_and(|r| r == decoded)
}

/// Checks the request's `Mcp-Param-*` headers against `arguments`.
///
/// `header` returns every value of a (lower-case) header name.
pub fn validate<'h>(
    params: &[HeaderParam],
    arguments: Option<&Value>,
    header: impl Fn(&str) -> Vec<&'h str>,
) -> Result<(), RpcError> {
    let mismatch = |message: String| Err(RpcError::new(HEADER_MISMATCH, message));
    for param in params {
        let name = param.header_name();
        let values = header(&name);
        if values.len() > 1 {
            return mismatch(format!("the {name} header appears more than once"));
        }
        let raw = values.first().map(|v| v.trim());
        let argument = param.path.join(".");
        match (value_at(arguments, &param.path), raw) {
            (None, None) => {}
            (None, Some(_)) => {
                return mismatch(format!("the {name} header is present but argument {argument:?} is absent"));
            }
            (Some(value), None) => {
                if rendered(value).is_some() {
                    return mismatch(format!("the {name} header is missing but argument {argument:?} is present"));
                }
            }
            (Some(value), Some(raw)) => {
                let Some(decoded) = decode_value(raw) else {
                    return mismatch(format!("the {name} header has a malformed base64 value"));
                };
                if !matches(param, value, &decoded) {
                    return mismatch(format!("the {name} header does not match argument {argument:?}"));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn header_and_body_must_agree() {
        let schema = json!({ "type": "object", "properties": {
            "region": { "type": "string", "x-mcp-header": "Region" },
            "count": { "type": "integer", "x-mcp-header": "Count" }
        }});
        let params = header_params(&schema);
        assert_eq!(params.len(), 2);
        let args = json!({ "region": "Hello", "count": 42 });
        let ok = |region: &'static str, count: &'static str| {
            validate(&params, Some(&args), move |name| match name {
                "mcp-param-region" => vec![region],
                "mcp-param-count" => vec![count],
                _ => vec![],
            })
        };
        assert!(ok("Hello", "42").is_ok());
        assert!(ok("=?base64?SGVsbG8=?=", "42.0").is_ok());
        assert!(ok("=?base64?SGVsbG8?=", "42").is_err(), "non-canonical padding");
        assert!(ok("hello", "42").is_err());
        assert!(ok("Hello", "43").is_err());
        let missing = validate(&params, Some(&args), |_| vec![]);
        assert!(missing.is_err(), "values in the body need their headers");
    }

    #[test]
    fn invalid_annotations_are_ignored() {
        let schema = json!({ "type": "object", "properties": {
            "a": { "type": "number", "x-mcp-header": "A" }
        }});
        assert!(header_params(&schema).is_empty());
    }
}
