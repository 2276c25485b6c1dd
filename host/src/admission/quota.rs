//! Per-source quotas: what one client holds right now (connections, streams,
//! running requests) and how fast it sends, so that one abusive client
//! runs into its own limits long before the server's.
//!
//! A source is a `Requester` key (see `requester`): a named token's name,
//! a token's digest or subject, else an address. A named identity may have
//! limits of its own (`[quota.identities.<name>]`). Counts live in a sharded map of atomics (no
//! lock shared by every request); a source's entry goes away once it holds
//! nothing ([`Quotas::sweep`]). The rate limit is a keyed GCRA token bucket
//! (`governor`), whose memory is bounded the same way.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::limit::{Limit, OverQuota};
use super::pace::{Pacer, SourcePace};
use crate::config::QuotaConfig;
use dashmap::DashMap;
use governor::clock::Clock as _;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use std::collections::HashMap;

/// What one source holds now.
#[derive(Default)]
struct SourceUse {
    connections: AtomicUsize,
    streams: AtomicUsize,
    in_flight: AtomicUsize,
    pace: SourcePace,
}

impl SourceUse {
    fn is_empty(&self) -> bool {
        self.connections.load(Ordering::Relaxed) == 0
            && self.streams.load(Ordering::Relaxed) == 0
            && self.in_flight.load(Ordering::Relaxed) == 0
    }
}

/// Which count a [`Held`] unit belongs to.
#[derive(Clone, Copy)]
enum Kind {
    Connection,
    Stream,
    Request,
}

/// Every source's use, the limits, and the refusals so far.
pub(crate) struct Quotas {
    connections: usize,
    streams: usize,
    in_flight: usize,
    sources: DashMap<Arc<str>, Arc<SourceUse>>,
    /// Sources with at least one request running.
    active: AtomicUsize,
    rate: Option<DefaultKeyedRateLimiter<Arc<str>>>,
    requests_per_sec: u32,
    /// The retry hint of a refusal by a count (a rate refusal knows its own wait).
    retry_after: Duration,
    refusal_delay: Duration,
    refused: [AtomicU64; Limit::ALL.len()],
    /// Limits of named identities that differ from the defaults, by source key (`id:<name>`).
    overrides: HashMap<Arc<str>, Override>,
    /// Each source's share of the server while several are active.
    pacer: Pacer,
}

/// One named identity's own limits (`[quota.identities.<name>]`).
struct Override {
    streams: usize,
    in_flight: usize,
    rate: Option<DefaultDirectRateLimiter>,
    requests_per_sec: u32,
}

/// One unit of a source's quota (a connection, a stream, a running request), given back when dropped.
pub(crate) struct Held {
    source: Arc<SourceUse>,
    kind: Kind,
    quotas: Arc<Quotas>,
}

impl Held {
    /// The source's count of this kind, this unit included.
    pub(crate) fn count(&self) -> usize {
        self.quotas.counter(&self.source, self.kind).load(Ordering::Relaxed)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let before = self.quotas.counter(&self.source, self.kind).fetch_sub(1, Ordering::Relaxed);
        if matches!(self.kind, Kind::Request) && before == 1 {
            self.quotas.active.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Quotas {
    /// Quotas as `config` sets them; refusals suggest retrying after `retry_after`.
    pub(crate) fn new(config: &QuotaConfig, retry_after: Duration) -> Self {
        let rate = NonZeroU32::new(config.requests_per_sec).map(|rate| {
            let burst = NonZeroU32::new(config.bucket()).unwrap_or(rate);
            DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        let overrides = config
            .identities
            .iter()
            .map(|(name, over)| {
                let requests_per_sec = over.requests_per_sec.unwrap_or(config.requests_per_sec);
                let burst = match (over.burst, over.requests_per_sec) {
                    (Some(burst), _) => burst,
                    // A rate of its own without a burst: one second's worth of that rate.
                    (None, Some(rate)) => rate,
                    (None, None) => config.bucket(),
                };
                let rate = NonZeroU32::new(requests_per_sec).map(|rate| {
                    let burst = NonZeroU32::new(burst).unwrap_or(rate);
                    DefaultDirectRateLimiter::direct(Quota::per_second(rate).allow_burst(burst))
                });
                let limits = Override {
                    streams: over.streams.unwrap_or(config.streams),
                    in_flight: over.in_flight.unwrap_or(config.in_flight),
                    rate,
                    requests_per_sec,
                };
                (Arc::from(format!("id:{name}")), limits)
            })
            .collect();
        Self {
            connections: config.connections,
            streams: config.streams,
            in_flight: config.in_flight,
            sources: DashMap::new(),
            active: AtomicUsize::new(0),
            rate,
            requests_per_sec: config.requests_per_sec,
            retry_after,
            refusal_delay: Duration::from_millis(config.refusal_delay_ms),
            refused: Default::default(),
            overrides,
            pacer: Pacer::new(config.pace_to_share),
        }
    }

    /// Requests per second the server can serve, as the pacer last measured it (0: unknown).
    pub(crate) fn capacity(&self) -> u64 {
        self.pacer.capacity()
    }

    /// Requests that waited because their source was above its share.
    pub(crate) fn paced(&self) -> u64 {
        self.pacer.paced()
    }

    /// The retry hint of a refusal by a count.
    pub(crate) fn retry_after(&self) -> Duration {
        self.retry_after
    }

    /// How long an over-quota HTTP answer is held before it is sent.
    pub(crate) fn refusal_delay(&self) -> Duration {
        self.refusal_delay
    }

    fn counter<'a>(&self, source: &'a SourceUse, kind: Kind) -> &'a AtomicUsize {
        match kind {
            Kind::Connection => &source.connections,
            Kind::Stream => &source.streams,
            Kind::Request => &source.in_flight,
        }
    }

    fn source(&self, key: &Arc<str>) -> Arc<SourceUse> {
        if let Some(found) = self.sources.get(key) {
            return found.clone();
        }
        self.sources.entry(key.clone()).or_default().clone()
    }

    /// Takes one unit of `kind` for `key`, unless it holds `max` already (0: no cap).
    fn take(self: &Arc<Self>, key: &Arc<str>, kind: Kind, max: usize) -> Option<Held> {
        let source = self.source(key);
        let counter = self.counter(&source, kind);
        let before = if max == 0 {
            counter.fetch_add(1, Ordering::Relaxed)
        } else {
            counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n < max).then_some(n + 1)).ok()?
        };
        if matches!(kind, Kind::Request) && before == 0 {
            self.active.fetch_add(1, Ordering::Relaxed);
        }
        Some(Held { source, kind, quotas: self.clone() })
    }

    /// Counts a refusal by `limit` and returns it.
    pub(crate) fn refuse(&self, refusal: OverQuota) -> OverQuota {
        self.refused[refusal.limit as usize].fetch_add(1, Ordering::Relaxed);
        refusal
    }

    /// A TCP connection from address source `key`.
    pub(crate) fn connection(self: &Arc<Self>, key: &Arc<str>) -> Result<Held, OverQuota> {
        self.take(key, Kind::Connection, self.connections).ok_or_else(|| {
            let detail = format!("{} connections from this address are open", self.connections);
            self.refuse(OverQuota::new(Limit::Connections, detail, self.retry_after))
        })
    }

    /// The limits of source `key` when it is a named identity with its own.
    fn override_of(&self, key: &Arc<str>) -> Option<&Override> {
        if self.overrides.is_empty() { None } else { self.overrides.get(key) }
    }

    /// An event stream or WebSocket connection of source `key`.
    pub(crate) fn stream(self: &Arc<Self>, key: &Arc<str>) -> Result<Held, OverQuota> {
        let max = self.override_of(key).map_or(self.streams, |over| over.streams);
        self.take(key, Kind::Stream, max).ok_or_else(|| {
            let detail = format!("this client holds {max} open streams and WebSocket connections");
            self.refuse(OverQuota::new(Limit::Streams, detail, self.retry_after))
        })
    }

    /// One request of source `key`: within its rate, and a slot among its running requests.
    /// Where the request waits first, when its source is above its share (zero: it runs now).
    pub(crate) fn request(self: &Arc<Self>, key: &Arc<str>) -> Result<(Held, Duration), OverQuota> {
        let over = self.override_of(key);
        let limited = match over {
            Some(over) => over.rate.as_ref().and_then(|rate| {
                let not_until = rate.check().err()?;
                Some((not_until.wait_time_from(rate.clock().now()), over.requests_per_sec))
            }),
            None => self.rate.as_ref().and_then(|rate| {
                let not_until = rate.check_key(key).err()?;
                Some((not_until.wait_time_from(rate.clock().now()), self.requests_per_sec))
            }),
        };
        if let Some((wait, per_sec)) = limited {
            let detail = format!("more than {per_sec} requests per second");
            return Err(self.refuse(OverQuota::new(Limit::Rate, detail, wait.max(Duration::from_millis(1)))));
        }
        let max = over.map_or(self.in_flight, |over| over.in_flight);
        let held = self.take(key, Kind::Request, max).ok_or_else(|| {
            let detail = format!("this client has {max} requests running");
            self.refuse(OverQuota::new(Limit::InFlight, detail, self.retry_after))
        })?;
        let wait = self.pacer.admit(&held.source.pace);
        Ok((held, wait))
    }

    /// Sources with at least one request running.
    pub(crate) fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// Sources known now (holding something, or seen since the last sweep).
    pub(crate) fn sources(&self) -> usize {
        self.sources.len()
    }

    /// Refusals by `limit` so far.
    pub(crate) fn refused(&self, limit: Limit) -> u64 {
        self.refused[limit as usize].load(Ordering::Relaxed)
    }

    /// Forgets sources that hold nothing, and rate-limit state that has
    /// refilled: memory stays bounded by the sources active lately.
    pub(crate) fn sweep(&self) {
        // Under the shard's write lock nobody can clone an entry, so an entry only
        // the map holds, with zero counts, cannot be in use.
        self.sources.retain(|_, source| Arc::strong_count(source) > 1 || !source.is_empty());
        self.sources.shrink_to_fit();
        if let Some(rate) = &self.rate {
            rate.retain_recent();
            rate.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::admission::quota::*;

    fn config() -> QuotaConfig {
        QuotaConfig { connections: 2, streams: 1, in_flight: 2, ..QuotaConfig::default() }
    }

    #[test]
    fn each_source_has_its_own_counts_and_gets_them_back() {
        let quotas = Arc::new(Quotas::new(&config(), Duration::from_secs(1)));
        let (a, b): (Arc<str>, Arc<str>) = ("addr:10.0.0.1".into(), "addr:10.0.0.2".into());
        let (first, _) = quotas.request(&a).expect("room");
        let _second = quotas.request(&a).expect("room");
        let refused = quotas.request(&a).err().expect("a third is over quota");
        assert_eq!(refused.limit, Limit::InFlight);
        assert_eq!(refused.error().data.expect("data")["scope"], "source");
        assert!(quotas.request(&b).is_ok(), "another source is not affected");
        assert_eq!(quotas.active(), 1, "b's request ended with its guard");
        drop(first);
        assert!(quotas.request(&a).is_ok(), "a slot came back");
        assert_eq!(quotas.refused(Limit::InFlight), 1);
    }

    #[test]
    fn swept_sources_are_only_those_holding_nothing() {
        let quotas = Arc::new(Quotas::new(&config(), Duration::from_secs(1)));
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        let held = quotas.stream(&a).expect("room");
        drop(quotas.stream(&b).expect("room"));
        quotas.sweep();
        assert_eq!(quotas.sources(), 1);
        assert!(quotas.stream(&a).is_err(), "a still holds its one stream");
        drop(held);
        quotas.sweep();
        assert_eq!(quotas.sources(), 0);
    }

    #[test]
    fn a_named_identity_has_its_own_limits() {
        let text = "requests_per_sec = 2\nin_flight = 1\n[identities.batch]\nrequests_per_sec = 100\nin_flight = 3";
        let config: QuotaConfig = toml::from_str(text).expect("quota config");
        let quotas = Arc::new(Quotas::new(&config, Duration::from_secs(1)));
        let (batch, other): (Arc<str>, Arc<str>) = ("id:batch".into(), "id:other".into());
        let held: Vec<Held> = (0..3).map(|_| quotas.request(&batch).expect("batch: three at once").0).collect();
        assert_eq!(quotas.request(&batch).err().expect("a fourth").limit, Limit::InFlight);
        drop(held);
        for _ in 0..20 {
            drop(quotas.request(&batch).expect("batch: well within 100/s"));
        }
        drop(quotas.request(&other).expect("the default burst: 2"));
        drop(quotas.request(&other).expect("the default burst: 2"));
        assert_eq!(quotas.request(&other).err().expect("past 2/s").limit, Limit::Rate);
    }

    #[test]
    fn the_rate_limit_refuses_past_the_burst_with_a_wait() {
        let config = QuotaConfig { requests_per_sec: 10, burst: 3, ..QuotaConfig::default() };
        let quotas = Arc::new(Quotas::new(&config, Duration::from_secs(1)));
        let key: Arc<str> = "a".into();
        for _ in 0..3 {
            drop(quotas.request(&key).expect("within the burst"));
        }
        let refused = quotas.request(&key).err().expect("past the burst");
        assert_eq!(refused.limit, Limit::Rate);
        assert!(refused.retry_after <= Duration::from_millis(100), "one token refills in 100 ms");
    }
}
