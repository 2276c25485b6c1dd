//! Malformed and hostile input across HTTP, WebSocket and stdio: a table of
//! cases, each with the exact status and JSON-RPC code expected, and the
//! server still healthy after all of them.

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

const PARSE: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const BUSY: i64 = -32000;
const HEADER_MISMATCH: i64 = -32020;
const UNSUPPORTED_VERSION: i64 = -32022;

/// A request body nested `depth` arrays deep inside the tool arguments.
fn deep(depth: usize) -> Vec<u8> {
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"echo","arguments":{{"text":{nested}}}}}}}"#
    )
    .into_bytes()
}

/// A JSON string holding bytes that are not UTF-8.
fn invalid_utf8() -> Vec<u8> {
    let mut body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"x":""#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
    body.extend_from_slice(br#""}}"#);
    body
}

fn modern(id: Value, method: &str, params: Value) -> Value {
    let mut body = modern_body(1, method, params);
    body["id"] = id;
    body
}

/// What one HTTP case sends.
enum Probe {
    /// POST /mcp with these headers and body.
    Post(Vec<(&'static str, String)>, Vec<u8>),
    /// Another HTTP method on /mcp.
    Method(&'static str, Vec<(&'static str, String)>),
    /// Raw bytes on a new TCP connection.
    Raw(String),
}

/// Headers of a well-formed 2026-07-28 POST for `method` (and `name`).
fn modern_headers(method: &str, name: Option<&str>) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("content-type", "application/json".to_owned()),
        ("accept", "application/json, text/event-stream".to_owned()),
        ("mcp-protocol-version", MODERN.to_owned()),
        ("mcp-method", method.to_owned()),
    ];
    if let Some(name) = name {
        headers.push(("mcp-name", name.to_owned()));
    }
    headers
}

fn plain_json() -> Vec<(&'static str, String)> {
    vec![("content-type", "application/json".to_owned())]
}

fn post(headers: Vec<(&'static str, String)>, body: impl Into<Vec<u8>>) -> Probe {
    Probe::Post(headers, body.into())
}

fn modern_post(method: &str, name: Option<&str>, body: &Value) -> Probe {
    post(modern_headers(method, name), body.to_string())
}

/// The HTTP table: name, probe, expected status, expected JSON-RPC code.
fn http_cases(addr: &str) -> Vec<(&'static str, Probe, u16, Option<i64>)> {
    let list = modern(json!(1), "tools/list", json!({}));
    let call = |arguments: Value| modern(json!(1), "tools/call", json!({ "name": "echo", "arguments": arguments }));
    let mut wrong_version = list.clone();
    wrong_version["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("1999-01-01");
    let mut wrong_version_headers = modern_headers("tools/list", None);
    wrong_version_headers[2].1 = "1999-01-01".to_owned();
    let mut contradicting_version = modern_headers("tools/list", None);
    contradicting_version[2].1 = "2025-11-25".to_owned();
    let huge_string =
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{"s":"{}"}}}}"#, "x".repeat(10 << 20));
    vec![
        ("truncated JSON", post(plain_json(), r#"{"jsonrpc":"2.0","id":1,"method":"tools/li"#), 400, Some(PARSE)),
        ("empty body", post(plain_json(), ""), 400, Some(PARSE)),
        ("not JSON at all", post(plain_json(), "hello"), 400, Some(PARSE)),
        ("trailing garbage", post(plain_json(), format!("{list}}}")), 400, Some(PARSE)),
        ("batch array", post(plain_json(), format!("[{list}]")), 400, Some(INVALID_REQUEST)),
        ("empty batch", post(plain_json(), "[]"), 400, Some(INVALID_REQUEST)),
        ("bare number", post(plain_json(), "42"), 400, Some(INVALID_REQUEST)),
        ("bare string", post(plain_json(), r#""tools/list""#), 400, Some(INVALID_REQUEST)),
        (
            "jsonrpc 1.0",
            post(plain_json(), r#"{"jsonrpc":"1.0","id":1,"method":"tools/list"}"#),
            400,
            Some(INVALID_REQUEST),
        ),
        ("missing jsonrpc", post(plain_json(), r#"{"id":1,"method":"tools/list"}"#), 400, Some(INVALID_REQUEST)),
        (
            "method is a number",
            post(plain_json(), r#"{"jsonrpc":"2.0","id":1,"method":7}"#),
            400,
            Some(INVALID_REQUEST),
        ),
        (
            "id is an object",
            post(plain_json(), r#"{"jsonrpc":"2.0","id":{},"method":"tools/list"}"#),
            400,
            Some(INVALID_REQUEST),
        ),
        (
            "id is null",
            post(plain_json(), r#"{"jsonrpc":"2.0","id":null,"method":"tools/list"}"#),
            400,
            Some(INVALID_REQUEST),
        ),
        (
            "params is an array",
            post(plain_json(), r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":[1]}"#),
            400,
            Some(INVALID_REQUEST),
        ),
        ("no method, no result", post(plain_json(), r#"{"jsonrpc":"2.0","id":1}"#), 400, Some(INVALID_REQUEST)),
        (
            "huge integer id",
            modern_post("tools/list", None, &modern(json!(u64::MAX), "tools/list", json!({}))),
            200,
            None,
        ),
        (
            "100 KB string id",
            modern_post("tools/list", None, &modern(json!("i".repeat(100_000)), "tools/list", json!({}))),
            200,
            None,
        ),
        ("nesting 100,000 deep", post(modern_headers("tools/call", Some("echo")), deep(100_000)), 400, Some(PARSE)),
        ("invalid UTF-8 in a string", post(plain_json(), invalid_utf8()), 400, Some(PARSE)),
        ("10 MB string", post(plain_json(), huge_string), 413, Some(INVALID_REQUEST)),
        (
            "text/plain body",
            post(vec![("content-type", "text/plain".to_owned())], list.to_string()),
            415,
            Some(INVALID_REQUEST),
        ),
        (
            "Accept: text/html only",
            post(
                vec![("content-type", "application/json".to_owned()), ("accept", "text/html".to_owned())],
                list.to_string(),
            ),
            406,
            Some(INVALID_REQUEST),
        ),
        (
            "unknown method",
            modern_post("tools/explode", None, &modern(json!(1), "tools/explode", json!({}))),
            404,
            Some(METHOD_NOT_FOUND),
        ),
        (
            "Mcp-Method contradicts the body",
            post(modern_headers("tools/call", None), list.to_string()),
            400,
            Some(HEADER_MISMATCH),
        ),
        (
            "MCP-Protocol-Version contradicts _meta",
            post(contradicting_version, list.to_string()),
            400,
            Some(HEADER_MISMATCH),
        ),
        (
            "Mcp-Name contradicts the body",
            post(modern_headers("tools/call", Some("other")), call(json!({"text": "x"})).to_string()),
            400,
            Some(HEADER_MISMATCH),
        ),
        (
            "unsupported protocol version",
            post(wrong_version_headers, wrong_version.to_string()),
            400,
            Some(UNSUPPORTED_VERSION),
        ),
        (
            "no _meta and no session",
            post(plain_json(), r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#),
            400,
            Some(INVALID_PARAMS),
        ),
        (
            "unknown session id",
            post(
                vec![("content-type", "application/json".to_owned()), ("mcp-session-id", "no-such-session".to_owned())],
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
            ),
            404,
            Some(INVALID_REQUEST),
        ),
        (
            "tools/call arguments is a string",
            modern_post("tools/call", Some("echo"), &call(json!("text"))),
            400,
            Some(INVALID_PARAMS),
        ),
        (
            "tools/call without a name",
            modern_post("tools/call", None, &modern(json!(1), "tools/call", json!({ "arguments": {} }))),
            400,
            Some(INVALID_PARAMS),
        ),
        (
            "tools/call name is a number",
            modern_post("tools/call", None, &modern(json!(1), "tools/call", json!({ "name": 5 }))),
            400,
            Some(INVALID_PARAMS),
        ),
        (
            "unknown tool",
            modern_post(
                "tools/call",
                Some("nope"),
                &modern(json!(1), "tools/call", json!({ "name": "nope", "arguments": {} })),
            ),
            400,
            Some(INVALID_PARAMS),
        ),
        (
            "response without a session",
            post(plain_json(), r#"{"jsonrpc":"2.0","id":5,"result":{}}"#),
            400,
            Some(INVALID_REQUEST),
        ),
        (
            "notification to an unknown session",
            post(
                vec![("content-type", "application/json".to_owned()), ("mcp-session-id", "gone".to_owned())],
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            ),
            404,
            Some(INVALID_REQUEST),
        ),
        (
            "foreign Origin",
            post(
                vec![("content-type", "application/json".to_owned()), ("origin", "https://evil.example".to_owned())],
                list.to_string(),
            ),
            403,
            Some(INVALID_REQUEST),
        ),
        (
            "rebinding Host",
            post(
                vec![("content-type", "application/json".to_owned()), ("host", "evil.example".to_owned())],
                list.to_string(),
            ),
            403,
            Some(INVALID_REQUEST),
        ),
        ("DELETE without a session", Probe::Method("DELETE", vec![]), 405, Some(INVALID_REQUEST)),
        (
            "GET without a session",
            Probe::Method("GET", vec![("accept", "text/event-stream".to_owned())]),
            405,
            Some(INVALID_REQUEST),
        ),
        ("PUT", Probe::Method("PUT", vec![]), 405, None),
        (
            "slowloris: body stops short of Content-Length",
            Probe::Raw(format!(
                "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"jsonrpc\""
            )),
            504,
            Some(BUSY),
        ),
        (
            "Content-Length is not a number",
            Probe::Raw(format!(
                "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: lots\r\n\r\n{{}}"
            )),
            400,
            None,
        ),
        (
            "header line without a colon",
            Probe::Raw(format!("POST /mcp HTTP/1.1\r\nHost: {addr}\r\nthis is not a header\r\n\r\n")),
            400,
            None,
        ),
    ]
}

/// Sends `probe`; the status and the JSON-RPC error code of the answer.
async fn send(server: &Server, probe: Probe) -> (u16, Option<i64>) {
    let client = server.client();
    let response = match probe {
        Probe::Post(headers, body) => {
            let mut request = client.post(&server.url);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            request.body(body).send().await.expect("send")
        }
        Probe::Method(method, headers) => {
            let mut request = client.request(method.parse().expect("method"), &server.url);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            request.send().await.expect("send")
        }
        Probe::Raw(text) => return raw_http(server, &text).await,
    };
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["error"]["code"].as_i64())
}

#[tokio::test]
async fn hostile_http_requests_get_their_exact_status_and_code() {
    let server = Server::with_config(&["echo"], "[http]\nrequest_timeout_secs = 2\n");
    let addr = server.base.trim_start_matches("http://").to_owned();
    let cases = http_cases(&addr);
    assert!(cases.len() >= 40, "the table holds {} cases", cases.len());
    let mut wrong = Vec::new();
    for (name, probe, status, code) in cases {
        let got = send(&server, probe).await;
        if got != (status, code) {
            wrong.push(format!("{name}: expected {status} {code:?}, got {} {:?}", got.0, got.1));
        }
    }
    assert!(wrong.is_empty(), "cases answered wrongly:\n{}", wrong.join("\n"));
    let health = server.client().get(format!("{}/healthz", server.base)).send().await.expect("healthz");
    assert_eq!(health.status(), 200);
    assert_eq!(first_text(&call_tool(&server, "echo", json!({ "text": "still fine" })).await), "still fine");
}

/// WebSocket frames and the error code each must get back on the same socket.
fn ws_cases() -> Vec<(&'static str, Message, i64)> {
    let text = |s: String| Message::Text(s.into());
    let list = modern(json!(1), "tools/list", json!({}));
    let mut unsupported = list.clone();
    unsupported["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("1999-01-01");
    vec![
        ("truncated JSON", text(r#"{"jsonrpc":"2.0","id":1,"meth"#.into()), PARSE),
        ("not JSON", text("hello".into()), PARSE),
        ("batch array", text(format!("[{list}]")), INVALID_REQUEST),
        ("binary frame", Message::Binary(list.to_string().into_bytes().into()), INVALID_REQUEST),
        ("binary frame of invalid UTF-8", Message::Binary(vec![0xff, 0xfe, 0x00].into()), INVALID_REQUEST),
        ("nesting 20,000 deep", text(String::from_utf8(deep(20_000)).expect("ascii")), PARSE),
        ("unknown method", text(modern(json!(2), "tools/explode", json!({})).to_string()), METHOD_NOT_FOUND),
        (
            "no _meta before initialize",
            text(r#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#.into()),
            INVALID_PARAMS,
        ),
        ("unsupported protocol version", text(unsupported.to_string()), UNSUPPORTED_VERSION),
        (
            "tools/call name is a number",
            text(modern(json!(4), "tools/call", json!({ "name": 5 })).to_string()),
            INVALID_PARAMS,
        ),
        ("jsonrpc 1.0", text(r#"{"jsonrpc":"1.0","id":5,"method":"tools/list"}"#.into()), INVALID_REQUEST),
        ("id is an object", text(r#"{"jsonrpc":"2.0","id":{},"method":"tools/list"}"#.into()), INVALID_REQUEST),
    ]
}

#[tokio::test]
async fn hostile_websocket_frames_get_errors_and_the_socket_stays_usable() {
    let server = Server::with_config(&["echo"], "[ws]\nmax_message_bytes = 65536\n");
    let mut ws = WsClient::connect(&server).await;
    let mut wrong = Vec::new();
    for (name, frame, code) in ws_cases() {
        ws.send_raw(frame).await;
        let reply = ws.message().await;
        if reply["error"]["code"].as_i64() != Some(code) {
            wrong.push(format!("{name}: expected {code}, got {reply}"));
        }
    }
    assert!(wrong.is_empty(), "frames answered wrongly:\n{}", wrong.join("\n"));
    // Notifications and stray responses get no answer; the next request does.
    ws.send(&json!({ "jsonrpc": "2.0", "method": "notifications/whatever", "params": {} })).await;
    ws.send(&json!({ "jsonrpc": "2.0", "id": "never-asked", "result": {} })).await;
    ws.send(&modern(json!("after"), "tools/call", json!({ "name": "echo", "arguments": { "text": "ok" } }))).await;
    let reply = ws.message().await;
    assert_eq!(reply["id"], "after");
    assert_eq!(reply["result"]["content"][0]["text"], "ok");
    // A message over the limit closes only that socket, with 1009.
    ws.send_raw(Message::Text("x".repeat(100_000).into())).await;
    match ws.next().await {
        WsEvent::Close(code, _) => assert_eq!(code, Some(1009)),
        other => panic!("expected a 1009 close, got {other:?}"),
    }
    let mut fresh = WsClient::connect(&server).await;
    fresh.send(&modern(json!(9), "tools/list", json!({}))).await;
    assert_eq!(fresh.reply().await["result"]["tools"][0]["name"], "echo");
}

#[tokio::test]
async fn hostile_stdio_lines_get_errors_and_the_process_keeps_serving() {
    let mut stdio = StdioServer::spawn(&["echo"]);
    let mut oversized = vec![b'x'; 5 << 20];
    oversized.push(b'\n');
    let cases: Vec<(&str, Vec<u8>, i64)> = vec![
        ("truncated JSON", b"{\"jsonrpc\":\"2.0\",\"id\":1,\n".to_vec(), PARSE),
        ("not JSON", b"hello\n".to_vec(), PARSE),
        ("batch array", format!("[{}]\n", modern(json!(1), "tools/list", json!({}))).into_bytes(), INVALID_REQUEST),
        ("invalid UTF-8", [invalid_utf8(), b"\n".to_vec()].concat(), PARSE),
        ("nesting 100,000 deep", [deep(100_000), b"\n".to_vec()].concat(), PARSE),
        ("a line over 4 MiB", oversized, INVALID_REQUEST),
        (
            "unknown method",
            format!("{}\n", modern(json!(2), "tools/explode", json!({}))).into_bytes(),
            METHOD_NOT_FOUND,
        ),
        ("id is an object", b"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"tools/list\"}\n".to_vec(), INVALID_REQUEST),
    ];
    let mut wrong = Vec::new();
    for (name, bytes, code) in cases {
        stdio.write(&bytes).await;
        let reply = stdio.reply().await;
        if reply["error"]["code"].as_i64() != Some(code) {
            wrong.push(format!("{name}: expected {code}, got {reply}"));
        }
    }
    assert!(wrong.is_empty(), "lines answered wrongly:\n{}", wrong.join("\n"));
    let call = modern(json!("last"), "tools/call", json!({ "name": "echo", "arguments": { "text": "alive" } }));
    stdio.send(&call).await;
    assert_eq!(stdio.reply().await["result"]["content"][0]["text"], "alive");
    stdio.finish().await;
}
