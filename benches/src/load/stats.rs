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
    /// Open loop: how late each call left the generator after its intended send time (µs).
    /// The generator's own lag, which every latency measured from the intended time includes.
    pub send_lag: Histogram<u64>,
    /// How late each WebSocket worker woke to close its connection, shortly after the run's
    /// end (µs): how long the generator takes to reach all its connections when every one of
    /// them closes at once.
    pub close_wake_lag: Histogram<u64>,
}

impl Default for Counts {
    fn default() -> Self {
        Self {
            latency: histogram(),
            sent: 0,
            answered: 0,
            ok: 0,
            dropped: 0,
            errors: BTreeMap::new(),
            send_lag: histogram(),
            close_wake_lag: histogram(),
        }
    }
}

impl Counts {
    /// Adds `other` into these counts.
    pub fn merge(&mut self, other: &Counts) {
        let _ = self.latency.add(&other.latency);
        let _ = self.send_lag.add(&other.send_lag);
        let _ = self.close_wake_lag.add(&other.close_wake_lag);
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
        percentiles_ms(&self.latency)
    }

    /// The generator's send lag in milliseconds (null in a closed loop, where there is none).
    pub fn send_lag_json(&self) -> Value {
        percentiles_ms(&self.send_lag)
    }

    /// The workers' wake-up lag at closing time in milliseconds (null before it).
    pub fn close_wake_lag_json(&self) -> Value {
        percentiles_ms(&self.close_wake_lag)
    }
}

/// Percentiles of a histogram of microseconds, in milliseconds; null when it is empty.
fn percentiles_ms(histogram: &Histogram<u64>) -> Value {
    if histogram.is_empty() {
        return json!(null);
    }
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    json!({
        "p50": ms(0.50), "p90": ms(0.90), "p95": ms(0.95), "p99": ms(0.99), "p999": ms(0.999),
        "max": histogram.max() as f64 / 1000.0, "mean": histogram.mean() / 1000.0,
    })
}

/// A worker's local counts and samples, flushed into a [`Window`].
///
/// Samples, not histograms: an HDR histogram of 1 µs to 60 s holds ~140 KB of buckets, and
/// 15,000 workers each taking a fresh one at every flush would spend the generator's CPU
/// clearing memory (it did: seconds of lag at 15,000 connections). The shared window's
/// histograms take the samples instead, under its lock, a few times a second per worker.
#[derive(Default)]
pub struct Recorder {
    sent: u64,
    answered: u64,
    ok: u64,
    dropped: u64,
    errors: BTreeMap<String, u64>,
    latency: Vec<u64>,
    send_lag: Vec<u64>,
    close_wake_lag: Vec<u64>,
}

impl Recorder {
    pub fn sent(&mut self) {
        self.sent += 1;
    }

    /// Records an answered (or failed) request that took `micros`.
    pub fn record(&mut self, outcome: &Outcome, micros: u64) {
        match outcome.error_kind() {
            None => {
                self.ok += 1;
                self.answered += 1;
                self.latency.push(micros);
            }
            Some(kind) => {
                if !matches!(outcome, Outcome::Timeout | Outcome::Connection(_)) {
                    self.answered += 1;
                    self.latency.push(micros);
                }
                *self.errors.entry(kind).or_default() += 1;
            }
        }
    }

    /// A call left `micros` after its intended send time (open loop).
    pub fn sent_late(&mut self, micros: u64) {
        self.send_lag.push(micros);
    }

    /// The worker first ran `micros` after its closing time.
    pub fn woke_to_close(&mut self, micros: u64) {
        self.close_wake_lag.push(micros);
    }

    pub fn dropped(&mut self, calls: u64) {
        self.dropped += calls;
    }

    /// Moves the local counts and samples into `window`.
    pub fn flush(&mut self, window: &Window) {
        let mut counts = window.lock();
        counts.sent += std::mem::take(&mut self.sent);
        counts.answered += std::mem::take(&mut self.answered);
        counts.ok += std::mem::take(&mut self.ok);
        counts.dropped += std::mem::take(&mut self.dropped);
        for (kind, n) in std::mem::take(&mut self.errors) {
            *counts.errors.entry(kind).or_default() += n;
        }
        let Counts { latency, send_lag, close_wake_lag, .. } = &mut *counts;
        for (histogram, samples) in
            [(latency, &mut self.latency), (send_lag, &mut self.send_lag), (close_wake_lag, &mut self.close_wake_lag)]
        {
            for micros in samples.drain(..) {
                let _ = histogram.record(micros.max(1));
            }
        }
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
            "send_lag_ms": self.counts.send_lag_json(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flush_moves_counts_and_samples_into_the_window_and_starts_again() {
        let window = Window::default();
        let mut recorder = Recorder::default();
        recorder.sent();
        recorder.sent();
        recorder.record(&Outcome::Ok, 1_500);
        recorder.record(&Outcome::Rpc(-32000), 0);
        recorder.record(&Outcome::Timeout, 9_000);
        recorder.sent_late(250);
        recorder.woke_to_close(40_000);
        recorder.flush(&window);
        recorder.sent();
        recorder.record(&Outcome::Ok, 3_000);
        recorder.flush(&window);

        let counts = window.take();
        assert_eq!((counts.sent, counts.answered, counts.ok), (3, 3, 2));
        assert_eq!(counts.errors.get("rpc_-32000"), Some(&1));
        assert_eq!(counts.errors.get("timeout"), Some(&1));
        // A timeout is no answer: its latency is not recorded; an error answer's is (0 µs → 1).
        assert_eq!(counts.latency.len(), 3);
        assert_eq!(counts.latency.max(), counts.latency.highest_equivalent(3_000));
        assert_eq!(counts.send_lag_json()["max"], json!(counts.send_lag.highest_equivalent(250) as f64 / 1000.0));
        assert_eq!(counts.close_wake_lag.len(), 1);
        // The window started again after the take.
        assert_eq!(window.take().sent, 0);
    }

    #[test]
    fn a_closed_loop_has_no_send_lag() {
        assert_eq!(Counts::default().send_lag_json(), Value::Null);
    }
}
