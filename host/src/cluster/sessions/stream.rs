//! Streamed answers shared through Redis: each one's events copied to a Redis
//! stream (`<prefix>events:<session>:<stream>`, the last [`KEPT_EVENTS`],
//! expiring with the session), so a client that reconnects with `Last-Event-ID`
//! to another replica gets what it missed and the rest as it comes.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cluster::error::ClusterResult;
use crate::cluster::sessions::core::Core;
use crate::session::event_log::{Event, KEPT_EVENTS};
use crate::session::{Mirror, Mirrored, Replay};

/// How often a replayed stream asks Redis for events the streaming replica added since.
const REPLAY_POLL: Duration = Duration::from_millis(50);
/// A replayed stream with nothing new for this long ends (the client reconnects if it must).
const REPLAY_QUIET: Duration = Duration::from_secs(60);

fn events_key(core: &Core, session: &str, stream: &str) -> String {
    core.link.key(&format!("events:{session}:{stream}"))
}

/// A writer that appends one stream's events to Redis in order (a background task,
/// so the stream never waits for Redis).
pub(super) fn mirror(core: &Arc<Core>, session: &str, stream: &str) -> Mirror {
    let (sender, mut items) = mpsc::unbounded_channel::<Mirrored>();
    let (core, key) = (core.clone(), events_key(core, session, stream));
    tokio::spawn(async move {
        while let Some(item) = items.recv().await {
            let mut add = redis::cmd("XADD");
            add.arg(&key).arg("MAXLEN").arg("~").arg(KEPT_EVENTS).arg("*");
            match item {
                Mirrored::Event((seq, text)) => add.arg("seq").arg(seq).arg("data").arg(&*text),
                Mirrored::Done => add.arg("done").arg(1),
            };
            if let Err(e) = core.link.query::<String>(&add).await {
                tracing::debug!(stream = %key, "stream event not copied to Redis: {e}");
                continue;
            }
            let _ = core.link.query::<i64>(redis::cmd("PEXPIRE").arg(&key).arg(core.idle_ms())).await;
        }
    });
    Box::new(move |item| {
        let _ = sender.send(item);
    })
}

/// Where a replay is in another replica's stream.
struct Cursor {
    core: Arc<Core>,
    key: String,
    /// The Redis stream id to read after (exclusive), `-` at first.
    from: String,
    /// The last sequence number the client saw.
    after: u64,
    pending: VecDeque<Event>,
    quiet_since: tokio::time::Instant,
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
            if self.complete || self.ended.is_cancelled() || self.quiet_since.elapsed() >= REPLAY_QUIET {
                return None;
            }
            let range = redis::cmd("XRANGE").arg(&self.key).arg(&self.from).arg("+").arg("COUNT").arg(100).to_owned();
            let entries: Vec<(String, Vec<String>)> = self.core.link.query(&range).await.ok()?;
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

/// The events of another replica's stream after `event_id` (`<stream>:<n>`), live until
/// that stream is complete, `ended` fires, or nothing comes for a minute; `None` when no
/// replica streamed it (or it expired).
pub(super) async fn replay(
    core: &Arc<Core>,
    session: &str,
    event_id: &str,
    ended: CancellationToken,
) -> ClusterResult<Option<Replay>> {
    let Some((stream, after)) = event_id.split_once(':').and_then(|(s, n)| Some((s, n.parse::<u64>().ok()?))) else {
        return Ok(None);
    };
    let key = events_key(core, session, stream);
    let exists: i64 = core.link.query(redis::cmd("EXISTS").arg(&key)).await?;
    if exists == 0 {
        return Ok(None);
    }
    let cursor = Cursor {
        core: core.clone(),
        key,
        from: "-".to_owned(),
        after,
        pending: VecDeque::new(),
        quiet_since: tokio::time::Instant::now(),
        ended,
        complete: false,
    };
    let events = futures_util::stream::unfold(cursor, |mut cursor| async move {
        let event = cursor.next().await?;
        Some((event, cursor))
    });
    Ok(Some((stream.to_owned(), Box::pin(events))))
}
