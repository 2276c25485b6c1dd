//! Who may call what: named tokens, access rules applied the same on every path (lists,
//! calls, tasks, multi-round retries, resources, prompts, completions; HTTP in both eras,
//! WebSocket, stdio), hot-loaded plugins, rules reloaded on SIGHUP, OAuth scopes and
//! claims, per-identity quotas, and the audit trail.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::auth::{AUTH_SERVER, Issuer, RESOURCE, now, oauth_config};
use crate::common::*;
use crate::tasks::with_tasks;

/// The rules every test here starts from (`{dir}` is the test's config folder).
const RULES: &str = r#"
[[auth.tokens]]
name = "alice"
token = "alice-token"

[[auth.tokens]]
name = "ci"
token_file = "{dir}/ci.token"

[[auth.tokens]]
name = "slow"
token = "slow-token"

[[auth.tokens]]
name = "admin"
token = "admin-token"

[quota]
refusal_delay_ms = 0

[quota.identities.slow]
requests_per_sec = 1
burst = 2

[[access.rules]]
name = "alice"
identities = ["alice"]
plugins = ["echo"]
tools = ["test_simple_text", "test_input_required_result_request_state"]
resources = ["test://static-"]
prompts = ["test_simple_*"]

[[access.rules]]
name = "ci"
identities = ["ci"]
plugins = ["textkit"]

[[access.rules]]
identities = ["slow"]
plugins = ["echo"]

[[access.rules]]
identities = ["admin"]
plugins = ["*"]

[audit]
file = "{dir}/audit.jsonl"
"#;

/// A server over `plugins` (in a folder the test may add to) with `RULES`.
struct Ruled {
    server: Server,
    plugins: tempfile::TempDir,
    config: tempfile::TempDir,
}

impl Ruled {
    fn start(plugins: &[&str]) -> Ruled {
        let config = tempfile::tempdir().expect("config dir");
        std::fs::write(config.path().join("ci.token"), "ci-token\n").expect("token file");
        let file = config.path().join("berth.toml");
        std::fs::write(&file, RULES.replace("{dir}", &config.path().display().to_string())).expect("config");
        let dir = plugin_dir(plugins);
        let server = Server::start_in(dir.path(), &["--config", file.to_str().expect("utf-8")]);
        Ruled { server, plugins: dir, config }
    }

    fn audit_lines(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.config.path().join("audit.jsonl")).unwrap_or_default();
        text.lines().map(|line| serde_json::from_str(line).expect("audit lines are JSON")).collect()
    }

    /// The trail once a line `wanted` is in it (the writer thread runs apart; 10 s at most).
    async fn until_audited(&self, wanted: impl Fn(&Value) -> bool) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let lines = self.audit_lines();
            if lines.iter().any(&wanted) {
                return lines;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "the line never came: {lines:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// An HTTP client that sends `token`.
fn caller(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().expect("header"));
    berth::install_crypto_provider();
    reqwest::Client::builder().default_headers(headers).timeout(Duration::from_secs(30)).build().expect("client")
}

async fn modern(server: &Server, client: &reqwest::Client, body: &Value) -> Reply {
    Reply::read(modern_request_from(client, &server.url, body).send().await.expect("send")).await
}

/// The names (or `key`s) in a 2026-07-28 list's answer, after checking it is private.
async fn listed(server: &Server, client: &reqwest::Client, method: &str, field: &str, key: &str) -> BTreeSet<String> {
    let reply = modern(server, client, &modern_body(1, method, json!({}))).await;
    assert_eq!(reply.status, 200, "{method}: {}", reply.body);
    let result = &reply.body["result"];
    assert_eq!(result["cacheScope"], "private", "a list that depends on the caller says so: {result}");
    result[field].as_array().expect("a list").iter().map(|e| e[key].as_str().expect("named").to_owned()).collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// The answer to `hidden` with every mention of it replaced by `absent`: what a caller
/// sees for a name it may not use must be what it sees for one that does not exist.
fn as_if(answer: &Value, hidden: &str, absent: &str) -> String {
    answer.to_string().replace(hidden, absent)
}

async fn call(server: &Server, client: &reqwest::Client, tool: &str) -> Reply {
    modern(server, client, &modern_body(7, "tools/call", json!({ "name": tool, "arguments": {} }))).await
}

#[tokio::test]
async fn each_identity_lists_exactly_what_its_rules_grant() {
    let ruled = Ruled::start(&["echo", "textkit", "conformance"]);
    let server = &ruled.server;
    let (alice, ci) = (caller("alice-token"), caller("ci-token"));
    let alice_tools = set(&["echo", "test_simple_text", "test_input_required_result_request_state"]);
    assert_eq!(listed(server, &alice, "tools/list", "tools", "name").await, alice_tools);
    let ci_tools = set(&["hash", "base64", "json_query", "regex_find", "text_stats"]);
    assert_eq!(listed(server, &ci, "tools/list", "tools", "name").await, ci_tools);
    assert_eq!(
        listed(server, &alice, "resources/list", "resources", "uri").await,
        set(&["test://static-text", "test://static-binary"])
    );
    assert_eq!(listed(server, &ci, "resources/list", "resources", "uri").await, set(&["textkit://help"]));
    assert!(listed(server, &alice, "resources/templates/list", "resourceTemplates", "uriTemplate").await.is_empty());
    assert_eq!(
        listed(server, &ci, "resources/templates/list", "resourceTemplates", "uriTemplate").await,
        set(&["textkit://sha256/{text}"])
    );
    assert_eq!(listed(server, &alice, "prompts/list", "prompts", "name").await, set(&["test_simple_prompt"]));
    assert_eq!(listed(server, &ci, "prompts/list", "prompts", "name").await, set(&["explain_regex"]));

    // A legacy session sees the same.
    let legacy = LegacyCaller::open(server, &alice).await;
    let tools = legacy.post(&json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" })).await;
    let names: BTreeSet<String> = tools.body["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_owned())
        .collect();
    assert_eq!(names, alice_tools);

    // A hot-loaded plugin is hidden from those no rule grants it to.
    let admin = caller("admin-token");
    let before = listed(server, &admin, "tools/list", "tools", "name").await.len();
    std::fs::copy(plugin_file("bulk"), ruled.plugins.path().join("bulk.wasm")).expect("copy");
    let started = Instant::now();
    loop {
        let tools = modern(server, &admin, &modern_body(1, "tools/list", json!({}))).await;
        if tools.body["result"]["tools"].as_array().expect("tools").len() > before {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "bulk never loaded: {}", tools.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(listed(server, &alice, "tools/list", "tools", "name").await, alice_tools, "bulk hidden from alice");
    assert_eq!(listed(server, &ci, "tools/list", "tools", "name").await, ci_tools, "and from ci");
}

/// A legacy (2025-11-25) session over HTTP, opened with `client`'s token.
struct LegacyCaller<'a> {
    server: &'a Server,
    client: reqwest::Client,
    id: String,
}

impl<'a> LegacyCaller<'a> {
    async fn open(server: &'a Server, client: &reqwest::Client) -> LegacyCaller<'a> {
        let body = json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": { "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "t", "version": "0" } }
        });
        let caller = LegacyCaller { server, client: client.clone(), id: String::new() };
        let reply = caller.send(&body, None).await;
        assert_eq!(reply.status, 200, "initialize: {}", reply.body);
        let id = reply.headers.get("mcp-session-id").expect("session id").to_str().expect("ascii").to_owned();
        let caller = LegacyCaller { id, ..caller };
        assert_eq!(caller.post(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" })).await.status, 202);
        caller
    }

    async fn send(&self, body: &Value, session: Option<&str>) -> Reply {
        let mut request = self
            .client
            .post(&self.server.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if let Some(id) = session {
            request = request.header("mcp-session-id", id).header("mcp-protocol-version", "2025-11-25");
        }
        Reply::read(request.json(body).send().await.expect("send")).await
    }

    async fn post(&self, body: &Value) -> Reply {
        self.send(body, Some(&self.id)).await
    }
}

#[tokio::test]
async fn a_hidden_name_answers_exactly_as_an_unknown_one_on_every_path() {
    let ruled = Ruled::start(&["echo", "textkit", "conformance"]);
    let server = &ruled.server;
    let (alice, ci) = (caller("alice-token"), caller("ci-token"));
    let (hidden, absent) = ("hash", "no_such_tool");

    // 2026-07-28 over HTTP: status, headers that matter, body.
    let (a, b) = (call(server, &alice, hidden).await, call(server, &alice, absent).await);
    assert_eq!((a.status, b.status), (b.status, a.status));
    assert_eq!(a.headers.get("content-type"), b.headers.get("content-type"));
    assert_eq!(as_if(&a.body, hidden, absent), b.body.to_string(), "modern HTTP");
    assert!(a.body["error"]["message"].as_str().expect("message").contains("unknown tool"), "{}", a.body);
    // As a task.
    let task = |name: &str| with_tasks(8, "tools/call", json!({ "name": name, "arguments": {} }));
    let (a, b) = (modern(server, &alice, &task(hidden)).await, modern(server, &alice, &task(absent)).await);
    assert_eq!((a.status, as_if(&a.body, hidden, absent)), (b.status, b.body.to_string()), "as a task");
    // A multi-round retry with state another caller was given.
    let name = "test_input_required_result_request_state";
    let mut first = modern_body(9, "tools/call", json!({ "name": name, "arguments": {} }));
    first["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"] = json!({ "elicitation": {} });
    let round1 = modern(server, &alice, &first).await;
    assert_eq!(round1.body["result"]["resultType"], "input_required", "{}", round1.body);
    let mut retry = first.clone();
    retry["params"]["inputResponses"] = json!({ "confirm": { "action": "accept", "content": { "ok": true } } });
    retry["params"]["requestState"] = round1.body["result"]["requestState"].clone();
    let stolen = modern(server, &ci, &retry).await;
    let mut unknown_retry = retry.clone();
    unknown_retry["params"]["name"] = json!(absent);
    let unknown = modern(server, &ci, &unknown_retry).await;
    assert_eq!((stolen.status, as_if(&stolen.body, name, absent)), (unknown.status, unknown.body.to_string()));
    let done = modern(server, &alice, &retry).await;
    assert_eq!(done.body["result"]["resultType"], "complete", "alice may finish it: {}", done.body);

    // Resources, templates, prompts, completions.
    let read = |uri: &str| modern_body(10, "resources/read", json!({ "uri": uri }));
    let (a, b) = (
        modern(server, &alice, &read("test://watched-resource")).await,
        modern(server, &alice, &read("test://nope")).await,
    );
    assert_eq!((a.status, as_if(&a.body, "test://watched-resource", "test://nope")), (b.status, b.body.to_string()));
    let (a, b) = (
        modern(server, &alice, &read("test://template/7/data")).await,
        modern(server, &alice, &read("test://template/7/nope")).await,
    );
    assert_eq!((a.status, as_if(&a.body, "/data", "/nope")), (b.status, b.body.to_string()), "through a template");
    let prompt = |name: &str| modern_body(11, "prompts/get", json!({ "name": name }));
    let (a, b) = (
        modern(server, &alice, &prompt("test_prompt_with_image")).await,
        modern(server, &alice, &prompt("no_prompt")).await,
    );
    assert_eq!((a.status, as_if(&a.body, "test_prompt_with_image", "no_prompt")), (b.status, b.body.to_string()));
    let complete = |name: &str| {
        let reference = json!({ "type": "ref/prompt", "name": name });
        modern_body(12, "completion/complete", json!({ "ref": reference, "argument": { "name": "arg1", "value": "" } }))
    };
    let (a, b) = (
        modern(server, &alice, &complete("test_prompt_with_arguments")).await,
        modern(server, &alice, &complete("no_prompt")).await,
    );
    assert_eq!((a.status, as_if(&a.body, "test_prompt_with_arguments", "no_prompt")), (b.status, b.body.to_string()));

    // Legacy HTTP.
    let legacy = LegacyCaller::open(server, &alice).await;
    let legacy_call = |name: &str| json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": { "name": name, "arguments": {} } });
    let (a, b) = (legacy.post(&legacy_call(hidden)).await, legacy.post(&legacy_call(absent)).await);
    assert_eq!((a.status, as_if(&a.body, hidden, absent)), (b.status, b.body.to_string()), "legacy HTTP");

    // WebSocket.
    let mut ws = WsClient::connect_with(server, &[("authorization", "Bearer alice-token")]).await.expect("ws");
    ws.send(&modern_body(4, "tools/call", json!({ "name": hidden, "arguments": {} }))).await;
    let a = ws.reply().await;
    ws.send(&modern_body(4, "tools/call", json!({ "name": absent, "arguments": {} }))).await;
    let b = ws.reply().await;
    assert_eq!(as_if(&a, hidden, absent), b.to_string(), "WebSocket");
    ws.send(&modern_body(5, "tools/call", json!({ "name": "echo", "arguments": { "text": "hi" } }))).await;
    assert_eq!(ws.reply().await["result"]["content"][0]["text"], "hi", "a granted tool works");

    // And the trail has one line per call, with who and how it ended (written by a thread of
    // its own: wait for the last call's line).
    let lines = ruled.until_audited(|l| l["target"] == "echo").await;
    let outcome_of = |target: &str| {
        lines
            .iter()
            .filter(|l| l["target"] == target && l["identity"]["name"] == "alice")
            .map(|l| l["outcome"].as_str().expect("outcome").to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(outcome_of(hidden), ["refused_by_rule"; 4], "modern, task, legacy, WebSocket: {lines:?}");
    assert_eq!(outcome_of(absent), ["error"; 4], "{lines:?}");
    assert_eq!(outcome_of("echo"), ["ok"], "{lines:?}");
    assert_eq!(outcome_of("test://watched-resource"), ["refused_by_rule"]);
    assert_eq!(outcome_of("test_prompt_with_image"), ["refused_by_rule"]);
    let ci_retry = lines.iter().find(|l| l["identity"]["name"] == "ci" && l["target"] == name).expect("ci's retry");
    assert_eq!(ci_retry["outcome"], "refused_by_rule");
    let ws_line = lines.iter().find(|l| l["target"] == "echo").expect("echo");
    assert_eq!(ws_line["transport"], "websocket");
    assert_eq!(ws_line["address"], "127.0.0.1");
    assert_eq!(ws_line["method"], "tools/call");
    assert!(ws_line["time"].as_str().is_some_and(|t| t.ends_with('Z')) && ws_line["duration_us"].is_u64());
    let legacy_line = lines.iter().find(|l| l["session"] == legacy.id.as_str()).expect("the legacy calls");
    assert_eq!(legacy_line["transport"], "http");
    for line in &lines {
        assert!(
            !line.to_string().contains("alice-token") && !line.to_string().contains("ci-token"),
            "no token: {line}"
        );
    }
    let metrics = metrics_text_as(server, &caller("admin-token")).await;
    let refused = metric_value(&metrics, "berth_audit_events_total{outcome=\"refused_by_rule\"}").expect("counted");
    assert!(refused >= 8.0, "{metrics}");
}

async fn metrics_text_as(server: &Server, client: &reqwest::Client) -> String {
    let response = client.get(format!("{}/metrics", server.base)).send().await.expect("metrics");
    response.text().await.expect("metrics text")
}

#[tokio::test]
async fn stdio_callers_are_who_the_operator_says() {
    let config = tempfile::tempdir().expect("dir");
    let file = config.path().join("berth.toml");
    std::fs::write(&file, "[[access.rules]]\nidentities = [\"ci\"]\nplugins = [\"textkit\"]\n").expect("config");
    let file = file.to_str().expect("utf-8");
    let list = modern_body(1, "tools/list", json!({}));
    let mut ci = StdioServer::spawn_with(&["echo", "textkit"], &["--config", file, "--identity", "ci"]);
    ci.send(&list).await;
    let tools = ci.reply().await;
    assert_eq!(tools["result"]["tools"].as_array().expect("tools").len(), 5, "{tools}");
    ci.send(&modern_body(2, "tools/call", json!({ "name": "echo", "arguments": { "text": "x" } }))).await;
    let hidden = ci.reply().await;
    ci.send(&modern_body(2, "tools/call", json!({ "name": "nope", "arguments": { "text": "x" } }))).await;
    assert_eq!(as_if(&hidden, "echo", "nope"), ci.reply().await.to_string());
    ci.finish().await;
    let mut anonymous = StdioServer::spawn_with(&["echo", "textkit"], &["--config", file]);
    anonymous.send(&list).await;
    assert_eq!(anonymous.reply().await["result"]["tools"], json!([]), "no rule is for an anonymous caller");
    anonymous.finish().await;
}

#[tokio::test]
async fn rules_reload_on_sighup_and_identities_have_their_own_quotas() {
    let ruled = Ruled::start(&["echo", "textkit"]);
    let server = &ruled.server;
    let alice = caller("alice-token");
    let slow = caller("slow-token");
    // slow: 1 request per second, a burst of 2; everyone else: no rate limit.
    let echo = |n: u64| modern_body(n, "tools/call", json!({ "name": "echo", "arguments": { "text": "x" } }));
    assert_eq!(modern(server, &slow, &echo(1)).await.status, 200);
    // The third at once is over; on a slow machine a token may have refilled meanwhile, so
    // up to six are sent: well under a second apart, one of them must be refused.
    let mut refused = None;
    for n in 2..8 {
        let reply = modern(server, &slow, &echo(n)).await;
        if reply.status == 429 {
            refused = Some(reply);
            break;
        }
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let refused = refused.expect("slow's rate (1/s, a burst of 2) refused one");
    assert_eq!(refused.body["error"]["data"]["limit"], "rate", "{}", refused.body);
    for n in 0..5 {
        assert_eq!(modern(server, &alice, &echo(10 + n)).await.status, 200, "alice has no rate limit");
    }
    let lines = ruled.until_audited(|l| l["outcome"] == "over_quota").await;
    let over = lines.into_iter().find(|l| l["outcome"] == "over_quota").expect("the refusal is audited");
    assert_eq!((over["identity"]["name"].as_str(), over["target"].as_str()), (Some("slow"), Some("echo")));

    assert!(!listed(server, &alice, "tools/list", "tools", "name").await.contains("hash"));
    let file = ruled.config.path().join("berth.toml");
    let text = std::fs::read_to_string(&file)
        .expect("config")
        .replace("plugins = [\"echo\"]\ntools", "plugins = [\"echo\", \"textkit\"]\ntools");
    std::fs::write(&file, text).expect("rewrite");
    // As logrotate would: move the trail away, then signal; berth reopens it.
    let audit = ruled.config.path().join("audit.jsonl");
    let rotated = ruled.config.path().join("audit.jsonl.1");
    std::fs::rename(&audit, &rotated).expect("rotate");
    let status = std::process::Command::new("kill").args(["-HUP", &server.pid().to_string()]).status().expect("kill");
    assert!(status.success());
    let started = Instant::now();
    while !listed(server, &alice, "tools/list", "tools", "name").await.contains("hash") {
        assert!(started.elapsed() < Duration::from_secs(10), "the new rule never took effect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(call(server, &alice, "hash").await.status, 200);
    ruled.until_audited(|l| l["target"] == "hash").await;
    let before = std::fs::read_to_string(&rotated).expect("the rotated trail");
    assert!(before.contains("over_quota") && !before.contains("\"hash\""), "{before}");
}

#[tokio::test]
async fn oauth_callers_are_granted_by_scope_and_claim() {
    let issuer = Issuer::new("key-1");
    let dir = tempfile::tempdir().expect("dir");
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, issuer.jwks().to_string()).expect("write jwks");
    let rules = "[[access.rules]]\nscopes = [\"echo.use\"]\nplugins = [\"echo\"]\n\n\
                 [[access.rules]]\nclaims = { groups = [\"text-team\"] }\ntools = [\"hash\", \"base64\"]\n";
    let config = format!("{}{rules}", oauth_config(&format!("jwks_file = {:?}", jwks.display().to_string())));
    let server = Server::with_config(&["echo", "textkit"], &config);
    let token = |scope: &str, groups: Value| {
        let claims = json!({
            "iss": AUTH_SERVER, "sub": "user-1", "aud": RESOURCE, "exp": now() + 300, "iat": now(),
            "scope": scope, "groups": groups,
        });
        caller(&issuer.token(&claims))
    };
    let names = |client: reqwest::Client| {
        let server = &server;
        async move { listed(server, &client, "tools/list", "tools", "name").await }
    };
    assert_eq!(names(token("tools echo.use", json!([]))).await, set(&["echo"]));
    assert_eq!(names(token("tools", json!(["x", "text-team"]))).await, set(&["hash", "base64"]));
    assert_eq!(names(token("tools echo.use", json!("text-team"))).await, set(&["echo", "hash", "base64"]));
    assert!(names(token("tools", json!(["other"]))).await.is_empty());
}

#[test]
fn a_malformed_rule_refuses_to_start_and_an_unknown_name_is_a_warning() {
    let dir = plugin_dir(&["echo"]);
    let config = tempfile::tempdir().expect("dir");
    let file = config.path().join("berth.toml");
    std::fs::write(&file, "[[access.rules]]\nplugins = [\"echo\"]\n").expect("config");
    let output = berth()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&file)
        .arg("--plugins")
        .arg(dir.path())
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("access.rules: rule 1: says nobody it is for"), "{stderr}");

    std::fs::write(&file, "[[access.rules]]\nname = \"typo\"\nanyone = true\ntools = [\"ecoh\"]\n").expect("config");
    let stderr = startup_stderr(dir.path(), &file);
    assert!(stderr.contains("access rule \"typo\": tool \"ecoh\" names an unknown tool"), "{stderr}");
}

/// What `berth serve` writes to stderr until it listens.
fn startup_stderr(plugins: &Path, config: &Path) -> String {
    use std::io::BufRead;
    let mut child = berth()
        .env("BERTH_LOG", "warn")
        .args(["serve", "--listen", "127.0.0.1:0", "--cache-dir"])
        .arg(shared_cache())
        .arg("--config")
        .arg(config)
        .arg("--plugins")
        .arg(plugins)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    for line in std::io::BufReader::new(stdout).lines() {
        if line.expect("line").starts_with("berth listening") {
            break;
        }
    }
    let _ = child.kill();
    let output = child.wait_with_output().expect("wait");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn every_replica_of_a_fleet_applies_the_same_rules() {
    use crate::cluster::{LocalRedis, replica_with};
    let redis = LocalRedis::start();
    let config = "[[auth.tokens]]\nname = \"alice\"\ntoken = \"alice-token\"\n\n\
                  [[auth.tokens]]\nname = \"ci\"\ntoken = \"ci-token\"\n\n\
                  [[access.rules]]\nidentities = [\"alice\"]\nplugins = [\"echo\"]\n\n\
                  [[access.rules]]\nidentities = [\"ci\"]\nplugins = [\"textkit\"]\n";
    let (a, _a_dir) = replica_with(&redis, &["echo", "textkit"], "replica-a", config);
    let (b, _b_dir) = replica_with(&redis, &["echo", "textkit"], "replica-b", config);
    let (alice, ci) = (caller("alice-token"), caller("ci-token"));
    for replica in [&a, &b] {
        assert_eq!(listed(replica, &alice, "tools/list", "tools", "name").await, set(&["echo"]));
        assert_eq!(listed(replica, &ci, "tools/list", "tools", "name").await.len(), 5);
    }
    // A session alice opened on one replica, continued on the other, under the same rules.
    let on_a = LegacyCaller::open(&a, &alice).await;
    let on_b = LegacyCaller { server: &b, client: alice.clone(), id: on_a.id.clone() };
    let legacy_call = |name: &str| json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": { "name": name, "arguments": { "text": "x" } } });
    let echoed = on_b.post(&legacy_call("echo")).await;
    assert_eq!(echoed.body["result"]["content"][0]["text"], "x", "{}", echoed.body);
    let (hidden, absent) = (on_b.post(&legacy_call("hash")).await, on_b.post(&legacy_call("nothing")).await);
    assert_eq!((hidden.status, as_if(&hidden.body, "hash", "nothing")), (absent.status, absent.body.to_string()));
}
