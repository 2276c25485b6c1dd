//! The bare-wasmtime anchors `make compare` and `benches/languages.sh` measure berth against:
//! `berth-floor-wasm` must answer as the floor does, with the component's own text, and
//! `berth-bare` must time a real call and refuse bad arguments. Needs `make plugins`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// The bundled `echo` component.
fn echo_wasm() -> std::path::PathBuf {
    berth_benches::plugins_dir().join("echo.wasm")
}

/// A running `berth-floor-wasm`, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(isolation: &str) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth-floor-wasm"))
        .arg(isolation)
        .stdout(Stdio::piped())
        .spawn()
        .expect("berth-floor-wasm starts");
    let stdout = child.stdout.take().expect("its stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("it prints its URL");
    let url = line.split_whitespace().last().unwrap_or_default().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "unexpected first line: {line:?}");
    Server { child, url }
}

/// POSTs `body` to the server's `/mcp` on a connection of its own; the status and the JSON answer.
fn post(url: &str, body: &str) -> (u16, Value) {
    let address = url.trim_start_matches("http://").trim_end_matches("/mcp");
    let mut stream = TcpStream::connect(address).expect("the server accepts");
    let request = format!(
        "POST /mcp HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("the request is sent");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("the answer is read");
    let (head, json) = answer.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).expect("a status");
    (status, serde_json::from_str(json).expect("a JSON body"))
}

#[test]
fn the_wasm_floor_answers_echo_with_the_components_text_in_both_isolations() {
    for isolation in ["fresh", "warm"] {
        let server = start(isolation);
        // Twice, so a warm instance is taken back and used again.
        for id in [1, 2] {
            let text = format!("quote \" and unicode é, call {id}");
            let request = json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call",
                "params": { "name": "echo", "arguments": { "text": text } } });
            let (status, answer) = post(&server.url, &request.to_string());
            assert_eq!(status, 200, "{isolation}: {answer}");
            assert_eq!(answer["id"], id, "{isolation}: {answer}");
            assert_eq!(answer["result"]["content"][0]["text"], text, "{isolation}: {answer}");
        }
        let (status, answer) = post(&server.url, r#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#);
        assert_eq!((status, answer["error"]["code"].clone()), (200, json!(-32601)), "{isolation}: {answer}");
        let (status, answer) = post(&server.url, "not json");
        assert_eq!((status, answer["error"]["code"].clone()), (400, json!(-32700)), "{isolation}: {answer}");
    }
}

#[test]
fn berth_bare_times_fresh_and_warm_calls_of_a_real_tool() {
    let output = Command::new(env!("CARGO_BIN_EXE_berth-bare"))
        .arg(echo_wasm())
        .args(["echo", r#"{"text":"hello"}"#, "20", "2", "--json"])
        .output()
        .expect("berth-bare runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let figures: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(figures["calls"], 20);
    for isolation in ["fresh_us", "warm_us"] {
        let (p50, p99) = (figures[isolation]["p50"].as_f64(), figures[isolation]["p99"].as_f64());
        assert!(matches!((p50, p99), (Some(a), Some(b)) if a > 0.0 && b >= a), "{isolation}: {figures}");
    }
}

#[test]
fn berth_bare_refuses_a_tool_the_plugin_lacks_and_bad_arguments() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_berth-bare")).arg(echo_wasm()).args(args).output().expect("berth-bare runs")
    };
    let missing = run(&["no_such_tool", "{}", "1", "0"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no_such_tool"), "{missing:?}");
    let not_json = run(&["echo", "{not json"]);
    assert_eq!(not_json.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&not_json.stderr).contains("not JSON"), "{not_json:?}");
    let bad_count = run(&["echo", "{}", "many"]);
    assert_eq!(bad_count.status.code(), Some(2));
}
