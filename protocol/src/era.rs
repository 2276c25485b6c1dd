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

use std::borrow::Cow;

use serde_json::{Value, json};

use super::jsonrpc::{HEADER_MISMATCH, Request, RpcError, UNSUPPORTED_PROTOCOL_VERSION};
use super::meta::Meta;
pub use super::meta::{CLIENT_CAPABILITIES_KEY, LOG_LEVEL_KEY, PROTOCOL_VERSION_KEY};

/// The stateless revision.
pub const MODERN_VERSION: &str = "2026-07-28";
/// Revisions reached through the `initialize` handshake, newest first.
pub const LEGACY_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];
/// Every revision berth serves, newest first.
pub const SUPPORTED_VERSIONS: [&str; 4] = [MODERN_VERSION, LEGACY_VERSIONS[0], LEGACY_VERSIONS[1], LEGACY_VERSIONS[2]];

/// `_meta` key of the client's name and version.
pub const CLIENT_INFO_KEY: &str = "io.modelcontextprotocol/clientInfo";
/// `_meta` key berth stamps its own name and version under.
pub const SERVER_INFO_KEY: &str = "io.modelcontextprotocol/serverInfo";

/// Methods whose `Mcp-Name` header mirrors a body field.
pub fn name_field(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        // The Tasks extension (SEP-2663) routes task requests by their task id.
        "tasks/get" | "tasks/update" | "tasks/cancel" => Some("taskId"),
        _ => None,
    }
}

/// The HTTP routing headers of a request (absent on stdio), borrowed from the request's
/// header map (`name` is decoded, so owned only when it came base64-encoded).
#[derive(Debug, Default, Clone)]
pub struct RoutingHeaders<'a> {
    pub protocol_version: Option<&'a str>,
    pub method: Option<&'a str>,
    pub name: Option<Cow<'a, str>>,
}

/// What the 2026-07-28 envelope of a request said.
#[derive(Debug, Clone)]
pub struct ModernEnvelope {
    /// The version served (the one 2026-07-28 revision, checked).
    pub version: &'static str,
    pub client_capabilities: Value,
    /// The log level the client asked for, if any.
    pub log_level: Option<String>,
}

/// Whether a request belongs to the 2026-07-28 era: its `_meta` names a
/// protocol version, or its `MCP-Protocol-Version` header is not a legacy one.
pub fn wants_modern(meta: Option<&Meta>, header_version: Option<&str>) -> bool {
    if meta.is_some_and(|m| m.protocol_version.is_some()) {
        return true;
    }
    header_version.is_some_and(|v| !LEGACY_VERSIONS.contains(&v))
}

/// Where one request goes, decided from what it carries alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classified {
    /// A 2026-07-28 request: its envelope is checked ([`check_modern`]) and it runs alone.
    Modern,
    /// A request inside the client's legacy session.
    Legacy,
    /// The legacy handshake: `initialize` outside any session.
    Initialize,
}

/// Assigns a request to its era, the same way on every transport.
///
/// `header_version` is the `MCP-Protocol-Version` header (HTTP only);
/// `has_session` says whether the request comes with a legacy session (an
/// `Mcp-Session-Id` header on HTTP, an earlier `initialize` on a WebSocket or
/// stdio connection). The rules, in order:
///
/// 1. `_meta` names a protocol version, or the header names a non-legacy
///    version: 2026-07-28, whatever else the request carries.
/// 2. Otherwise a request with a session belongs to that session (a second
///    `initialize` there is refused by the router).
/// 3. Otherwise `initialize` starts a session.
/// 4. Anything else is taken as 2026-07-28, whose envelope check then tells
///    the client what `_meta` must hold (or to send `initialize` first).
pub fn classify(method: &str, meta: Option<&Meta>, header_version: Option<&str>, has_session: bool) -> Classified {
    if wants_modern(meta, header_version) {
        Classified::Modern
    } else if has_session {
        Classified::Legacy
    } else if method == "initialize" {
        Classified::Initialize
    } else {
        Classified::Modern
    }
}

/// Runs the 2026-07-28 validation ladder; the first failing rung answers.
///
/// 1. `_meta` carries the protocol version and client capabilities (-32602).
/// 2. With HTTP headers: `MCP-Protocol-Version`, `Mcp-Method` and, for
///    name-bearing methods, `Mcp-Name` equal the body (-32020).
/// 3. The version is one berth serves (-32022, with the supported list).
pub fn check_modern(request: &Request, headers: Option<&RoutingHeaders<'_>>) -> Result<ModernEnvelope, RpcError> {
    let method = request.method.as_str();
    let meta = request.meta().ok_or_else(|| {
        RpcError::invalid_params(format!(
            "params._meta must be an object with {PROTOCOL_VERSION_KEY:?} and {CLIENT_CAPABILITIES_KEY:?} \
             (protocol {MODERN_VERSION}); clients of 2025 revisions must send initialize first"
        ))
    })?;
    let (Some(version), Some(client_capabilities)) = (&meta.protocol_version, &meta.client_capabilities) else {
        let missing: Vec<&str> =
            [PROTOCOL_VERSION_KEY, CLIENT_CAPABILITIES_KEY].into_iter().filter(|k| !meta.contains_key(k)).collect();
        return Err(RpcError::invalid_params(format!(
            "params._meta is missing the required key(s): {}",
            missing.join(", ")
        )));
    };
    if let Some(headers) = headers {
        if headers.protocol_version != version.as_str() {
            return Err(RpcError::new(
                HEADER_MISMATCH,
                "the MCP-Protocol-Version header does not match params._meta's protocol version",
            ));
        }
        if headers.method != Some(method) {
            return Err(RpcError::new(HEADER_MISMATCH, "the Mcp-Method header does not match the body's method"));
        }
        if let Some(field) = name_field(method)
            && let Some(body_value) = request.param(field).and_then(Value::as_str)
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
        version: MODERN_VERSION,
        client_capabilities: client_capabilities.clone(),
        log_level: meta.log_level.as_ref().and_then(Value::as_str).map(str::to_owned),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every combination of header version, `_meta`, session and method, with
    /// the era each one must land in.
    #[test]
    fn classification_of_every_combination() {
        use Classified::{Initialize as Init, Legacy, Modern};
        let with_version = json!({ PROTOCOL_VERSION_KEY: MODERN_VERSION, CLIENT_CAPABILITIES_KEY: {} });
        let without_version = json!({ "progressToken": 1 });
        let metas: [(&str, Option<&Value>); 3] = [
            ("no _meta", None),
            ("_meta without version", Some(&without_version)),
            ("_meta with version", Some(&with_version)),
        ];
        let headers = [None, Some(MODERN_VERSION), Some("2025-06-18"), Some("1999-01-01")];
        // Rows: (header, meta index, has_session, method) -> expected.
        let expected = |header: Option<&str>, meta: usize, session: bool, method: &str| -> Classified {
            let header_modern = matches!(header, Some(v) if v == MODERN_VERSION || v == "1999-01-01");
            match (meta == 2 || header_modern, session, method) {
                (true, _, _) => Modern,
                (false, true, _) => Legacy,
                (false, false, "initialize") => Init,
                (false, false, _) => Modern,
            }
        };
        let mut seen = 0;
        for header in headers {
            for (index, (label, meta)) in metas.iter().enumerate() {
                for session in [false, true] {
                    for method in ["initialize", "tools/call", "ping"] {
                        let meta = meta.and_then(Value::as_object).cloned().map(Meta::from);
                        let got = classify(method, meta.as_ref(), header, session);
                        assert_eq!(
                            got,
                            expected(header, index, session, method),
                            "header {header:?}, {label}, session {session}, {method}"
                        );
                        seen += 1;
                    }
                }
            }
        }
        assert_eq!(seen, 72);
    }

    /// The rules spelled out, so a change to `classify` that also changed the
    /// table above still has to get past these.
    #[test]
    fn classification_rules() {
        let meta = json!({ PROTOCOL_VERSION_KEY: MODERN_VERSION });
        let meta = meta.as_object().cloned().map(Meta::from);
        let meta = meta.as_ref();
        assert_eq!(classify("initialize", None, None, false), Classified::Initialize);
        assert_eq!(classify("initialize", meta, None, false), Classified::Modern, "_meta wins over the method");
        assert_eq!(classify("tools/call", None, None, true), Classified::Legacy);
        assert_eq!(classify("tools/call", meta, None, true), Classified::Modern, "_meta wins over a session");
        assert_eq!(classify("tools/call", None, Some("2025-11-25"), true), Classified::Legacy);
        assert_eq!(classify("tools/call", None, Some(MODERN_VERSION), true), Classified::Modern);
        assert_eq!(classify("initialize", None, Some("2025-03-26"), false), Classified::Initialize);
        assert_eq!(
            classify("initialize", None, Some("2024-11-05"), false),
            Classified::Modern,
            "unknown header version"
        );
        assert_eq!(
            classify("initialize", None, None, true),
            Classified::Legacy,
            "a second initialize stays in its session"
        );
        assert_eq!(
            classify("tools/list", None, None, false),
            Classified::Modern,
            "no session, no _meta: the envelope check answers"
        );
    }
}
