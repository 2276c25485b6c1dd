//! Settings of the WebSocket transport.

use serde::Deserialize;

/// Settings of the WebSocket transport at `/ws`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct WsConfig {
    /// Largest accepted message (one JSON-RPC message per text frame), in bytes.
    pub max_message_bytes: usize,
    /// Requests one connection may have running at once; more are refused
    /// with -32000 and a retry hint.
    pub max_in_flight_per_connection: usize,
    /// Seconds between the server's keep-alive pings; a peer that sends
    /// nothing (not even a pong) for two intervals is disconnected.
    pub ping_interval_secs: u64,
    /// Seconds a connection may stay open with no message and nothing running.
    pub idle_timeout_secs: u64,
    /// Messages queued for one connection before it counts as a slow consumer
    /// and is closed (code 1008).
    pub send_queue: usize,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: 4 * 1024 * 1024,
            max_in_flight_per_connection: 256,
            ping_interval_secs: 20,
            idle_timeout_secs: 300,
            send_queue: 1024,
        }
    }
}
