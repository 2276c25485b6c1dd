//! The two protocol eras and how a request is assigned to one.
//!
//! - **2026-07-28** is stateless: every request carries its protocol version
//!   and client capabilities in `params._meta`; on HTTP the routing headers
//!   must agree with the body.
//! - **Legacy** (2025-11-25, 2025-06-18, 2025-03-26) negotiates a version once
//!   with `initialize` and, on HTTP, carries an `Mcp-Session-Id`.
//!
//! The era is chosen from `_meta` and the `MCP-Protocol-Version` header, never
//! from the method name: see [`wants_modern`].

use serde_json::{Map, Value, json};

use super::jsonrpc::{HEADER_MISMATCH, RpcError, UNSUPPORTED_PROTOCOL_VERSION};

/// The stateless revision.
pub const MODERN_VERSION: &str = "2026-07-28";
/// Revisions reached through the `initialize` handshake, newest first.
pub const LEGACY_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];
/// Every revision berth serves, newest first.
pub const SUPPORTED_VERSIONS: [&str; 4] = [MODERN_VERSION, LEGACY_VERSIONS[0], LEGACY_VERSIONS[1], LEGACY_VERSIONS[2]];

/// `_meta` key of the request's protocol version.
pub const PROTOCOL_VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";
/// `_meta` key of the client's capabilities.
pub const CLIENT_CAPABILITIES_KEY: &str = "io.modelcontextprotocol/clientCapabilities";
/// `_meta` key of the client's name and version.
pub const CLIENT_INFO_KEY: &str = "io.modelcontextprotocol/clientInfo";
/// `_meta` key of the log level the client wants for this request.
pub const LOG_LEVEL_KEY: &str = "io.modelcontextprotocol/logLevel";
/// `_meta` key berth stamps its own name and version under.
pub const SERVER_INFO_KEY: &str = "io.modelcontextprotocol/serverInfo";

/// Methods whose `Mcp-Name` header mirrors a body field.
pub fn name_field(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    }
}

/// The HTTP routing headers of a request (absent on stdio).
#[derive(Debug, Default, Clone)]
pub struct RoutingHeaders {
    pub protocol_version: Option<String>,
    pub method: Option<String>,
    pub name: Option<String>,
}

/// What the 2026-07-28 envelope of a request said.
#[derive(Debug, Clone)]
pub struct ModernEnvelope {
    pub version: String,
    pub client_capabilities: Value,
    /// The log level the client asked for, if any.
    pub log_level: Option<String>,
}

/// Whether a request belongs to the 2026-07-28 era: its `_meta` names a
/// protocol version, or its `MCP-Protocol-Version` header is not a legacy one.
pub fn wants_modern(meta: Option<&Map<String, Value>>, header_version: Option<&str>) -> bool {
    if meta.is_some_and(|m| m.contains_key(PROTOCOL_VERSION_KEY)) {
        return true;
    }
    header_version.is_some_and(|v| !LEGACY_VERSIONS.contains(&v))
}

/// Runs the 2026-07-28 validation ladder; the first failing rung answers.
///
/// 1. `_meta` carries the protocol version and client capabilities (-32602).
/// 2. With HTTP headers: `MCP-Protocol-Version`, `Mcp-Method` and, for
///    name-bearing methods, `Mcp-Name` equal the body (-32020).
/// 3. The version is one berth serves (-32022, with the supported list).
pub fn check_modern(
    method: &str,
    params: Option<&Map<String, Value>>,
    headers: Option<&RoutingHeaders>,
) -> Result<ModernEnvelope, RpcError> {
    let meta = params.and_then(|p| p.get("_meta")).and_then(Value::as_object).ok_or_else(|| {
        RpcError::invalid_params(format!(
            "params._meta must be an object with {PROTOCOL_VERSION_KEY:?} and {CLIENT_CAPABILITIES_KEY:?} \
             (protocol {MODERN_VERSION}); clients of 2025 revisions must send initialize first"
        ))
    })?;
    let missing: Vec<&str> =
        [PROTOCOL_VERSION_KEY, CLIENT_CAPABILITIES_KEY].into_iter().filter(|k| !meta.contains_key(*k)).collect();
    if !missing.is_empty() {
        return Err(RpcError::invalid_params(format!(
            "params._meta is missing the required key(s): {}",
            missing.join(", ")
        )));
    }
    let version = &meta[PROTOCOL_VERSION_KEY];
    if let Some(headers) = headers {
        if headers.protocol_version.as_deref() != version.as_str() {
            return Err(RpcError::new(
                HEADER_MISMATCH,
                "the MCP-Protocol-Version header does not match params._meta's protocol version",
            ));
        }
        if headers.method.as_deref() != Some(method) {
            return Err(RpcError::new(HEADER_MISMATCH, "the Mcp-Method header does not match the body's method"));
        }
        if let Some(field) = name_field(method)
            && let Some(body_value) = params.and_then(|p| p.get(field)).and_then(Value::as_str)
            && headers.name.as_deref() != Some(body_value)
        {
            return Err(RpcError::new(
                HEADER_MISMATCH,
                format!("the Mcp-Name header does not match the body's {field:?}"),
            ));
        }
    }
    let Some(version) = version.as_str() else {
        return Err(RpcError::invalid_params("the protocol version in params._meta must be a string"));
    };
    if version != MODERN_VERSION {
        return Err(unsupported_version(version));
    }
    Ok(ModernEnvelope {
        version: version.to_owned(),
        client_capabilities: meta[CLIENT_CAPABILITIES_KEY].clone(),
        log_level: meta.get(LOG_LEVEL_KEY).and_then(Value::as_str).map(str::to_owned),
    })
}

/// The -32022 error for a version berth does not serve.
pub fn unsupported_version(requested: &str) -> RpcError {
    RpcError::new(UNSUPPORTED_PROTOCOL_VERSION, format!("unsupported protocol version {requested:?}"))
        .with_data(json!({ "supported": SUPPORTED_VERSIONS, "requested": requested }))
}

/// The legacy version to answer `initialize` with: the client's if berth
/// serves it, else the newest legacy revision (the client decides whether
/// to continue).
pub fn negotiate_legacy(requested: Option<&str>) -> &'static str {
    LEGACY_VERSIONS.iter().find(|v| Some(**v) == requested).copied().unwrap_or(LEGACY_VERSIONS[0])
}
