//! Where audit lines go: a file (reopened on request) or stderr, written by a thread
//! of its own from a bounded queue.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};

use crate::error::{Error, Result};

/// Lines queued for the writer before new ones are dropped (and counted): a disk that
/// falls this far behind must not stall the requests being audited.
const QUEUE: usize = 65_536;

/// What the writer thread is asked to do.
enum Job {
    Line(Vec<u8>),
    Reopen,
}

/// The queue to the writer thread, and what it counts.
pub(super) struct Sink {
    queue: SyncSender<Job>,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    dropped: AtomicU64,
    write_errors: AtomicU64,
}

/// Where the writer writes.
enum Target {
    File { path: PathBuf, out: BufWriter<File> },
    Stderr,
}

impl Sink {
    /// Appends to `path` (created when missing); fails now if it cannot be opened.
    pub(super) fn file(path: PathBuf) -> Result<Self> {
        let out = BufWriter::new(open(&path)?);
        Ok(Self::start(Target::File { path, out }))
    }

    /// Writes to stderr.
    pub(super) fn stderr() -> Self {
        Self::start(Target::Stderr)
    }

    fn start(target: Target) -> Self {
        let (queue, jobs) = sync_channel(QUEUE);
        let counts = Arc::new(Counts::default());
        let writer_counts = counts.clone();
        let spawned = std::thread::Builder::new()
            .name("berth-audit".into())
            .spawn(move || write_until_closed(target, &jobs, &writer_counts));
        if let Err(e) = spawned {
            tracing::error!("cannot start the audit writer: {e}; audit events will be counted as dropped");
        }
        Self { queue, counts }
    }

    /// Queues `line`; counts it as dropped when the queue is full.
    pub(super) fn write(&self, line: Vec<u8>) {
        match self.queue.try_send(Job::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                if self.counts.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::error!("audit events are being dropped: the audit sink does not keep up");
                }
            }
        }
    }

    /// Asks the writer to reopen its file.
    pub(super) fn reopen(&self) {
        let _ = self.queue.try_send(Job::Reopen);
    }

    pub(super) fn dropped(&self) -> u64 {
        self.counts.dropped.load(Ordering::Relaxed)
    }

    pub(super) fn write_errors(&self) -> u64 {
        self.counts.write_errors.load(Ordering::Relaxed)
    }
}

fn open(path: &PathBuf) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| Error::Io { what: format!("cannot open the audit file {}", path.display()), source })
}

/// The writer: lines as they come, flushed whenever the queue runs empty (so a line is
/// on disk within moments of its request, and a burst costs one write).
fn write_until_closed(mut target: Target, jobs: &Receiver<Job>, counts: &Counts) {
    let failed = |e: std::io::Error| {
        if counts.write_errors.fetch_add(1, Ordering::Relaxed) == 0 {
            tracing::error!("cannot write the audit trail: {e}");
        }
    };
    while let Ok(first) = jobs.recv() {
        let mut job = first;
        loop {
            match (job, &mut target) {
                (Job::Line(line), Target::File { out, .. }) => out.write_all(&line).unwrap_or_else(failed),
                (Job::Line(line), Target::Stderr) => std::io::stderr().lock().write_all(&line).unwrap_or_else(failed),
                (Job::Reopen, Target::File { path, out }) => {
                    out.flush().unwrap_or_else(failed);
                    match open(path) {
                        Ok(file) => *out = BufWriter::new(file),
                        Err(e) => tracing::error!("audit: {e}; still writing to the file open before"),
                    }
                }
                (Job::Reopen, Target::Stderr) => {}
            }
            job = match jobs.try_recv() {
                Ok(next) => next,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            };
        }
        if let Target::File { out, .. } = &mut target {
            out.flush().unwrap_or_else(failed);
        }
    }
}
