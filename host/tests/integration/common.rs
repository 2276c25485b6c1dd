//! Starting a real berth server for a test and talking to it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// The protocol revision of the stateless era.
pub const MODERN: &str = "2026-07-28";

/// Where `make plugins` puts the bundled plugins.
pub fn bundled_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins")
}

/// Where `make fixtures` puts the test-only plugins.
pub fn fixtures_dir() -> PathBuf {
    std::env::var_os("BERTH_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.build/fixtures"))
}

/// A compiled-plugin cache shared by all tests, so each plugin compiles once.
pub fn shared_cache() -> PathBuf {
    std::env::temp_dir().join("berth-test-cache")
}

/// The path of a built plugin, with a clear message when it was not built.
pub fn plugin_file(name: &str) -> PathBuf {
    for dir in [bundled_dir(), fixtures_dir()] {
        let path = dir.join(format!("{name}.wasm"));
        if path.is_file() {
            return path;
        }
    }
    panic!("plugin {name}.wasm is not built: run `make plugins fixtures` first");
}

/// A folder holding copies of the named plugins.
pub fn plugin_dir(names: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in names {
        std::fs::copy(plugin_file(name), dir.path().join(format!("{name}.wasm"))).expect("copy plugin");
    }
    dir
}

/// The `berth` binary under test.
pub fn berth() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
    command.env_remove("RUST_LOG").env_remove("BERTH_CONFIG").env("BERTH_LOG", "warn");
    command
}

/// `berth list` of the plugins in `dir`, with the tests' shared artifact cache.
pub fn list_plugins(dir: &Path) -> std::process::Output {
    berth().arg("list").arg("--plugins").arg(dir).arg("--cache-dir").arg(shared_cache()).output().expect("run")
}

/// A running `berth serve`, killed when dropped.
pub struct Server {
    child: Child,
    pub url: String,
    pub base: String,
    _plugins: Option<tempfile::TempDir>,
    _config: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Serves the named plugins with default settings.
    pub fn start(plugins: &[&str]) -> Server {
        Self::start_with(plugins, &[])
    }

    /// Serves the named plugins with extra command-line arguments.
    pub fn start_with(plugins: &[&str], extra: &[&str]) -> Server {
        let dir = plugin_dir(plugins);
        let mut server = Self::start_in(dir.path(), extra);
        server._plugins = Some(dir);
        server
    }

    /// Serves the named plugins with `toml` as the main config file.
    pub fn with_config(plugins: &[&str], toml: &str) -> Server {
        let dir = tempfile::tempdir().expect("config dir");
        let config = dir.path().join("berth.toml");
        std::fs::write(&config, toml).expect("write config");
        let mut server = Self::start_with(plugins, &["--config", config.to_str().expect("utf-8 path")]);
        server._config = Some(dir);
        server
    }

    /// Serves the plugins folder `dir`.
    pub fn start_in(dir: &Path, extra: &[&str]) -> Server {
        Self::start_in_with_env(dir, extra, &std::collections::HashMap::new())
    }

    /// Serves the plugins folder `dir` with extra environment variables.
    pub fn start_in_with_env(dir: &Path, extra: &[&str], env: &std::collections::HashMap<&str, &str>) -> Server {
        let mut command = berth();
        command
            .envs(env.iter())
            .arg("serve")
            .arg("--plugins")
            .arg(dir)
            .arg("--cache-dir")
            .arg(shared_cache())
            .args(["--listen", "127.0.0.1:0"])
            .args(extra);
        Self::spawn(command)
    }

    /// Runs `command` (a `berth serve`, possibly wrapped) until it says where it listens.
    pub fn spawn(mut command: Command) -> Server {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("spawn berth serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix("berth listening on ") {
                        break url.trim().to_owned();
                    }
                }
                _ => {
                    let status = child.wait().expect("wait");
                    panic!("berth serve exited before listening: {status}");
                }
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let base = url.trim_end_matches("/mcp").to_owned();
        Server { child, url, base, _plugins: None, _config: None }
    }

    /// Another process serving MCP at `http://127.0.0.1:port/mcp` (a load balancer in front
    /// of berth), once it listens; killed when dropped.
    pub fn other(name: &str, mut command: Command, port: u16) -> Server {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({e}): `make test` installs it"));
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{name} exited before listening: {status}");
            }
            assert!(std::time::Instant::now() < deadline, "{name} did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        let base = format!("http://127.0.0.1:{port}");
        Server { child, url: format!("{base}/mcp"), base, _plugins: None, _config: None }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `limit` for the server to exit; its status, if it did.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let started = std::time::Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// An HTTP client for this server.
    pub fn client(&self) -> reqwest::Client {
        http_client()
    }

    /// An HTTP client whose connections come from loopback address `127.0.0.<n>`:
    /// another source, as far as the server can tell.
    pub fn client_from(&self, n: u8) -> reqwest::Client {
        berth::install_crypto_provider();
        reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .local_address(std::net::IpAddr::from([127, 0, 0, n]))
            .build()
            .expect("client")
    }
}

/// An HTTP client with a 30 s timeout (reqwest needs berth's TLS provider installed first).
pub fn http_client() -> reqwest::Client {
    berth::install_crypto_provider();
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client")
}

/// The `_meta` envelope of a 2026-07-28 request.
pub fn envelope() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": { "name": "berth-tests", "version": "0" },
    })
}

/// A 2026-07-28 request body for `method` with `params` (envelope added).
pub fn modern_body(id: u64, method: &str, mut params: Value) -> Value {
    params["_meta"] = envelope();
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

/// A reply: HTTP status, headers, and the JSON-RPC message (from JSON or the last SSE event).
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    /// Every SSE event's message, in order (empty for JSON replies).
    pub events: Vec<Value>,
}

impl Reply {
    /// Reads a response: its status, headers, and JSON or SSE body.
    pub async fn read(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let is_sse = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let text = response.text().await.expect("body");
        if is_sse {
            let events: Vec<Value> = text
                .lines()
                .filter_map(|l| l.strip_prefix("data:").map(str::trim))
                .filter(|d| !d.is_empty())
                .map(|d| serde_json::from_str(d).expect("SSE data is JSON"))
                .collect();
            let body = events.last().cloned().unwrap_or(Value::Null);
            Reply { status, headers, body, events }
        } else if text.is_empty() {
            Reply { status, headers, body: Value::Null, events: Vec::new() }
        } else {
            let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("reply is not JSON ({e}): {text}"));
            Reply { status, headers, body, events: Vec::new() }
        }
    }

    /// `error.code` of a JSON-RPC error reply.
    pub fn error_code(&self) -> i64 {
        self.body["error"]["code"].as_i64().unwrap_or_else(|| panic!("not an error reply: {}", self.body))
    }
}

/// POSTs a 2026-07-28 request with correct routing headers.
pub async fn post_modern(server: &Server, body: &Value) -> Reply {
    Reply::read(modern_request(server, body).send().await.expect("send")).await
}

/// POSTs a 2026-07-28 request whose answer is an SSE stream (a listen, a call that reports).
pub async fn stream_modern(server: &Server, body: &Value) -> SseReader {
    SseReader::new(modern_request(server, body).send().await.expect("send"))
}

/// A 2026-07-28 request with correct routing headers (`Mcp-Name` from the name, URI or task id).
fn modern_request(server: &Server, body: &Value) -> reqwest::RequestBuilder {
    modern_request_from(&server.client(), &server.url, body)
}

/// [`modern_request`] sent with `client` (e.g. from another source address) to `url`.
pub fn modern_request_from(client: &reqwest::Client, url: &str, body: &Value) -> reqwest::RequestBuilder {
    let method = body["method"].as_str().unwrap_or_default();
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", MODERN)
        .header("mcp-method", method);
    let params = &body["params"];
    let name = params["name"].as_str().or_else(|| params["uri"].as_str()).or_else(|| params["taskId"].as_str());
    if let Some(name) = name {
        request = request.header("mcp-name", name);
    }
    request.json(body)
}

/// POSTs raw bytes with the given headers.
pub async fn post_raw(server: &Server, headers: &[(&str, &str)], body: impl Into<reqwest::Body>) -> Reply {
    let mut request = server.client().post(&server.url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Reply::read(request.body(body).send().await.expect("send")).await
}

/// Sends a request through a fresh 2026-07-28 call of tool `name` and returns the result object.
pub async fn call_tool(server: &Server, name: &str, arguments: Value) -> Value {
    let reply =
        post_modern(server, &modern_body(7, "tools/call", json!({ "name": name, "arguments": arguments }))).await;
    assert_eq!(reply.status, 200, "tools/call {name}: {}", reply.body);
    reply.body["result"].clone()
}

/// The names `tools/list` serves now, every page of them.
pub async fn tool_names(server: &Server) -> Vec<String> {
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let params = cursor.map_or(json!({}), |c| json!({ "cursor": c }));
        let list = post_modern(server, &modern_body(1, "tools/list", params)).await;
        let result = &list.body["result"];
        let tools = result["tools"].as_array().unwrap_or_else(|| panic!("tools/list failed: {}", list.body));
        names.extend(tools.iter().filter_map(|t| t["name"].as_str().map(str::to_owned)));
        match result["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return names,
        }
    }
}

/// Waits (up to 10 s) until the served tool names satisfy `check`.
pub async fn until_tools(server: &Server, check: impl Fn(&[String]) -> bool) -> Vec<String> {
    let mut names = Vec::new();
    for _ in 0..100 {
        names = tool_names(server).await;
        if check(&names) {
            return names;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the tool list never reached the expected state; last served: {names:?}");
}

/// The text of the first content item of a tool result.
pub fn first_text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or_else(|| panic!("no text content in {result}"))
}

/// A legacy `initialize` for 2025-11-25 sent with `client` (e.g. from another source
/// address), not followed by `notifications/initialized`: the reply, refusals included.
pub async fn legacy_initialize(server: &Server, client: &reqwest::Client) -> Reply {
    let body = json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": { "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "t", "version": "0" } }
    });
    let response = client
        .post(&server.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string())
        .send()
        .await
        .expect("initialize");
    Reply::read(response).await
}

/// The text `server` serves at `/metrics`.
pub async fn metrics_text(server: &Server) -> String {
    let response = server.client().get(format!("{}/metrics", server.base)).send().await.expect("metrics");
    response.text().await.expect("metrics text")
}

/// The value on the line of `text` for `series` (a metric's name with all its labels), if any.
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// A legacy session: initialized, with its id.
pub struct LegacySession<'a> {
    pub server: &'a Server,
    pub id: String,
    pub version: String,
}

impl<'a> LegacySession<'a> {
    /// Runs the `initialize` handshake for `version`.
    pub async fn open(server: &'a Server, version: &str) -> LegacySession<'a> {
        Self::open_with(server, version, json!({})).await
    }

    /// Runs the `initialize` handshake for `version`, declaring client `capabilities`.
    pub async fn open_with(server: &'a Server, version: &str, capabilities: Value) -> LegacySession<'a> {
        let body = json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": { "protocolVersion": version, "capabilities": capabilities, "clientInfo": { "name": "t", "version": "0" } }
        });
        let reply = post_raw(
            server,
            &[("content-type", "application/json"), ("accept", "application/json, text/event-stream")],
            body.to_string(),
        )
        .await;
        assert_eq!(reply.status, 200, "initialize: {}", reply.body);
        let id = reply.headers.get("mcp-session-id").expect("session id").to_str().expect("ascii").to_owned();
        let version = reply.body["result"]["protocolVersion"].as_str().expect("version").to_owned();
        let session = LegacySession { server, id, version };
        let initialized = session.post(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" })).await;
        assert_eq!(initialized.status, 202);
        session
    }

    /// Opens the session's GET event stream, resuming after `last_event_id` if given.
    pub async fn get_stream(&self, last_event_id: Option<&str>) -> reqwest::Response {
        let mut request = self
            .server
            .client()
            .get(&self.server.url)
            .header("accept", "text/event-stream")
            .header("mcp-session-id", &self.id);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        request.send().await.expect("GET the event stream")
    }

    /// POSTs `body` in this session, accepting JSON or SSE.
    pub async fn post(&self, body: &Value) -> Reply {
        self.post_accepting(body, "application/json, text/event-stream").await
    }

    /// POSTs `body` in this session, whose answer is an SSE stream.
    pub async fn stream(&self, body: &Value) -> SseReader {
        let response = self
            .server
            .client()
            .post(&self.server.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &self.id)
            .header("mcp-protocol-version", &self.version)
            .json(body)
            .send()
            .await
            .expect("send");
        SseReader::new(response)
    }

    /// POSTs `body` in this session with the given Accept header.
    pub async fn post_accepting(&self, body: &Value, accept: &str) -> Reply {
        post_raw(
            self.server,
            &[
                ("content-type", "application/json"),
                ("accept", accept),
                ("mcp-session-id", &self.id),
                ("mcp-protocol-version", &self.version),
            ],
            body.to_string(),
        )
        .await
    }
}

/// `berth stdio` as a child process, read and written line by line.
pub struct StdioServer {
    child: tokio::process::Child,
    stdin: Option<tokio::process::ChildStdin>,
    stdout: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    _plugins: tempfile::TempDir,
}

impl StdioServer {
    /// Starts `berth stdio` over the named bundled or fixture plugins.
    pub fn spawn(plugins: &[&str]) -> StdioServer {
        Self::spawn_with(plugins, &[])
    }

    /// Starts `berth stdio` over the named plugins, with extra arguments.
    pub fn spawn_with(plugins: &[&str], extra: &[&str]) -> StdioServer {
        use tokio::io::AsyncBufReadExt;
        let dir = plugin_dir(plugins);
        let mut child = tokio::process::Command::from(berth())
            .args(["stdio", "--cache-dir"])
            .arg(shared_cache())
            .arg("--plugins")
            .arg(dir.path())
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn berth stdio");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
        StdioServer { child, stdin: Some(stdin), stdout, _plugins: dir }
    }

    /// Writes raw bytes (a line should end in `\n`).
    pub async fn write(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(bytes).await.expect("write");
        stdin.flush().await.expect("flush");
    }

    /// Writes one message as a line.
    pub async fn send(&mut self, message: &Value) {
        self.write(format!("{message}\n").as_bytes()).await;
    }

    /// The next stdout line as JSON (stdout must carry nothing else), within 20 s.
    pub async fn reply(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(20), self.stdout.next_line())
            .await
            .expect("an answer in time")
            .expect("read")
            .expect("a line");
        serde_json::from_str(&line).expect("stdout carries JSON only")
    }

    /// Closes stdin and checks that the process exits cleanly.
    pub async fn finish(mut self) {
        drop(self.stdin.take());
        assert!(self.child.wait().await.expect("wait").success());
    }
}

/// Reads an SSE response one JSON-RPC message at a time, as it streams.
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
    /// The id of the last event read, for `Last-Event-ID`.
    pub last_id: Option<String>,
}

impl SseReader {
    /// Wraps a streaming response (which must be `text/event-stream`).
    pub fn new(response: reqwest::Response) -> Self {
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(content_type.starts_with("text/event-stream"), "expected SSE, got {content_type:?}");
        Self { response, buffer: String::new(), last_id: None }
    }

    /// The next message, or `None` when the stream ends. Events without data
    /// (priming) and comments are skipped.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                if let Some(id) = event.lines().find_map(|l| l.strip_prefix("id:")) {
                    self.last_id = Some(id.trim().to_owned());
                }
                let data: String =
                    event.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim).collect::<Vec<_>>().join("\n");
                if data.is_empty() {
                    continue;
                }
                return Some(
                    serde_json::from_str(&data).unwrap_or_else(|e| panic!("SSE data is not JSON ({e}): {data}")),
                );
            }
            match self.response.chunk().await.expect("read SSE") {
                Some(chunk) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                None => return None,
            }
        }
    }
}

/// A WebSocket client on a server's `/ws`.
pub struct WsClient {
    pub socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
}

/// What a WebSocket read produced.
#[derive(Debug)]
pub enum WsEvent {
    Message(Value),
    Close(Option<u16>, String),
    Ended,
}

impl WsClient {
    /// Connects to `server`'s `/ws`.
    pub async fn connect(server: &Server) -> WsClient {
        Self::connect_with(server, &[]).await.unwrap_or_else(|e| panic!("WebSocket connect failed: {e}"))
    }

    /// Connects with extra handshake headers; the handshake error, if refused.
    pub async fn connect_with(
        server: &Server,
        headers: &[(&str, &str)],
    ) -> Result<WsClient, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("{}/ws", server.base.replacen("http://", "ws://", 1));
        let mut request = url.into_client_request()?;
        for (name, value) in headers {
            request.headers_mut().insert(
                http::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                value.parse().expect("header value"),
            );
        }
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(WsClient { socket })
    }

    /// A handshake the server must refuse with `status` and a `Retry-After` (a limit or quota is full).
    pub async fn expect_refused(server: &Server, status: u16, why: &str) {
        match Self::connect_with(server, &[]).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), status, "{why}");
                assert!(response.headers().contains_key("retry-after"), "{why}: a refusal carries Retry-After");
            }
            Err(other) => panic!("{why}: expected HTTP {status}, got {other}"),
            Ok(_) => panic!("{why}: the socket opened"),
        }
    }

    /// Sends one JSON-RPC message as a text frame.
    pub async fn send(&mut self, message: &Value) {
        self.send_raw(tokio_tungstenite::tungstenite::Message::Text(message.to_string().into())).await;
    }

    /// Sends one frame as is.
    pub async fn send_raw(&mut self, frame: tokio_tungstenite::tungstenite::Message) {
        use futures_util::SinkExt;
        self.socket.send(frame).await.expect("WebSocket send");
    }

    /// The next message or close, skipping pings (up to 20 s).
    pub async fn next(&mut self) -> WsEvent {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(20), self.socket.next())
                .await
                .expect("WebSocket read timed out");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    return WsEvent::Message(serde_json::from_str(&text).expect("frame is JSON"));
                }
                Some(Ok(Message::Close(frame))) => {
                    return match frame {
                        Some(frame) => WsEvent::Close(Some(frame.code.into()), frame.reason.to_string()),
                        None => WsEvent::Close(None, String::new()),
                    };
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return WsEvent::Ended,
            }
        }
    }

    /// The next JSON-RPC message; panics on a close.
    pub async fn message(&mut self) -> Value {
        match self.next().await {
            WsEvent::Message(message) => message,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// The next message that has an `id` (skipping notifications).
    pub async fn reply(&mut self) -> Value {
        loop {
            let message = self.message().await;
            if message.get("id").is_some() {
                return message;
            }
        }
    }
}

/// Writes `text` on a fresh connection and reads the answer's status (0 if none
/// came within 10 s) and JSON-RPC error code.
pub async fn raw_http(server: &Server, text: &str) -> (u16, Option<i64>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server.base.trim_start_matches("http://")).await.expect("connect");
    stream.write_all(text.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buffer).await {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&answer);
            if let Some((head, body)) = text.split_once("\r\n\r\n")
                && (body.ends_with('}') || head.to_ascii_lowercase().contains("content-length: 0"))
            {
                break;
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let code = text
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str::<Value>(body).ok())
        .and_then(|body| body["error"]["code"].as_i64());
    (status, code)
}

/// A free loopback port (bound, then released for the caller to use).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

/// A server process a test runs beside berth (Redis, an OCI registry) on a loopback port;
/// it can be stopped and started again on the same port, and is killed when dropped.
pub struct Service {
    name: &'static str,
    pub port: u16,
    command: Box<dyn Fn() -> Command + Send>,
    child: Option<Child>,
}

impl Service {
    /// Starts `command` (which must listen on 127.0.0.1:`port`) and waits until it does.
    pub fn start(name: &'static str, port: u16, command: impl Fn() -> Command + Send + 'static) -> Service {
        let mut service = Service { name, port, command: Box::new(command), child: None };
        service.resume();
        service
    }

    /// Starts it again (same port and storage) and waits until it listens.
    pub fn resume(&mut self) {
        let child = (self.command)()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} ({e}): `make test` installs it", self.name));
        self.child = Some(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "{} did not listen on {}", self.name, self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}
