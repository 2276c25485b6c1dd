//! Exporting finished spans without ever making a request wait: a bounded queue the spans
//! go into (a full queue drops the span and counts it), and one task on berth's runtime that
//! sends them to the collector in batches.
//!
//! The SDK's own batch processor runs the exporter on a thread of its own, where the async
//! HTTP and gRPC clients have no runtime; this one exports on the server's runtime, and
//! counts what it drops for `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use tokio::sync::{Notify, mpsc};

use crate::sync::lock;

/// Spans sent to the collector in one request at most.
const BATCH: usize = 512;
/// How long a finished span waits for others to fill its batch.
const LINGER: Duration = Duration::from_secs(1);

/// What the export counted so far.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    /// Spans the queue was too full to take.
    pub dropped: AtomicU64,
    /// Spans the collector accepted.
    pub exported: AtomicU64,
    /// Spans in batches the collector refused or did not answer.
    pub failed: AtomicU64,
}

/// The span processor: finished spans into the queue.
#[derive(Debug)]
pub(crate) struct Queue {
    spans: mpsc::Sender<SpanData>,
    counts: Arc<Counts>,
    /// Cancelled to flush what is queued and stop; notified once that is done.
    stop: Arc<Notify>,
    stopped: Arc<Notify>,
}

/// The receiving side, until the exporter starts on the runtime.
pub(crate) struct Pending {
    spans: mpsc::Receiver<SpanData>,
    counts: Arc<Counts>,
    stop: Arc<Notify>,
    stopped: Arc<Notify>,
}

/// A queue of `capacity` spans, and what will export it.
pub(crate) fn queue(capacity: usize) -> (Queue, Pending, Arc<Counts>) {
    let (sender, receiver) = mpsc::channel(capacity.max(1));
    let counts = Arc::new(Counts::default());
    let (stop, stopped) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let queue = Queue { spans: sender, counts: counts.clone(), stop: stop.clone(), stopped: stopped.clone() };
    let pending = Pending { spans: receiver, counts: counts.clone(), stop, stopped };
    (queue, pending, counts)
}

impl SpanProcessor for Queue {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if self.spans.try_send(span).is_err() {
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        // `telemetry::shutdown` flushes on the runtime; the provider's own call finds it done.
        Ok(())
    }
}

impl Pending {
    /// Exports what the queue receives through `exporter`, with `resource`, until stopped
    /// (what is queued then is sent first). Runs on the server's runtime.
    pub(crate) async fn run<E: SpanExporter>(self, mut exporter: E, resource: Resource) {
        let Pending { mut spans, counts, stop, stopped } = self;
        exporter.set_resource(&resource);
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let stopping = tokio::select! {
                received = spans.recv_many(&mut batch, BATCH) => received == 0,
                () = stop.notified() => true,
            };
            if !stopping && batch.len() < BATCH {
                // Let the batch fill a little: one request per burst, not per span.
                let _ = tokio::time::timeout(LINGER, async {
                    while batch.len() < BATCH {
                        let room = BATCH - batch.len();
                        if spans.recv_many(&mut batch, room).await == 0 {
                            break;
                        }
                    }
                })
                .await;
            }
            if stopping {
                while let Ok(span) = spans.try_recv() {
                    batch.push(span);
                }
            }
            for chunk in std::mem::take(&mut batch).chunks(BATCH) {
                let n = chunk.len() as u64;
                match exporter.export(chunk.to_vec()).await {
                    Ok(()) => counts.exported.fetch_add(n, Ordering::Relaxed),
                    Err(e) => {
                        report(&e);
                        counts.failed.fetch_add(n, Ordering::Relaxed)
                    }
                };
            }
            if stopping {
                let _ = exporter.shutdown();
                stopped.notify_one();
                return;
            }
        }
    }
}

impl Queue {
    /// The handles `telemetry::shutdown` stops the export with.
    pub(crate) fn stop_handles(&self) -> (Arc<Notify>, Arc<Notify>) {
        (self.stop.clone(), self.stopped.clone())
    }
}

/// Says why an export failed, once a minute at most: a collector that is down would
/// otherwise fill the log.
fn report(error: &OTelSdkError) {
    static LAST: Mutex<Option<std::time::Instant>> = Mutex::new(None);
    let mut last = lock(&LAST);
    if last.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
        *last = Some(std::time::Instant::now());
        tracing::warn!("trace export failed (spans are dropped until the collector answers): {error}");
    }
}
