//! berth-coldstart: time from starting `berth serve` to its first answered
//! `tools/call`, with the compiled-plugin cache warm (one unmeasured start
//! fills it first). Prints the median and the worst of `--runs` starts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;

/// Cold start of berth: process start → listening → first `echo` answer.
#[derive(Debug, Parser)]
#[command(name = "berth-coldstart")]
struct Args {
    /// The berth binary to start.
    #[arg(long)]
    berth: PathBuf,
    /// The plugins folder (must hold echo.wasm).
    #[arg(long)]
    plugins: PathBuf,
    /// The compiled-plugin cache folder (filled by an unmeasured first start).
    #[arg(long, default_value = "/tmp/berth-coldstart-cache")]
    cache_dir: PathBuf,
    /// Measured starts.
    #[arg(long, default_value_t = 10)]
    runs: usize,
}

/// One start: (time to the listening line, time to the first answer).
fn start_once(args: &Args) -> Result<(Duration, Duration), String> {
    let started = Instant::now();
    let mut child = Command::new(&args.berth)
        .args(["serve", "--listen", "127.0.0.1:0", "--no-watch", "--log", "warn", "--plugins"])
        .arg(&args.plugins)
        .arg("--cache-dir")
        .arg(&args.cache_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", args.berth.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut url = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| e.to_string())?;
        if let Some(found) = line.strip_prefix("berth listening on ") {
            url = Some(found.trim().to_owned());
            break;
        }
    }
    let listening = started.elapsed();
    let outcome = match url {
        Some(url) => first_answer(&url).map(|()| (listening, started.elapsed())),
        None => Err("berth exited before listening".into()),
    };
    let _ = child.kill();
    let _ = child.wait();
    outcome
}

/// One 2026-07-28 `tools/call echo` over a fresh connection; Ok when it answered 200.
fn first_answer(url: &str) -> Result<(), String> {
    let authority = url.trim_start_matches("http://").trim_end_matches("/mcp");
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"cold"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nAccept: application/json\r\n\
         MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: echo\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(authority).map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| e.to_string())?;
    if response.starts_with("HTTP/1.1 200") && response.contains("\"text\":\"cold\"") {
        Ok(())
    } else {
        Err(format!("unexpected answer: {}", response.lines().next().unwrap_or("")))
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = start_once(&args) {
        eprintln!("berth-coldstart: warm-up start failed: {e}");
        return ExitCode::FAILURE;
    }
    let mut listening = Vec::new();
    let mut answered = Vec::new();
    for _ in 0..args.runs.max(1) {
        match start_once(&args) {
            Ok((listen, answer)) => {
                listening.push(listen);
                answered.push(answer);
            }
            Err(e) => {
                eprintln!("berth-coldstart: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    listening.sort();
    answered.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "cold start over {} runs (cache warm): listening p50 {:.1} ms, first answer p50 {:.1} ms, worst {:.1} ms",
        answered.len(),
        ms(listening[listening.len() / 2]),
        ms(answered[answered.len() / 2]),
        ms(answered[answered.len() - 1]),
    );
    ExitCode::SUCCESS
}
