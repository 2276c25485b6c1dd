//! Per-source quotas: how much of the server one client may hold, so one
//! abusive client cannot lock the others out.
//!
//! A source is the bearer token's subject when auth is on, else the peer
//! address (the client's address as a trusted proxy reports it, when the peer
//! is one). Every quota is a count one source may hold at once; 0 turns that
//! quota off. The request rate is off unless set.

use std::collections::BTreeMap;
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
    /// With several sources active, serve each at most its share of the server's measured
    /// capacity, pacing (not refusing) a source above it; alone, a source is never paced.
    pub pace_to_share: bool,
    /// Per-identity overrides, by the name of a static token (`[quota.identities.batch]`):
    /// a batch identity may get a higher rate than an interactive one.
    pub identities: BTreeMap<String, QuotaOverride>,
}

/// What one named identity may hold and send instead of the defaults; unset fields keep them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct QuotaOverride {
    /// Requests per second (0: no rate limit for this identity).
    pub requests_per_sec: Option<u32>,
    /// The burst above that rate [default: one second's worth].
    pub burst: Option<u32>,
    /// Requests it may have running at once (0: no cap).
    pub in_flight: Option<usize>,
    /// Event streams and WebSocket connections it may hold open (0: no cap).
    pub streams: Option<usize>,
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
            pace_to_share: true,
            identities: BTreeMap::new(),
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
        for (name, over) in &self.identities {
            let rate = over.requests_per_sec.unwrap_or(self.requests_per_sec);
            if over.burst.is_some_and(|b| b > 0) && rate == 0 {
                return Err(Error::Config(format!(
                    "quota.identities.{name}.burst needs a requests_per_sec (the rate it is a burst of)"
                )));
            }
        }
        Ok(())
    }
}
