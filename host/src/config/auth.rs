//! Access-control settings: bearer tokens, OAuth as a resource server, and
//! the refusal to serve a non-loopback address without either.

use std::path::PathBuf;

use serde::Deserialize;

use crate::error::{Error, Result};

/// Access control for HTTP and WebSocket.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AuthConfig {
    /// Accepted bearer tokens: plain strings (also read from `BERTH_AUTH_TOKENS`,
    /// comma-separated), or named ones (`[[auth.tokens]] name = "ci"`) that access
    /// rules, quotas and the audit trail know by name.
    pub tokens: Vec<TokenEntry>,
    /// Serve a non-loopback address without any auth. Off: berth refuses to
    /// start that way, since anyone who can reach the port could call every tool.
    pub allow_unauthenticated: bool,
    /// Validate OAuth access tokens (JWTs) as an MCP resource server.
    pub oauth: Option<OAuthConfig>,
}

/// One accepted bearer token: a plain string, or a named token whose secret is
/// written inline, kept in a file, or read from an environment variable.
#[derive(Clone, Deserialize)]
#[serde(
    untagged,
    expecting = "a token string, or a table with name and one of token, token_file, token_env (and no other key)"
)]
#[non_exhaustive]
pub enum TokenEntry {
    /// A token with no name (known by a digest of it).
    Plain(String),
    /// A token with a name.
    Named(NamedToken),
}

/// A named bearer token (`[[auth.tokens]]`); exactly one of `token`, `token_file`, `token_env`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct NamedToken {
    /// The identity's name: what access rules, quota overrides and the audit trail call it.
    pub name: String,
    /// The token itself (prefer `token_file` or `token_env`: config files get copied around).
    #[serde(default)]
    pub token: Option<String>,
    /// A file holding the token (surrounding whitespace ignored).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// An environment variable holding the token.
    #[serde(default)]
    pub token_env: Option<String>,
}

impl std::fmt::Debug for TokenEntry {
    /// Never the secret: configs are logged and printed in errors.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenEntry::Plain(_) => f.write_str("Plain(<redacted>)"),
            TokenEntry::Named(named) => f
                .debug_struct("Named")
                .field("name", &named.name)
                .field("token_file", &named.token_file)
                .field("token_env", &named.token_env)
                .finish_non_exhaustive(),
        }
    }
}

impl AuthConfig {
    /// Checks the tokens before anything starts: each named one's secret can be read, and
    /// no name or secret is listed twice.
    pub fn validate(&self) -> Result<()> {
        let mut names = std::collections::HashSet::new();
        let mut secrets = std::collections::HashSet::new();
        for entry in &self.tokens {
            let (name, secret) = entry.resolve()?;
            if secret.is_empty() {
                return Err(Error::Config("auth.tokens must not contain an empty token".into()));
            }
            if let Some(name) = name
                && !names.insert(name.to_owned())
            {
                return Err(Error::Config(format!("auth.tokens: two tokens are named {name:?}")));
            }
            if !secrets.insert(secret) {
                return Err(Error::Config(
                    "auth.tokens: the same token is listed twice (each caller needs its own)".into(),
                ));
            }
        }
        Ok(())
    }
}

impl From<&str> for TokenEntry {
    fn from(token: &str) -> Self {
        TokenEntry::Plain(token.to_owned())
    }
}

impl TokenEntry {
    /// The name (`None` for a plain token) and the secret, read from where it is kept.
    pub fn resolve(&self) -> Result<(Option<&str>, String)> {
        let named = match self {
            TokenEntry::Plain(token) => return Ok((None, token.trim().to_owned())),
            TokenEntry::Named(named) => named,
        };
        let name = named.name.trim();
        let bad = |why: String| Error::Config(format!("auth.tokens: token {name:?}: {why}"));
        if name.is_empty() {
            return Err(Error::Config("auth.tokens: a named token needs a non-empty name".into()));
        }
        let secret = match (&named.token, &named.token_file, &named.token_env) {
            (Some(token), None, None) => token.clone(),
            (None, Some(path), None) => std::fs::read_to_string(path)
                .map_err(|e| bad(format!("cannot read token_file {}: {e}", path.display())))?,
            (None, None, Some(var)) => {
                std::env::var(var).map_err(|_| bad(format!("environment variable {var} is not set")))?
            }
            _ => return Err(bad("set exactly one of token, token_file, token_env".into())),
        };
        let secret = secret.trim().to_owned();
        if secret.is_empty() {
            return Err(bad("the token is empty".into()));
        }
        Ok((Some(name), secret))
    }
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

#[cfg(test)]
mod tests {
    use crate::config::auth::*;

    fn tokens(text: &str) -> Vec<TokenEntry> {
        let config: AuthConfig = toml::from_str(text).expect("auth config");
        config.tokens
    }

    #[test]
    fn tokens_are_plain_or_named_and_never_printed() {
        let plain = tokens("tokens = [\"s3cret-plain\"]");
        assert_eq!(plain[0].resolve().expect("plain").1, "s3cret-plain");
        let named = tokens("[[tokens]]\nname = \"ci\"\ntoken = \" s3cret-named \"\n");
        let (name, secret) = named[0].resolve().expect("named");
        assert_eq!((name, secret.as_str()), (Some("ci"), "s3cret-named"));
        let printed = format!("{plain:?} {named:?}");
        assert!(!printed.contains("s3cret"), "{printed}");
        assert!(printed.contains("ci"), "the name is fine to print: {printed}");
    }

    #[test]
    fn a_named_token_needs_exactly_one_source() {
        let both = tokens("[[tokens]]\nname = \"ci\"\ntoken = \"a\"\ntoken_env = \"B\"\n");
        let error = both[0].resolve().expect_err("two sources").to_string();
        assert!(error.contains("token \"ci\": set exactly one of token, token_file, token_env"), "{error}");
        let unset = tokens("[[tokens]]\nname = \"ci\"\ntoken_env = \"BERTH_TEST_SURELY_UNSET_VARIABLE\"\n");
        assert!(unset[0].resolve().expect_err("unset").to_string().contains("is not set"));
        let missing = tokens("[[tokens]]\nname = \"ci\"\ntoken_file = \"/nonexistent/berth-token\"\n");
        assert!(missing[0].resolve().expect_err("no file").to_string().contains("cannot read token_file"));
        let unknown =
            toml::from_str::<AuthConfig>("[[tokens]]\nname = \"ci\"\nsecret = \"x\"\n").expect_err("unknown key");
        assert!(unknown.to_string().contains("a table with name and one of token"), "{unknown}");
    }
}
