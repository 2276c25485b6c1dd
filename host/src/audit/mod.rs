//! The audit trail: one JSON line per tool call, resource read and prompt get, saying
//! who (identity, never a token), from where, what, how it ended, how long it took.
//!
//! Events go to a sink apart from the logs (`[audit] file` or stderr), written by a
//! thread of their own so a slow disk never holds a request; they are counted by
//! outcome in `/metrics`.

mod event;
mod sink;

use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) use event::{Event, Outcome};
use sink::Sink;

use crate::config::AuditConfig;
use crate::error::Result;

/// The methods the trail records.
pub(crate) const AUDITED: [&str; 3] = ["tools/call", "resources/read", "prompts/get"];

/// The audit trail of one server.
pub(crate) struct Audit {
    sink: Sink,
    /// Events by outcome, in [`Outcome::ALL`] order.
    counts: [AtomicU64; Outcome::ALL.len()],
}

/// What `/metrics` shows of the trail.
#[derive(Debug, Clone)]
pub(crate) struct AuditCounts {
    /// Events written or queued, by outcome label.
    pub(crate) by_outcome: Vec<(&'static str, u64)>,
    /// Events lost because the sink's queue was full.
    pub(crate) dropped: u64,
    /// Writes the sink failed (disk full, file removed without a SIGHUP).
    pub(crate) write_errors: u64,
}

impl Audit {
    /// The trail `config` asks for; `None` when it sets no sink.
    pub(crate) fn from_config(config: &AuditConfig) -> Result<Option<Self>> {
        let sink = match (&config.file, config.stderr) {
            (Some(path), _) => Sink::file(path.clone())?,
            (None, true) => Sink::stderr(),
            (None, false) => return Ok(None),
        };
        Ok(Some(Self { sink, counts: Default::default() }))
    }

    /// Records `event`.
    pub(crate) fn record(&self, event: &Event<'_>) {
        self.counts[event.outcome as usize].fetch_add(1, Ordering::Relaxed);
        self.sink.write(event.to_line());
    }

    /// Closes and reopens the file (after logrotate moved it); nothing for stderr.
    pub(crate) fn reopen(&self) {
        self.sink.reopen();
    }

    /// The counts for `/metrics`.
    pub(crate) fn counts(&self) -> AuditCounts {
        AuditCounts {
            by_outcome: Outcome::ALL
                .iter()
                .map(|o| (o.label(), self.counts[*o as usize].load(Ordering::Relaxed)))
                .collect(),
            dropped: self.sink.dropped(),
            write_errors: self.sink.write_errors(),
        }
    }
}
