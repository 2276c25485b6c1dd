//! What one load run does: target, transport, connection ladder, loop shape,
//! tool mix, chaos. Built from `berth-load`'s command line.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};

/// How requests reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    /// Streamable HTTP, 2026-07-28: stateless POSTs, one in flight per connection.
    Http,
    /// Streamable HTTP, 2025-11-25 session era: `initialize` once per connection.
    Legacy,
    /// WebSocket `/ws`, 2026-07-28, many requests in flight per connection.
    Ws,
    /// Abuse (S13): every request is a legacy `initialize` whose session is never used.
    Sessions,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Http => "http",
            Transport::Legacy => "legacy",
            Transport::Ws => "ws",
            Transport::Sessions => "sessions",
        }
    }
}

/// One tool of the mix: its weight and the request arguments.
#[derive(Debug, Clone)]
pub struct MixEntry {
    pub tool: String,
    pub weight: u32,
    pub arguments: Value,
}

/// A whole run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub label: String,
    /// `http://host:port` of the server.
    pub base: String,
    pub addr: SocketAddr,
    /// `host:port` for the Host header.
    pub authority: String,
    pub transport: Transport,
    /// Connections held in each step; one entry for a plain run.
    pub ladder: Vec<usize>,
    /// How long each step lasts.
    pub step: Duration,
    /// Connections are opened over this long at the start of each step.
    pub ramp: Duration,
    /// Requests in flight per connection (WebSocket; HTTP/1.1 has one).
    pub in_flight: usize,
    /// Open loop: total requests per second; `None` is a closed loop.
    pub rate: Option<f64>,
    /// Hold connections and send nothing.
    pub idle: bool,
    pub mix: Vec<MixEntry>,
    pub token: Option<String>,
    /// Local source addresses connections are spread over (more ports).
    pub sources: Vec<IpAddr>,
    /// Process id of a local server, sampled from /proc.
    pub server_pid: Option<u32>,
    /// How long a request may take before it counts as timed out.
    pub timeout: Duration,
    /// Chaos: every this long, `disconnect_fraction` of connections drop mid-call.
    pub disconnect_every: Option<Duration>,
    pub disconnect_fraction: f64,
    /// WebSocket: storms close chosen connections between calls (churn) instead of mid-call.
    pub churn: bool,
    /// Chaos: every this long, `reload_file` is rewritten in place (hot reload).
    pub reload_every: Option<Duration>,
    pub reload_file: Option<PathBuf>,
}

impl Plan {
    /// The total time the run sends requests.
    pub fn duration(&self) -> Duration {
        self.step * self.ladder.len() as u32
    }

    /// Resolves `url` (`http://host:port`, any path is ignored).
    pub fn target(url: &str) -> Result<(String, SocketAddr, String), String> {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("ws://"))
            .ok_or_else(|| format!("--url must start with http:// or ws://, not {url:?}"))?;
        let authority = rest.split('/').next().unwrap_or(rest).to_owned();
        let addr = authority
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {authority}: {e}"))?
            .next()
            .ok_or_else(|| format!("{authority} resolves to nothing"))?;
        if !addr.ip().is_loopback() {
            return Err(format!("berth-load only drives servers on loopback (got {addr}): load tests stay local"));
        }
        Ok((format!("http://{authority}"), addr, authority))
    }
}

/// Default arguments of the scenario tools: `echo` gets 64 bytes, `hash` 4 KiB.
pub fn default_arguments(tool: &str) -> Value {
    match tool {
        "echo" => json!({ "text": "x".repeat(64) }),
        "hash" => json!({ "text": "x".repeat(4096) }),
        _ => json!({}),
    }
}

/// Parses `echo=98,faulty_trap=1` (weights default to 1) with per-tool argument overrides.
pub fn parse_mix(text: &str, overrides: &[(String, Value)]) -> Result<Vec<MixEntry>, String> {
    let mut mix = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (tool, weight) = match part.split_once('=') {
            Some((tool, weight)) => {
                (tool.trim(), weight.trim().parse::<u32>().map_err(|_| format!("bad weight in --mix {part:?}"))?)
            }
            None => (part, 1),
        };
        if weight == 0 {
            continue;
        }
        let arguments = overrides
            .iter()
            .find(|(name, _)| name == tool)
            .map(|(_, args)| args.clone())
            .unwrap_or_else(|| default_arguments(tool));
        mix.push(MixEntry { tool: tool.to_owned(), weight, arguments });
    }
    if mix.is_empty() {
        return Err("--mix names no tool".into());
    }
    Ok(mix)
}

/// Picks mix entries by weight, spreading them evenly (a deterministic sequence).
#[derive(Debug, Clone)]
pub struct Picker {
    cumulative: Vec<u32>,
    total: u32,
    state: u64,
}

impl Picker {
    pub fn new(mix: &[MixEntry], seed: u64) -> Self {
        let mut sum = 0;
        let cumulative = mix
            .iter()
            .map(|m| {
                sum += m.weight;
                sum
            })
            .collect();
        Self { cumulative, total: sum, state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1 }
    }

    /// The index of the next entry.
    pub fn pick(&mut self) -> usize {
        // xorshift64*: cheap, and good enough to spread a mix.
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let roll = (self.state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as u32 % self.total.max(1);
        self.cumulative.iter().position(|c| roll < *c).unwrap_or(0)
    }
}

/// The bytes of a 2026-07-28 `tools/call` of `entry` with `id`.
pub fn modern_call(entry: &MixEntry, id: u64) -> Bytes {
    Bytes::from(
        json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {
                "name": entry.tool, "arguments": entry.arguments,
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientCapabilities": {},
                },
            },
        })
        .to_string(),
    )
}

/// The bytes of a legacy `tools/call` of `entry` with `id`.
pub fn legacy_call(entry: &MixEntry, id: u64) -> Bytes {
    Bytes::from(
        json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": { "name": entry.tool, "arguments": entry.arguments },
        })
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_picker_follows_the_weights() {
        let mix = parse_mix("a=90,b=10", &[]).expect("mix");
        let mut picker = Picker::new(&mix, 7);
        let b = (0..10_000).filter(|_| picker.pick() == 1).count();
        assert!((800..1200).contains(&b), "b picked {b} times of 10,000");
    }

    #[test]
    fn only_loopback_targets_are_accepted() {
        assert!(Plan::target("http://127.0.0.1:8080/mcp").is_ok());
        assert!(Plan::target("http://10.1.2.3:8080").is_err());
        assert!(Plan::target("ftp://127.0.0.1").is_err());
    }
}
