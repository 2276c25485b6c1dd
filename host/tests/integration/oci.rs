//! OCI distribution against a real registry: Debian's `docker-registry` (the CNCF
//! distribution registry) on a free loopback port, driven through the `berth` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::json;

use crate::common::*;

/// A registry process with its storage in a temporary folder.
struct LocalRegistry {
    service: Service,
    dir: tempfile::TempDir,
}

impl LocalRegistry {
    fn start() -> LocalRegistry {
        let dir = tempfile::tempdir().expect("registry dir");
        let port = free_port();
        let config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        let config_file = dir.path().join("config.yml");
        std::fs::write(&config_file, config).expect("registry config");
        let service = Service::start("docker-registry", port, move || {
            let mut command = Command::new("docker-registry");
            command.arg("serve").arg(&config_file);
            command
        });
        LocalRegistry { service, dir }
    }

    fn resume(&mut self) {
        self.service.resume();
    }

    fn stop(&mut self) {
        self.service.stop();
    }

    fn reference(&self, path: &str) -> String {
        format!("oci://127.0.0.1:{}/{path}", self.service.port)
    }

    /// The file in the registry's storage that holds blob `digest`.
    fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
        self.dir.path().join("data/docker/registry/v2/blobs/sha256").join(&hex[..2]).join(hex).join("data")
    }
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    berth().args(args).envs(env.iter().copied()).output().expect("run berth")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn ok(args: &[&str]) -> String {
    let output = run(args, &[]);
    assert!(output.status.success(), "berth {args:?} failed:\n{}", text(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn refused(args: &[&str], because: &str) -> String {
    let output = run(args, &[]);
    let all = text(&output);
    assert!(!output.status.success(), "berth {args:?} should have failed:\n{all}");
    assert!(all.contains(because), "berth {args:?} failed without {because:?}:\n{all}");
    all
}

/// `berth push FILE REF --plain-http [more]`; the digest it printed.
fn push(file: &Path, reference: &str, more: &[&str]) -> String {
    let mut args = vec!["push", file.to_str().expect("utf-8"), reference, "--plain-http"];
    args.extend_from_slice(more);
    let out = ok(&args);
    let digest = out.lines().find_map(|l| l.strip_prefix("digest ")).unwrap_or_else(|| panic!("no digest in:\n{out}"));
    digest.trim().to_owned()
}

/// A fresh P-256 key pair written as `NAME.key` (PKCS#8) and `NAME.pub` (SPKI).
fn key_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let mut secret = [0u8; 32];
    let key = loop {
        getrandom::fill(&mut secret).expect("random");
        if let Ok(key) = p256::ecdsa::SigningKey::from_bytes(&secret.into()) {
            break key;
        }
    };
    let (private, public) = (dir.join(format!("{name}.key")), dir.join(format!("{name}.pub")));
    std::fs::write(&private, key.to_pkcs8_pem(LineEnding::LF).expect("pem").as_bytes()).expect("write key");
    std::fs::write(&public, key.verifying_key().to_public_key_pem(LineEnding::LF).expect("pem")).expect("write pub");
    (private, public)
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[tokio::test]
async fn a_pushed_component_is_pulled_into_a_running_server_and_called() {
    let registry = LocalRegistry::start();
    let reference = registry.reference("tools/echo:1.0");
    let digest = push(&plugin_file("echo"), &reference, &[]);
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{digest}");
    // The same file pushed again is the same artifact.
    assert_eq!(push(&plugin_file("echo"), &reference, &[]), digest);

    let plugins = tempfile::tempdir().expect("plugins");
    let server = Server::start_in(plugins.path(), &[]);
    assert!(tool_names(&server).await.is_empty());
    let cache = tempfile::tempdir().expect("cache");
    let out =
        ok(&["pull", &reference, "--plain-http", "--plugins", path(plugins.path()), "--cache-dir", path(cache.path())]);
    assert!(out.contains(&format!("resolved {reference} to {digest}")), "{out}");
    assert_eq!(
        std::fs::read(plugins.path().join("echo.wasm")).expect("installed"),
        std::fs::read(plugin_file("echo")).expect("original")
    );
    // The running server hot-loads it from the folder.
    until_tools(&server, |names| names.iter().any(|n| n == "echo")).await;
    let result = call_tool(&server, "echo", json!({ "text": "from a registry" })).await;
    assert_eq!(first_text(&result), "from a registry");

    // A name that is not there, a plain-HTTP registry asked for TLS, and a core module.
    refused(
        &["pull", &registry.reference("tools/nothing:1"), "--plain-http", "--plugins", path(plugins.path())],
        "not found",
    );
    refused(&["pull", &reference, "--plugins", path(plugins.path())], "--plain-http");
    let module = plugins.path().join("module.bin");
    std::fs::write(&module, b"\0asm\x01\x00\x00\x00").expect("write module");
    refused(&["push", path(&module), &reference, "--plain-http"], "core Wasm module");
}

#[tokio::test]
async fn sources_pin_digests_and_start_from_the_cache_when_the_registry_is_down() {
    let mut registry = LocalRegistry::start();
    let tag = registry.reference("tools/moving:v1");
    let echo_digest = push(&plugin_file("echo"), &tag, &[]);
    // The tag moves to another component after the digest was recorded.
    let textkit_digest = push(&plugin_file("textkit"), &tag, &[]);
    assert_ne!(echo_digest, textkit_digest);
    let pinned = registry.reference(&format!("tools/moving@{echo_digest}"));

    let work = tempfile::tempdir().expect("work");
    let (plugins, cache) = (work.path().join("plugins"), work.path().join("cache"));
    let config = work.path().join("berth.toml");
    std::fs::write(
        &config,
        format!(
            "cache_dir = {cache:?}\n[plugins]\ndir = {plugins:?}\n\
             [[plugins.sources]]\nref = \"{pinned}\"\nname = \"pinned\"\nplain_http = true\n\
             [[plugins.sources]]\nref = \"{tag}\"\nname = \"tagged\"\nplain_http = true\n"
        ),
    )
    .expect("config");
    let serve = |extra: &[&str]| {
        let mut args = vec!["--config", path(&config)];
        args.extend_from_slice(extra);
        Server::start_in(&plugins, &args)
    };
    let wants = |names: &[String]| {
        // The pinned digest (echo) still wins over the moved tag; the tag serves textkit.
        names.iter().any(|n| n == "echo") && names.iter().any(|n| n == "json_query")
    };
    {
        let server = serve(&[]);
        let names = tool_names(&server).await;
        assert!(wants(&names), "{names:?}");
    }

    // Registry gone, cache warm: berth still starts and serves the same plugins.
    registry.stop();
    std::fs::remove_dir_all(&plugins).expect("forget the installed files");
    let server = serve(&[]);
    let names = tool_names(&server).await;
    assert!(wants(&names), "{names:?}");
    let result = call_tool(&server, "echo", json!({ "text": "offline" })).await;
    assert_eq!(first_text(&result), "offline");
    drop(server);

    // A source the cache never saw cannot start while the registry is down: one line says which.
    let other = tempfile::tempdir().expect("other cache");
    let cold = work.path().join("cold.toml");
    std::fs::write(
        &cold,
        format!(
            "cache_dir = {:?}\n[plugins]\ndir = {:?}\n[[plugins.sources]]\nref = \"{tag}\"\nplain_http = true\n",
            other.path().join("cache"),
            other.path().join("plugins")
        ),
    )
    .expect("config");
    let err = refused(&["list", "--config", path(&cold)], "cannot reach the registry");
    assert!(err.contains(&tag), "{err}");
    registry.resume();
    ok(&["list", "--config", path(&cold)]);
}

#[tokio::test]
async fn trusted_keys_refuse_unsigned_tampered_and_foreign_artifacts() {
    let registry = LocalRegistry::start();
    let keys = tempfile::tempdir().expect("keys");
    let (signer, signer_pub) = key_pair(keys.path(), "signer");
    let (_, stranger_pub) = key_pair(keys.path(), "stranger");
    let signed = registry.reference("tools/signed:1");
    let unsigned = registry.reference("tools/unsigned:1");
    let digest = push(&plugin_file("echo"), &signed, &["--sign", path(&signer)]);
    push(&plugin_file("echo"), &unsigned, &[]);

    let plugins = tempfile::tempdir().expect("plugins");
    let pull = |reference: &str, key: &Path, extra: &[&str]| {
        let cache = tempfile::tempdir().expect("cache");
        let mut args = vec!["pull", reference, "--plain-http", "--plugins", path(plugins.path())];
        args.extend_from_slice(&["--cache-dir", path(cache.path()), "--trusted-key", path(key)]);
        args.extend_from_slice(extra);
        args.iter().map(|a| a.to_string()).collect::<Vec<_>>()
    };

    let out = ok(&strs(&pull(&signed, &signer_pub, &[])));
    assert!(out.contains("signature verified with"), "{out}");
    refused(&strs(&pull(&signed, &stranger_pub, &[])), "no signature verifies with the trusted keys");
    refused(&strs(&pull(&unsigned, &signer_pub, &[])), "not signed");
    let out = ok(&strs(&pull(&unsigned, &signer_pub, &["--allow-unsigned"])));
    assert!(out.contains("not signed (accepted"), "{out}");
    // --allow-unsigned waives a missing signature, not a wrong one.
    refused(&strs(&pull(&signed, &stranger_pub, &["--allow-unsigned"])), "no signature verifies");

    // The signature names the digest: a different artifact under a signed tag is refused.
    push(&plugin_file("textkit"), &signed, &[]);
    refused(&strs(&pull(&signed, &signer_pub, &[])), "not signed");
    // The same rules hold for sources at start: one line naming the reference and the reason.
    let config = keys.path().join("berth.toml");
    std::fs::write(
        &config,
        format!(
            "cache_dir = {:?}\n[plugins]\ndir = {:?}\ntrusted_keys = [{:?}]\n[[plugins.sources]]\nref = \"{unsigned}\"\nplain_http = true\n",
            keys.path().join("cache"),
            plugins.path(),
            signer_pub
        ),
    )
    .expect("config");
    let err = refused(&["list", "--config", path(&config)], "not signed");
    assert!(err.contains("tools/unsigned"), "{err}");

    // A layer changed in the registry's storage no longer matches the signed manifest's digest.
    let pinned = registry.reference(&format!("tools/signed@{digest}"));
    let junk = berth::distribution::cosign::payload("x", "y"); // any bytes that are not the component
    let component_digest = format!("sha256:{}", sha256_hex(&std::fs::read(plugin_file("echo")).expect("echo")));
    std::fs::write(registry.blob_file(&component_digest), junk).expect("tamper");
    refused(&strs(&pull(&pinned, &signer_pub, &[])), "does not match its digest");
}

#[tokio::test]
async fn a_key_cosign_generated_signs_through_berth() {
    let registry = LocalRegistry::start();
    let dir = tempfile::tempdir().expect("dir");
    // Written by `cosign generate-key-pair` with an empty password (see tests/fixtures/README.md).
    let cosign_key = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cosign-empty-password.key");
    let public = berth::distribution::SigningKey::from_file(&cosign_key, Some(""))
        .expect("opens")
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("pem");
    let cosign_pub = dir.path().join("cosign.pub");
    std::fs::write(&cosign_pub, public).expect("pub");
    let reference = registry.reference("tools/cosigned:1");

    let echo = plugin_file("echo");
    let args = ["push", path(&echo), &reference, "--plain-http", "--sign", path(&cosign_key)];
    let without = run(&args, &[]);
    assert!(!without.status.success() && text(&without).contains("COSIGN_PASSWORD"), "{}", text(&without));
    let wrong = run(&args, &[("COSIGN_PASSWORD", "guess")]);
    assert!(text(&wrong).contains("wrong password"), "{}", text(&wrong));
    let pushed = run(&args, &[("COSIGN_PASSWORD", "")]);
    assert!(pushed.status.success(), "{}", text(&pushed));
    let cache = tempfile::tempdir().expect("cache");
    let out = ok(&[
        "pull",
        &reference,
        "--plain-http",
        "--plugins",
        path(dir.path()),
        "--cache-dir",
        path(cache.path()),
        "--trusted-key",
        path(&cosign_pub),
    ]);
    assert!(out.contains("signature verified with"), "{out}");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[tokio::test]
async fn sighup_resolves_the_sources_again_and_the_server_reloads() {
    let registry = LocalRegistry::start();
    let tag = registry.reference("tools/live:stable");
    push(&plugin_file("echo"), &tag, &[]);
    let work = tempfile::tempdir().expect("work");
    let plugins = work.path().join("plugins");
    let config = work.path().join("berth.toml");
    std::fs::write(
        &config,
        format!(
            "[plugins]\ndir = {plugins:?}\n[[plugins.sources]]\nref = \"{tag}\"\nname = \"live\"\nplain_http = true\n"
        ),
    )
    .expect("config");
    let server = Server::start_in(&plugins, &["--config", path(&config)]);
    assert_eq!(tool_names(&server).await, vec!["echo".to_owned()]);

    // The tag moves; nothing changes until the operator asks berth to look again.
    push(&plugin_file("textkit"), &tag, &[]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(tool_names(&server).await, vec!["echo".to_owned()]);
    let status = Command::new("kill").args(["-HUP", &server.pid().to_string()]).status().expect("kill");
    assert!(status.success());
    let names = until_tools(&server, |names| names.iter().any(|n| n == "json_query")).await;
    assert!(!names.iter().any(|n| n == "echo"), "{names:?}");
}
