//! Access control: static bearer tokens, OAuth resource-server JWT checks
//! against a key the test generates, and the refusal to expose an
//! unauthenticated server.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};

use crate::common::*;

/// POSTs a modern `tools/list` with `authorization` (if any).
async fn list_with(server: &Server, authorization: Option<&str>) -> reqwest::Response {
    let mut request = server
        .client()
        .post(&server.url)
        .header("content-type", "application/json")
        .header("mcp-protocol-version", MODERN)
        .header("mcp-method", "tools/list");
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.json(&modern_body(1, "tools/list", json!({}))).send().await.expect("send")
}

fn challenge(response: &reqwest::Response) -> String {
    response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn bearer_tokens_guard_http_websocket_and_metrics() {
    let server = Server::with_config(&["echo"], "[auth]\ntokens = [\"s3cret-token\"]\n");
    let missing = list_with(&server, None).await;
    assert_eq!(missing.status(), 401);
    assert!(challenge(&missing).starts_with("Bearer realm=\"berth\""), "{}", challenge(&missing));
    let wrong = list_with(&server, Some("Bearer nope")).await;
    assert_eq!(wrong.status(), 401);
    assert!(challenge(&wrong).contains("error=\"invalid_token\""));
    let body: Value = wrong.json().await.expect("json");
    assert_eq!(body["error"]["code"], -32600);
    assert_eq!(list_with(&server, Some("Bearer s3cret-token")).await.status(), 200);

    let metrics = server.client().get(format!("{}/metrics", server.base)).send().await.expect("metrics");
    assert_eq!(metrics.status(), 401);
    let health = server.client().get(format!("{}/healthz", server.base)).send().await.expect("healthz");
    assert_eq!(health.status(), 200, "health checks stay open");

    match WsClient::connect_with(&server, &[]).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        Err(other) => panic!("expected 401, got {other}"),
        Ok(_) => panic!("a WebSocket opened without a token"),
    }
    let mut ws = WsClient::connect_with(&server, &[("authorization", "Bearer s3cret-token")]).await.expect("ws");
    ws.send(&modern_body(2, "tools/list", json!({}))).await;
    assert_eq!(ws.reply().await["result"]["tools"][0]["name"], "echo");
}

#[tokio::test]
async fn tokens_can_come_from_the_environment() {
    let dir = plugin_dir(&["echo"]);
    let env = HashMap::from([("BERTH_AUTH_TOKENS", "first, second")]);
    let server = Server::start_in_with_env(dir.path(), &[], &env);
    assert_eq!(list_with(&server, None).await.status(), 401);
    assert_eq!(list_with(&server, Some("Bearer second")).await.status(), 200);
}

#[test]
fn a_public_address_without_auth_is_refused_unless_overridden() {
    let dir = plugin_dir(&["echo"]);
    let output =
        berth().args(["serve", "--listen", "0.0.0.0:0", "--plugins"]).arg(dir.path()).output().expect("run berth");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("refusing to serve 0.0.0.0:0 without authentication"), "{stderr}");
    assert!(stderr.contains("--allow-unauthenticated"), "the message names the override: {stderr}");

    let mut child = berth()
        .args(["serve", "--listen", "0.0.0.0:0", "--allow-unauthenticated", "--cache-dir"])
        .arg(shared_cache())
        .arg("--plugins")
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("read");
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.starts_with("loaded echo") || line.starts_with("berth listening"), "it started: {line}");
}

/// An Ed25519 key the test made, and JWTs signed with it.
pub struct Issuer {
    key: Ed25519KeyPair,
    kid: &'static str,
}

pub const RESOURCE: &str = "http://127.0.0.1/mcp";
pub const AUTH_SERVER: &str = "https://auth.example.test";

impl Issuer {
    pub fn new(kid: &'static str) -> Issuer {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("generate key");
        Issuer { key: Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("parse key"), kid }
    }

    pub fn jwks(&self) -> Value {
        json!({ "keys": [{
            "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
            "kid": self.kid, "x": B64.encode(self.key.public_key().as_ref()),
        }] })
    }

    pub fn token(&self, claims: &Value) -> String {
        let header = json!({ "alg": "EdDSA", "typ": "JWT", "kid": self.kid });
        let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
        let signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(signature.as_ref()))
    }
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()
}

pub fn claims(audience: &str, expires_in: i64, scope: &str) -> Value {
    let exp = (now() as i64 + expires_in).max(0);
    json!({ "iss": AUTH_SERVER, "sub": "user-1", "aud": audience, "exp": exp, "iat": now(), "scope": scope })
}

pub fn oauth_config(jwks_source: &str) -> String {
    format!(
        "[auth.oauth]\nresource = \"{RESOURCE}\"\nauthorization_servers = [\"{AUTH_SERVER}\"]\n\
         required_scopes = [\"tools\"]\n{jwks_source}\n"
    )
}

#[tokio::test]
async fn oauth_tokens_are_checked_for_signature_audience_expiry_and_scope() {
    let issuer = Issuer::new("key-1");
    let dir = tempfile::tempdir().expect("dir");
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, issuer.jwks().to_string()).expect("write jwks");
    let server =
        Server::with_config(&["echo"], &oauth_config(&format!("jwks_file = {:?}", jwks.display().to_string())));

    let metadata = server
        .client()
        .get(format!("{}/.well-known/oauth-protected-resource/mcp", server.base))
        .send()
        .await
        .expect("metadata");
    assert_eq!(metadata.status(), 200);
    let metadata: Value = metadata.json().await.expect("json");
    assert_eq!(metadata["resource"], RESOURCE);
    assert_eq!(metadata["authorization_servers"][0], AUTH_SERVER);
    assert_eq!(metadata["scopes_supported"][0], "tools");

    let missing = list_with(&server, None).await;
    assert_eq!(missing.status(), 401);
    assert!(
        challenge(&missing).contains("resource_metadata=\"http://127.0.0.1/.well-known/oauth-protected-resource/mcp\""),
        "{}",
        challenge(&missing)
    );

    let good = issuer.token(&claims(RESOURCE, 300, "tools other"));
    assert_eq!(list_with(&server, Some(&format!("Bearer {good}"))).await.status(), 200);

    let expired = issuer.token(&claims(RESOURCE, -3600, "tools"));
    let refused = list_with(&server, Some(&format!("Bearer {expired}"))).await;
    assert_eq!(refused.status(), 401);
    assert!(challenge(&refused).contains("error=\"invalid_token\""));

    let other_audience = issuer.token(&claims("https://elsewhere.example/mcp", 300, "tools"));
    assert_eq!(list_with(&server, Some(&format!("Bearer {other_audience}"))).await.status(), 401);

    let forger = Issuer::new("key-1");
    let forged = forger.token(&claims(RESOURCE, 300, "tools"));
    assert_eq!(list_with(&server, Some(&format!("Bearer {forged}"))).await.status(), 401, "wrong signing key");

    let mut tampered = claims(RESOURCE, 300, "tools");
    tampered["iss"] = json!("https://evil.example");
    let tampered = issuer.token(&tampered);
    assert_eq!(list_with(&server, Some(&format!("Bearer {tampered}"))).await.status(), 401, "wrong issuer");

    let no_scope = issuer.token(&claims(RESOURCE, 300, "other"));
    let forbidden = list_with(&server, Some(&format!("Bearer {no_scope}"))).await;
    assert_eq!(forbidden.status(), 403);
    assert!(challenge(&forbidden).contains("error=\"insufficient_scope\""), "{}", challenge(&forbidden));
    assert!(challenge(&forbidden).contains("scope=\"tools\""));

    assert_eq!(list_with(&server, Some("Bearer not.a.jwt")).await.status(), 401);
}

/// Serves `body` as JSON to every connection on a loopback port; returns the URL.
async fn serve_json(body: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/jwks.json")
}

#[tokio::test]
async fn the_jwks_can_be_fetched_from_a_url() {
    let issuer = Issuer::new("url-key");
    let url = serve_json(issuer.jwks().to_string()).await;
    let server = Server::with_config(&["echo"], &oauth_config(&format!("jwks_url = \"{url}\"")));
    let token = issuer.token(&claims(RESOURCE, 300, "tools"));
    assert_eq!(list_with(&server, Some(&format!("Bearer {token}"))).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(list_with(&server, None).await.status(), 401);
}
