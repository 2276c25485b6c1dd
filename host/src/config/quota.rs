//! Per-source quotas: how much of the server one client may hold, so one
//! abusive client cannot lock the others out.
//!
//! A source is the bearer token's subject when auth is on, else the peer
//! address (the client's address as a trusted proxy reports it, when the peer
//! is one). Every quota is a count one source may hold at once; 0 turns that
//! quota off. The request rate is off unless set.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;

use crate::error::{Error, Result};

/// What one source may hold at once, and how fast it may send.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct QuotaConfig {
    /// Legacy sessions one source may hold (HTTP `initialize`).
    pub sessions: usize,
    /// TCP connections (HTTP keep-alive and WebSocket) from one address.
    /// Trusted proxies are exempt: they carry many clients.
    pub connections: usize,
    /// Event streams (GET, `subscriptions/listen`) and WebSocket connections one source may hold open.
    pub streams: usize,
    /// Requests one source may have running at once.
    pub in_flight: usize,
    /// Tasks (background tool calls) one source may hold, finished ones included until they expire.
    pub tasks: usize,
    /// Requests per second one source may send on average (token bucket); 0 means no rate limit.
    pub requests_per_sec: u32,
    /// Requests a source may send at once above that rate (the bucket's size) [default: one second's worth].
    pub burst: u32,
    /// Milliseconds an over-quota answer (HTTP 429) is held before it is sent, so a
    /// client that retries at once, ignoring `Retry-After`, cannot spin on
    /// refusals; the wait holds only its connection (0: answer at once).
    pub refusal_delay_ms: u64,
    /// Addresses or CIDR ranges of proxies in front of berth (e.g. HAProxy). A request
    /// whose peer is one of them is counted against the client address in
    /// `Forwarded` or `X-Forwarded-For`; those headers are ignored from anyone else.
    pub trusted_proxies: Vec<String>,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        Self {
            sessions: 1_000,
            connections: 1_024,
            streams: 1_000,
            in_flight: 1_000,
            tasks: 100,
            requests_per_sec: 0,
            burst: 0,
            refusal_delay_ms: 250,
            trusted_proxies: Vec::new(),
        }
    }
}

impl QuotaConfig {
    /// The trusted proxies as networks; an error names the entry that does not parse.
    pub fn trusted_networks(&self) -> Result<Vec<IpNet>> {
        self.trusted_proxies
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry.parse::<IpNet>().or_else(|_| entry.parse::<IpAddr>().map(IpNet::from)).map_err(|_| {
                    Error::Config(format!(
                        "quota.trusted_proxies: {entry:?} is neither an IP address nor a CIDR range (like 10.0.0.0/8)"
                    ))
                })
            })
            .collect()
    }

    /// The token bucket's size: `burst`, else one second's worth of the rate.
    pub fn bucket(&self) -> u32 {
        if self.burst > 0 { self.burst } else { self.requests_per_sec }
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<()> {
        self.trusted_networks()?;
        if self.refusal_delay_ms > 10_000 {
            return Err(Error::Config("quota.refusal_delay_ms is at most 10000 (10 s)".into()));
        }
        if self.burst > 0 && self.requests_per_sec == 0 {
            return Err(Error::Config("quota.burst needs quota.requests_per_sec (the rate it is a burst of)".into()));
        }
        Ok(())
    }
}
