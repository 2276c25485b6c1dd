//! Event logs copied to Redis streams so another replica can replay them: a
//! legacy session's streamed answers (`<prefix>events:<session>:<stream>`) and a
//! 2025-11-25 task's questions for its client (`<prefix>task-questions:<task>`).
//!
//! The replica writing a log appends each event in order from a background task
//! (the log never waits for Redis), keeping the last [`KEPT_EVENTS`] and pushing
//! the key's expiry back; a replica reading it polls for what was added since,
//! until the log is complete, the reader stops, or nothing comes for a minute.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::BoxStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cluster::error::ClusterResult;
use crate::cluster::link::Link;
use crate::session::event_log::{Event, KEPT_EVENTS};
use crate::session::{Mirror, Mirrored};

/// How often a replay asks Redis for events the writing replica added since.
const REPLAY_POLL: Duration = Duration::from_millis(50);
/// A resumed stream with nothing new for this long ends (the client reconnects if it must).
pub(crate) const REPLAY_QUIET: Duration = Duration::from_secs(60);

/// A writer that appends one log's events to the Redis stream `key` in order, the key
/// expiring `keep_ms` after the last event.
pub(crate) fn mirror(link: &Arc<Link>, key: String, keep_ms: u64) -> Mirror {
    let (sender, mut items) = mpsc::unbounded_channel::<Mirrored>();
    let link = link.clone();
    tokio::spawn(async move {
        while let Some(item) = items.recv().await {
            let mut add = redis::cmd("XADD");
            add.arg(&key).arg("MAXLEN").arg("~").arg(KEPT_EVENTS).arg("*");
            match item {
                Mirrored::Event((seq, text)) => add.arg("seq").arg(seq).arg("data").arg(&*text),
                Mirrored::Done => add.arg("done").arg(1),
            };
            if let Err(e) = link.query::<String>(&add).await {
                tracing::debug!(stream = %key, "event not copied to Redis: {e}");
                continue;
            }
            let _ = link.query::<i64>(redis::cmd("PEXPIRE").arg(&key).arg(keep_ms)).await;
        }
    });
    Box::new(move |item| {
        let _ = sender.send(item);
    })
}

/// Where a replay is in a log another replica writes.
struct Cursor {
    link: Arc<Link>,
    key: String,
    /// The Redis stream id to read after (exclusive), `-` at first.
    from: String,
    /// The last sequence number the reader saw.
    after: u64,
    pending: VecDeque<Event>,
    quiet_since: tokio::time::Instant,
    /// How long nothing new may come before the replay ends.
    quiet: Duration,
    ended: CancellationToken,
    complete: bool,
}

impl Cursor {
    /// The next event, reading more from Redis as needed; `None` at the end.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.complete || self.ended.is_cancelled() || self.quiet_since.elapsed() >= self.quiet {
                return None;
            }
            let range = redis::cmd("XRANGE").arg(&self.key).arg(&self.from).arg("+").arg("COUNT").arg(100).to_owned();
            let entries: Vec<(String, Vec<String>)> = self.link.query(&range).await.ok()?;
            if entries.is_empty() {
                tokio::time::sleep(REPLAY_POLL).await;
                continue;
            }
            self.quiet_since = tokio::time::Instant::now();
            for (id, fields) in entries {
                self.from = format!("({id}");
                let field = |name: &str| fields.chunks(2).find(|kv| kv[0] == name).and_then(|kv| kv.get(1)).cloned();
                if field("done").is_some() {
                    // Complete: hand out what is pending, then end.
                    self.complete = true;
                    break;
                }
                if let (Some(seq), Some(data)) = (field("seq").and_then(|s| s.parse::<u64>().ok()), field("data"))
                    && seq > self.after
                {
                    self.pending.push_back((seq, data.into()));
                }
            }
        }
    }
}

/// The events of the log in Redis stream `key` after sequence number `after`, live until
/// it is complete, `ended` fires, or nothing comes for `quiet`; `None` when no replica
/// wrote it (or it expired).
pub(crate) async fn replay(
    link: &Arc<Link>,
    key: String,
    after: u64,
    ended: CancellationToken,
    quiet: Duration,
) -> ClusterResult<Option<BoxStream<'static, Event>>> {
    let exists: i64 = link.query(redis::cmd("EXISTS").arg(&key)).await?;
    if exists == 0 {
        return Ok(None);
    }
    Ok(Some(follow(link, key, after, ended, quiet)))
}

/// The events of the log in Redis stream `key` after sequence number `after`, as they are
/// written (the log may not exist yet), until it is complete, `ended` fires, or nothing
/// comes for `quiet`.
pub(crate) fn follow(
    link: &Arc<Link>,
    key: String,
    after: u64,
    ended: CancellationToken,
    quiet: Duration,
) -> BoxStream<'static, Event> {
    let cursor = Cursor {
        link: link.clone(),
        key,
        from: "-".to_owned(),
        after,
        pending: VecDeque::new(),
        quiet_since: tokio::time::Instant::now(),
        quiet,
        ended,
        complete: false,
    };
    Box::pin(futures_util::stream::unfold(cursor, |mut cursor| async move {
        let event = cursor.next().await?;
        Some((event, cursor))
    }))
}
