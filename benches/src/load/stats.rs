//! What a run measured: latency histograms (HDR), answers by kind, and the
//! per-second timeline the report draws.
//!
//! Workers record into a local [`Recorder`] and flush it into the shared
//! [`Window`] a few times a second, so the hot path takes no lock.

use std::collections::BTreeMap;
use std::sync::Mutex;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// A latency histogram in microseconds, 1 µs to 60 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| Histogram::new(3).expect("a histogram"))
}

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A result without `isError`.
    Ok,
    /// A result with `isError` (the tool failed: trap, deadline, ...).
    ToolError,
    /// A JSON-RPC error code.
    Rpc(i64),
    /// An HTTP status other than 200.
    Http(u16),
    /// No answer within the timeout.
    Timeout,
    /// The connection failed (refused, reset, closed).
    Connection(String),
}

impl Outcome {
    /// The key counted in "errors by kind" (`None` for success).
    pub fn error_kind(&self) -> Option<String> {
        match self {
            Outcome::Ok => None,
            Outcome::ToolError => Some("is_error".into()),
            Outcome::Rpc(code) => Some(format!("rpc_{code}")),
            Outcome::Http(status) => Some(format!("http_{status}")),
            Outcome::Timeout => Some("timeout".into()),
            Outcome::Connection(kind) => Some(format!("connection_{kind}")),
        }
    }
}

/// Counts since the last flush.
#[derive(Debug, Clone)]
pub struct Counts {
    pub latency: Histogram<u64>,
    pub sent: u64,
    pub answered: u64,
    pub ok: u64,
    /// Calls dropped on purpose by a disconnect storm.
    pub dropped: u64,
    pub errors: BTreeMap<String, u64>,
}

impl Default for Counts {
    fn default() -> Self {
        Self { latency: histogram(), sent: 0, answered: 0, ok: 0, dropped: 0, errors: BTreeMap::new() }
    }
}

impl Counts {
    /// Adds `other` into these counts.
    pub fn merge(&mut self, other: &Counts) {
        let _ = self.latency.add(&other.latency);
        self.sent += other.sent;
        self.answered += other.answered;
        self.ok += other.ok;
        self.dropped += other.dropped;
        for (kind, n) in &other.errors {
            *self.errors.entry(kind.clone()).or_default() += n;
        }
    }

    /// Errors of every kind.
    pub fn error_total(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Latency percentiles in milliseconds.
    pub fn latency_json(&self) -> Value {
        let ms = |q: f64| self.latency.value_at_quantile(q) as f64 / 1000.0;
        if self.latency.is_empty() {
            return json!(null);
        }
        json!({
            "p50": ms(0.50), "p90": ms(0.90), "p95": ms(0.95), "p99": ms(0.99), "p999": ms(0.999),
            "max": self.latency.max() as f64 / 1000.0, "mean": self.latency.mean() / 1000.0,
        })
    }
}

/// A worker's local counts, flushed into a [`Window`].
#[derive(Default)]
pub struct Recorder {
    pub counts: Counts,
}

impl Recorder {
    pub fn sent(&mut self) {
        self.counts.sent += 1;
    }

    /// Records an answered (or failed) request that took `micros`.
    pub fn record(&mut self, outcome: &Outcome, micros: u64) {
        match outcome.error_kind() {
            None => {
                self.counts.ok += 1;
                self.counts.answered += 1;
                let _ = self.counts.latency.record(micros.max(1));
            }
            Some(kind) => {
                if !matches!(outcome, Outcome::Timeout | Outcome::Connection(_)) {
                    self.counts.answered += 1;
                    let _ = self.counts.latency.record(micros.max(1));
                }
                *self.counts.errors.entry(kind).or_default() += 1;
            }
        }
    }

    pub fn dropped(&mut self, calls: u64) {
        self.counts.dropped += calls;
    }

    /// Moves the local counts into `window`.
    pub fn flush(&mut self, window: &Window) {
        let counts = std::mem::take(&mut self.counts);
        window.lock().merge(&counts);
    }
}

/// The counts of the current second, shared by every worker.
#[derive(Default)]
pub struct Window(Mutex<Counts>);

impl Window {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes what accumulated and starts again.
    pub fn take(&self) -> Counts {
        std::mem::take(&mut *self.lock())
    }
}

/// One second of the run.
#[derive(Debug, Clone)]
pub struct Point {
    pub second: f64,
    pub step: usize,
    pub connections: usize,
    pub counts: Counts,
    pub server_rss: Option<u64>,
    pub server_cpu: Option<f64>,
    pub client_cpu: Option<f64>,
    /// The generator's worst timer lag in this second (ms).
    pub client_lag_ms: f64,
}

impl Point {
    pub fn to_json(&self) -> Value {
        json!({
            "t": self.second,
            "step": self.step,
            "connections": self.connections,
            "answered": self.counts.answered,
            "ok": self.counts.ok,
            "errors": self.counts.error_total(),
            "dropped": self.counts.dropped,
            "latency_ms": self.counts.latency_json(),
            "server_rss_bytes": self.server_rss,
            "server_cpu_percent": self.server_cpu,
            "client_cpu_percent": self.client_cpu,
            "client_lag_ms_max": self.client_lag_ms,
        })
    }
}
