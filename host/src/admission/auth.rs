//! Access control for `/mcp`, `/ws` and the operator endpoints: static bearer
//! tokens and OAuth 2.1 access tokens (berth as an MCP resource server).
//!
//! Static tokens are compared in constant time. OAuth tokens are JWTs checked
//! against the authorization server's JWKS: signature, `exp`/`nbf`, `aud`
//! (this resource), `iss`, and the required scopes. A missing or bad token is
//! 401 with a `WWW-Authenticate: Bearer` challenge that points at the
//! protected resource metadata (RFC 9728); a valid token without a required
//! scope is 403 `insufficient_scope`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use subtle::{ConditionallySelectable as _, ConstantTimeEq};

use super::Requester;
use super::refusal::json_error;
use crate::access::Identity;
use crate::config::{AuthConfig, OAuthConfig};
use crate::error::{Error, Result};
use crate::protocol::jsonrpc::RpcError;
use crate::sync::lock;

/// Environment variable with extra bearer tokens, comma-separated.
pub(crate) const TOKENS_ENV: &str = "BERTH_AUTH_TOKENS";
/// Least time between two JWKS refetches triggered by unknown key ids.
const JWKS_REFRESH: Duration = Duration::from_secs(60);

/// Who may come in: the accepted static tokens and the OAuth settings.
pub(crate) struct Auth {
    tokens: Vec<KnownToken>,
    oauth: Option<OAuth>,
}

/// An accepted static token, and the requester it stands for (made once, at start).
struct KnownToken {
    secret: Vec<u8>,
    requester: Requester,
}

/// The OAuth resource-server half of [`Auth`].
struct OAuth {
    config: OAuthConfig,
    keys: ArcSwap<Vec<SigningKey>>,
    last_fetch: Mutex<Instant>,
    metadata_url: String,
}

/// One verification key from the JWKS.
struct SigningKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// Why a request was refused.
enum Denied {
    /// No credentials, or ones that do not verify: 401.
    Unauthorized(Option<String>),
    /// Valid credentials without a needed scope: 403.
    Forbidden(String),
}

impl Auth {
    /// The rules of `config` plus tokens from the environment; `None` when
    /// nothing is configured (every request is let in).
    pub(crate) async fn from_config(config: &AuthConfig) -> Result<Option<Self>> {
        // Empty tokens, unreadable secrets and names or secrets listed twice are refused
        // there, once, with the rest of the config.
        config.validate()?;
        let mut tokens = Vec::new();
        for entry in &config.tokens {
            let (name, secret) = entry.resolve()?;
            let requester = name.map_or_else(|| Requester::bearer(&secret), Requester::known_as);
            tokens.push(KnownToken { secret: secret.into_bytes(), requester });
        }
        if let Ok(extra) = std::env::var(TOKENS_ENV) {
            for secret in extra.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                tokens.push(KnownToken { secret: secret.as_bytes().to_vec(), requester: Requester::bearer(secret) });
            }
        }
        // The environment's tokens may repeat one from the file.
        let mut secrets = HashSet::new();
        if !tokens.iter().all(|known| secrets.insert(known.secret.as_slice())) {
            return Err(Error::Config(
                "auth.tokens: the same token is listed twice (each caller needs its own)".into(),
            ));
        }
        let oauth = match &config.oauth {
            Some(oauth) => Some(OAuth::new(oauth.clone()).await?),
            None => None,
        };
        if tokens.is_empty() && oauth.is_none() {
            return Ok(None);
        }
        Ok(Some(Self { tokens, oauth }))
    }

    /// RFC 9728 protected resource metadata, when OAuth is on.
    pub(crate) fn resource_metadata(&self) -> Option<Value> {
        let oauth = self.oauth.as_ref()?;
        let scopes = if oauth.config.scopes_supported.is_empty() {
            &oauth.config.required_scopes
        } else {
            &oauth.config.scopes_supported
        };
        Some(json!({
            "resource": oauth.config.resource,
            "authorization_servers": oauth.config.authorization_servers,
            "scopes_supported": scopes,
            "bearer_methods_supported": ["header"],
        }))
    }

    /// Who the request comes from, by its verified credential; or the 401/403 that refuses it.
    pub(crate) async fn check(&self, headers: &HeaderMap) -> Result<Requester, Response> {
        let Some(token) = bearer(headers) else {
            return Err(self.refuse(Denied::Unauthorized(None)));
        };
        // Every token is compared, each in constant time, so the time taken says
        // neither whether nor which one matched.
        let mut found = u64::MAX;
        for (index, known) in (0u64..).zip(&self.tokens) {
            found.conditional_assign(&index, known.secret.as_slice().ct_eq(token.as_bytes()));
        }
        if let Some(known) = usize::try_from(found).ok().and_then(|index| self.tokens.get(index)) {
            return Ok(known.requester.clone());
        }
        let Some(oauth) = &self.oauth else {
            return Err(self.refuse(Denied::Unauthorized(Some("unknown token".into()))));
        };
        let claims = oauth.verify(token).await.map_err(|denied| self.refuse(denied))?;
        // Tokens come and go; the subject they speak for is the client.
        let identity = Identity::from_claims(claims);
        if identity.subject.is_some() {
            return Ok(Requester::subject(identity));
        }
        // No subject: known by the token, its scopes and claims still count for the rules.
        let mut requester = Requester::bearer(token);
        requester.identity = Some(Arc::new(identity));
        Ok(requester)
    }

    fn refuse(&self, denied: Denied) -> Response {
        let mut challenge = String::from("Bearer realm=\"berth\"");
        if let Some(oauth) = &self.oauth {
            challenge.push_str(&format!(", resource_metadata=\"{}\"", oauth.metadata_url));
        }
        let (status, message) = match denied {
            Denied::Unauthorized(None) => {
                (StatusCode::UNAUTHORIZED, "authorization required: send Authorization: Bearer <token>".to_owned())
            }
            Denied::Unauthorized(Some(reason)) => {
                challenge
                    .push_str(&format!(", error=\"invalid_token\", error_description=\"{}\"", quote_safe(&reason)));
                (StatusCode::UNAUTHORIZED, format!("invalid token: {reason}"))
            }
            Denied::Forbidden(scopes) => {
                challenge.push_str(&format!(", error=\"insufficient_scope\", scope=\"{}\"", quote_safe(&scopes)));
                (StatusCode::FORBIDDEN, format!("the token lacks a required scope: {scopes}"))
            }
        };
        let mut response = json_error(status, &RpcError::invalid_request(message));
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// Middleware letting a request through only with valid credentials; the
/// request then carries its [`Requester`], for quotas and task ownership.
pub(crate) async fn require(State(auth): State<Arc<Auth>>, mut request: Request, next: Next) -> Response {
    match auth.check(request.headers()).await {
        Ok(requester) => {
            request.extensions_mut().insert(requester);
            next.run(request).await
        }
        Err(refusal) => refusal,
    }
}

/// Whether `config` or the environment sets up any auth (tokens or OAuth).
///
/// The exposure check (`server::check_exposure`) asks this before anything
/// is compiled, and [`Auth::from_config`] builds from the same sources.
pub(crate) fn is_configured(config: &AuthConfig) -> bool {
    // Any token entry counts; whether a named one's secret can be read is checked with the
    // rest of the config (`AuthConfig::validate`), with a message naming it.
    !config.tokens.is_empty()
        || config.oauth.is_some()
        || std::env::var(TOKENS_ENV).is_ok_and(|tokens| tokens.split(',').any(|t| !t.trim().is_empty()))
}

/// The token of an `Authorization: Bearer` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Text safe inside a quoted header parameter.
fn quote_safe(text: &str) -> String {
    text.chars().filter(|c| *c != '"' && *c != '\\' && !c.is_control()).collect()
}

impl OAuth {
    async fn new(config: OAuthConfig) -> Result<Self> {
        let metadata_url = metadata_url(&config.resource)?;
        let keys = load_keys(&config).await?;
        if keys.is_empty() {
            return Err(Error::Config("auth.oauth: the JWKS holds no usable signing key".into()));
        }
        Ok(Self { config, keys: ArcSwap::from_pointee(keys), last_fetch: Mutex::new(Instant::now()), metadata_url })
    }

    /// The claims of `token` once it verifies and carries the required scopes.
    async fn verify(&self, token: &str) -> Result<Value, Denied> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| Denied::Unauthorized(Some(e.to_string())))?;
        let mut keys = self.keys.load_full();
        if header.kid.is_some() && !keys.iter().any(|k| k.kid == header.kid) && self.may_refetch() {
            match load_keys(&self.config).await {
                Ok(fresh) if !fresh.is_empty() => {
                    self.keys.store(Arc::new(fresh));
                    keys = self.keys.load_full();
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("cannot refresh the JWKS: {e}"),
            }
        }
        let candidates = keys
            .iter()
            .filter(|k| k.algorithm == header.alg && (header.kid.is_none() || k.kid == header.kid))
            .collect::<Vec<_>>();
        if candidates.is_empty() {
            return Err(Denied::Unauthorized(Some("no known key signed this token".into())));
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.config.leeway_secs;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "aud"]);
        let audiences = if self.config.audiences.is_empty() {
            vec![self.config.resource.clone()]
        } else {
            self.config.audiences.clone()
        };
        validation.set_audience(&audiences);
        match &self.config.issuer {
            Some(issuer) => validation.set_issuer(&[issuer]),
            None if !self.config.authorization_servers.is_empty() => {
                validation.set_issuer(&self.config.authorization_servers)
            }
            None => {}
        }
        let mut last = String::new();
        for key in candidates {
            match jsonwebtoken::decode::<Value>(token, &key.key, &validation) {
                Ok(data) => return self.check_scopes(&data.claims).map(|()| data.claims),
                Err(e) => last = e.to_string(),
            }
        }
        Err(Denied::Unauthorized(Some(last)))
    }

    fn check_scopes(&self, claims: &Value) -> Result<(), Denied> {
        if self.config.required_scopes.is_empty() {
            return Ok(());
        }
        let granted: HashSet<&str> = match (claims.get("scope"), claims.get("scp")) {
            (Some(Value::String(scope)), _) => scope.split_whitespace().collect(),
            (_, Some(Value::Array(scopes))) => scopes.iter().filter_map(Value::as_str).collect(),
            _ => HashSet::new(),
        };
        let missing: Vec<&str> =
            self.config.required_scopes.iter().map(String::as_str).filter(|s| !granted.contains(s)).collect();
        if missing.is_empty() { Ok(()) } else { Err(Denied::Forbidden(self.config.required_scopes.join(" "))) }
    }

    /// Whether an unknown key id may trigger a JWKS fetch now (rate-limited).
    fn may_refetch(&self) -> bool {
        if self.config.jwks_url.is_none() {
            return false;
        }
        let mut last = lock(&self.last_fetch);
        if last.elapsed() < JWKS_REFRESH {
            return false;
        }
        *last = Instant::now();
        true
    }
}

/// Where RFC 9728 puts the metadata of `resource`: the well-known path
/// inserted before the resource's own path.
fn metadata_url(resource: &str) -> Result<String> {
    let bad = || Error::Config(format!("auth.oauth.resource must be an absolute http(s) URL, not {resource:?}"));
    let (scheme, rest) = resource.split_once("://").ok_or_else(bad)?;
    if scheme != "https" && scheme != "http" {
        return Err(bad());
    }
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], rest[at..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(bad());
    }
    Ok(format!("{scheme}://{authority}/.well-known/oauth-protected-resource{path}"))
}

/// Reads the JWKS from its file or URL and keeps the keys berth can verify with.
async fn load_keys(config: &OAuthConfig) -> Result<Vec<SigningKey>> {
    let text = if let Some(path) = &config.jwks_file {
        std::fs::read_to_string(path)
            .map_err(|source| Error::Io { what: format!("cannot read JWKS {}", path.display()), source })?
    } else if let Some(url) = &config.jwks_url {
        crate::tls::install_crypto_provider();
        let fetch = async {
            let response = reqwest::Client::new().get(url).timeout(Duration::from_secs(10)).send().await?;
            response.error_for_status()?.text().await
        };
        fetch.await.map_err(|e| Error::Config(format!("cannot fetch the JWKS from {url}: {e}")))?
    } else {
        return Err(Error::Config("auth.oauth needs jwks_file or jwks_url".into()));
    };
    let set: JwkSet = serde_json::from_str(&text).map_err(|e| Error::Config(format!("the JWKS is not valid: {e}")))?;
    Ok(set.keys.iter().filter_map(signing_key).collect())
}

/// A verification key from `jwk`; symmetric and unknown keys are skipped,
/// since a resource server must not share secrets with its issuer.
fn signing_key(jwk: &Jwk) -> Option<SigningKey> {
    let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
        (AlgorithmParameters::OctetKey(_), _) => return None,
        (_, Some(declared)) => declared.to_string().parse().ok()?,
        (AlgorithmParameters::RSA(_), None) => Algorithm::RS256,
        (AlgorithmParameters::EllipticCurve(ec), None) => match ec.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return None,
        },
        (AlgorithmParameters::OctetKeyPair(_), None) => Algorithm::EdDSA,
    };
    if matches!(algorithm, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(SigningKey { kid: jwk.common.key_id.clone(), algorithm, key })
}

#[cfg(test)]
mod tests {
    use crate::admission::auth::*;

    #[test]
    fn metadata_url_inserts_the_well_known_path() {
        assert_eq!(
            metadata_url("https://tools.example.com/mcp").ok().as_deref(),
            Some("https://tools.example.com/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(
            metadata_url("http://127.0.0.1:8080").ok().as_deref(),
            Some("http://127.0.0.1:8080/.well-known/oauth-protected-resource")
        );
        assert!(metadata_url("tools.example.com").is_err());
    }

    #[test]
    fn bearer_needs_the_scheme_and_a_token() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer abc"));
        assert_eq!(bearer(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&headers), None);
    }
}
