//! Access-control settings: bearer tokens, OAuth as a resource server, and
//! the refusal to serve a non-loopback address without either.

use std::path::PathBuf;

use serde::Deserialize;

/// Access control for HTTP and WebSocket.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AuthConfig {
    /// Accepted bearer tokens (also read from `BERTH_AUTH_TOKENS`, comma-separated).
    pub tokens: Vec<String>,
    /// Serve a non-loopback address without any auth. Off: berth refuses to
    /// start that way, since anyone who can reach the port could call every tool.
    pub allow_unauthenticated: bool,
    /// Validate OAuth access tokens (JWTs) as an MCP resource server.
    pub oauth: Option<OAuthConfig>,
}

/// berth as an OAuth 2.1 resource server (MCP authorization).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OAuthConfig {
    /// This server's canonical URL, e.g. `https://tools.example.com/mcp`:
    /// published as `resource` in the protected resource metadata and the
    /// default accepted audience.
    pub resource: String,
    /// Authorization servers that issue tokens for this resource.
    pub authorization_servers: Vec<String>,
    /// Accepted `aud` values [default: `resource`].
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Required `iss` [default: any of `authorization_servers`].
    #[serde(default)]
    pub issuer: Option<String>,
    /// A JWKS file with the signing keys.
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// A JWKS URL with the signing keys, fetched at start and when a token
    /// names an unknown key.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Scopes every token must carry (403 `insufficient_scope` otherwise).
    #[serde(default)]
    pub required_scopes: Vec<String>,
    /// Scopes listed in the metadata [default: `required_scopes`].
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
}

fn default_leeway() -> u64 {
    30
}
